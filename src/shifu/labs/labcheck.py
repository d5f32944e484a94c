"""Answer checks for the analysis labs that compare like an analyst.

A correct answer can come in many shapes: columns in another order, a key as index, as a column or
as both, ints where floats were expected, a Series instead of a one-column frame, an extra 合计 row
or column, a figure rounded to the precision a report shows (rates to 0.01, money to the yuan).
These helpers accept all of them and reject the wrong ones, including a right number on the wrong
scale (NPS 0.206 where points, 20.6, were asked). On a difference they print a short hint to stdout
that names the kind of difference (missing column, wrong rows, too coarse, wrong scale) without
giving the expected value. They never write to stderr or raise: in nbgrader stderr zeroes a cell.

`Parts` gives partial credit in a multi-part test cell: each part is checked on its own, every
failure is named, and the cell's last output is the points earned (nbgrader's partial credit).

Precision, summary labels and every sentence come from grader/labcheck.yaml.
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shifu.content import paths


_CONFIG_KEYS = {"precision": dict, "summary_labels": list, "scales": dict, "messages": dict}


def _read_config(path: Path) -> dict[str, Any]:
    from shifu.content.errors import Problem, ShifuError, display_path
    from shifu.content.yamlio import line_for, load_yaml

    data, lines = load_yaml(path)
    shown = display_path(path)
    if not isinstance(data, dict):
        raise ShifuError([Problem(shown, "(top level)", "must be a mapping", "restore it from the repository", 1)])
    problems = [Problem(shown, key, f"must be a {kind.__name__}" if key in data else "required field is missing",
                        "restore it from the repository's grader/labcheck.yaml", line_for(lines, (key,)))
                for key, kind in _CONFIG_KEYS.items() if not isinstance(data.get(key), kind)]
    if problems:
        raise ShifuError(problems)
    return data


def config() -> dict[str, Any]:
    """grader/labcheck.yaml: {precision: {kind: {decimals, integer?}}, summary_labels, scales, messages};
    re-read when the file changes; ShifuError naming the file, field and line when a section is missing."""
    from shifu.content.yamlio import cached_by_file  # imported here: a trainee's kernel imports labcheck and stays light

    return cached_by_file(paths.grader_dir() / "labcheck.yaml", _read_config)


def _msg(key: str, **fields: Any) -> str:
    return str(config()["messages"][key]).format(**fields)


def _decimals(kind: str | None) -> int | None:
    """Fewest decimals allowed for a figure of `kind`; None (no kind) means compare with rtol/atol only."""
    if kind is None:
        return None
    precision = config()["precision"]
    if kind not in precision:
        raise KeyError(f"grader/labcheck.yaml: precision has no kind {kind!r}; add it or use one of {sorted(precision)}")
    return int(precision[kind]["decimals"])


# which scale a kind is asked on, for the wrong-scale hint (names in labcheck.yaml: scales)
_KIND_SCALE = {"rate": "fraction", "share": "fraction", "points": "points"}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings (pandas, numpy) inside a test cell, so only a wrong answer can zero it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def _hint(explain: bool, message: str) -> None:
    if explain:
        print(f"{config()['messages']['prefix']}{message}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating, np.bool_, bool)) and not isinstance(x, str)


def _scalar(x: Any) -> Any:
    if isinstance(x, (pd.Series, pd.DataFrame, np.ndarray)) and np.size(x) == 1:
        return np.asarray(x).reshape(-1)[0]
    return x


def _rounded_to(value: float) -> int | None:
    """Smallest number of decimals (0–12) `value` is written with; None when it is not rounded at all."""
    for d in range(13):
        if abs(value - round(value, d)) <= 1e-12 * max(1.0, abs(value)):
            return d
    return None


def _compare(value: float, expected: float, decimals: int | None, rtol: float, atol: float) -> str:
    """'ok', 'coarse' (right but rounded to fewer decimals than allowed) or 'wrong'.

    A value rounded to d ≥ `decimals` decimals is right when it is within half a unit of the d-th
    decimal of `expected` (so either neighbour of an exact half counts: 0.0088 and 0.0089 for 0.00885).
    """
    if math.isnan(expected) or math.isnan(value):
        return "ok" if math.isnan(expected) and math.isnan(value) else "wrong"
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        return "ok"
    if decimals is None:
        return "wrong"
    d0 = _rounded_to(value)
    if d0 is None:
        return "wrong"
    half = 0.5 * 10.0 ** -max(d0, decimals) * (1 + 1e-9) + 1e-12 * max(1.0, abs(expected))
    if abs(value - expected) <= half:
        return "ok"
    if d0 < decimals and abs(value - expected) <= 0.5 * 10.0 ** -d0 * (1 + 1e-9):
        return "coarse"
    return "wrong"


def _judge(value: float, expected: float, kind: str | None, rtol: float, atol: float,
           percent_ok: bool) -> tuple[str, str | None]:
    """('ok' | 'coarse' | 'scale' | 'wrong', the scale the value seems to be on when 'scale')."""
    decimals = _decimals(kind)
    if kind is not None and config()["precision"][kind].get("integer") and value != round(value):
        return "wrong", None
    verdict = _compare(value, expected, decimals, rtol, atol)
    if verdict != "wrong":
        return verdict, None
    if percent_ok:
        pct = _compare(value, expected * 100, None if decimals is None else max(decimals - 2, 0), rtol, atol)
        if pct != "wrong":
            return pct, None
    if kind in (None, "count", "exact") or expected == 0:
        return "wrong", None
    shifted = None if decimals is None else max(decimals - 2, 0)
    if _compare(value, expected * 100, shifted, rtol, atol) == "ok":
        return "scale", "percent" if _KIND_SCALE.get(kind) != "points" else "points"
    if _compare(value, expected / 100, None if decimals is None else decimals + 2, rtol, atol) == "ok":
        return "scale", "fraction"
    return "wrong", None


def _scale_names(kind: str | None, got: str | None) -> dict[str, str]:
    scales = config()["scales"]
    want = _KIND_SCALE.get(kind or "", "fraction" if got != "fraction" else "percent")
    return {"got_scale": scales.get(got or "", got or ""), "want_scale": scales.get(want, want)}


def same_number(answer: Any, expected: float, rtol: float = 1e-6, atol: float = 1e-9,
                percent_ok: bool = False, explain: bool = True, kind: str | None = None) -> bool:
    """True when `answer` is a number equal to `expected` as a report of `kind` would show it.

    kind: a key of precision in grader/labcheck.yaml ('rate', 'money', 'points', 'count', …); without
    it only rtol/atol apply. A value 100× or 1/100 of the right one is the wrong scale: False, with a
    hint, unless percent_ok (the exercise allows a fraction or a percentage).
    """
    with quiet():
        try:
            value = _scalar(answer)
            if not _is_number(value):
                _hint(explain, _msg("not_a_number", type=type(answer).__name__))
                return False
            verdict, got_scale = _judge(float(value), float(expected), kind, rtol, atol, percent_ok)
            if verdict == "ok":
                return True
            if verdict == "scale":
                _hint(explain, _msg("wrong_scale", **_scale_names(kind, got_scale)))
            elif verdict == "coarse":
                _hint(explain, _msg("too_coarse", decimals=_decimals(kind)))
            else:
                _hint(explain, _msg("wrong_number", got=f"{float(value):.6g}"))
            return False
        except Exception as exc:  # a trainee's object can fail in any way; report, never raise
            _hint(explain, _msg("not_comparable", error=type(exc).__name__))
            return False


def same_set(answer: Any, expected: Iterable[Any], ordered: bool = False, explain: bool = True) -> bool:
    """Labels (list, Index, Series values, set) equal to `expected`; order matters only when asked."""
    with quiet():
        try:
            if isinstance(answer, (str, bytes)) or not isinstance(answer, Iterable):
                _hint(explain, _msg("not_a_list"))
                return False
            got = [_label(x) for x in (answer.tolist() if hasattr(answer, "tolist") else list(answer))]
            want = [_label(x) for x in expected]
            if ordered:
                ok = got == want
            else:
                ok = sorted(map(str, got)) == sorted(map(str, want)) and len(set(map(str, got))) == len(got)
            if not ok:
                missing = [w for w in want if w not in got]
                extra = [g for g in got if g not in want][:3]
                parts = [_msg("set_missing", n=len(missing))] if missing else []
                parts += [_msg("set_extra", items=extra)] if extra else []
                if not parts:
                    parts = [_msg("set_duplicates") if len(set(map(str, got))) != len(got) else _msg("set_order")]
                _hint(explain, _msg("set_differs", detail=";".join(parts), got=len(got), want=len(want)))
            return ok
        except Exception as exc:
            _hint(explain, _msg("table_error", error=type(exc).__name__))
            return False


def _label(x: Any) -> Any:
    if isinstance(x, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(x).strftime("%Y-%m-%d %H:%M:%S").removesuffix(" 00:00:00")
    if isinstance(x, pd.Period):
        return _label(x.start_time)
    if isinstance(x, np.generic):
        return x.item()
    return x


def _is_summary(label: Any) -> bool:
    return isinstance(label, str) and label.strip() in config()["summary_labels"]


def as_table(obj: Any, keys: Sequence[str], value_name: str | None = None) -> pd.DataFrame:
    """An answer (frame, Series, dict; keys in index, columns or both) as a frame indexed by `keys`.

    For follow-through checks that rebuild a later result from the trainee's own earlier tables.
    A Series becomes one column named `value_name` (or its own name). Raises TypeError/KeyError
    for an object that is not such a table; Parts.check reports those as a failed part.
    """
    frame = _to_frame(obj, value_name)
    unnamed = _unnamed(frame)
    missing = [k for k in keys if k not in frame.columns]
    frame = frame.rename(columns=dict(zip(unnamed[:len(missing)], missing))).drop(columns=unnamed[len(missing):])
    return frame.set_index(list(keys))


def drop_totals(obj: Any) -> Any:
    """`obj` without summary rows or columns (合计, 总计, All … from labcheck.yaml); other objects unchanged.

    For given code and checks that sum or count an answer that may carry a 合计 line.
    """
    if isinstance(obj, pd.DataFrame):
        obj = obj.loc[:, [c for c in obj.columns if not _is_summary(c)]]
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        keep = [not any(_is_summary(v) for v in (k if isinstance(k, tuple) else (k,))) for k in obj.index]
        obj = obj[np.array(keep, dtype=bool)] if len(keep) else obj
    return obj


def _to_frame(obj: Any, value_name: str | None) -> pd.DataFrame:
    if isinstance(obj, Mapping) and not isinstance(obj, pd.DataFrame):
        obj = pd.Series(obj)
    if isinstance(obj, pd.Series):
        obj = obj.to_frame(value_name if value_name is not None else (obj.name if obj.name is not None else "value"))
    if not isinstance(obj, pd.DataFrame):
        raise TypeError(type(obj).__name__)
    frame = drop_totals(obj).copy()
    frame.columns = [str(c) if not isinstance(c, tuple) else "_".join(map(str, c)) for c in frame.columns]
    if not _row_numbers(frame.index):
        # a key kept both as index level and as column (set_index(..., drop=False)): the column counts
        both = [n for n in frame.index.names if n is not None and str(n) in frame.columns]
        if both:
            frame = frame.reset_index(level=both, drop=True) if frame.index.nlevels > len(both) else frame.reset_index(drop=True)
    if not _row_numbers(frame.index):
        # unnamed index levels become `_index<i>`: keys when the answer keeps them in the index,
        # dropped when they are only leftover row numbers
        names = [str(n) if n is not None else f"_index{i}" for i, n in enumerate(frame.index.names)]
        frame.index = frame.index.set_names(names)
        frame = frame.reset_index()
    return frame


def _row_numbers(index: pd.Index) -> bool:
    """True for a default 0..n-1 index with no name (a named RangeIndex of years is a key)."""
    return isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1


def _unnamed(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("_index")]


def _normalise_key(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.PeriodDtype):
        col = col.dt.start_time
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.map(_label).astype(str)
    # dates written as text ("2025-09-01", "2025-01" for a month) compare equal to timestamps and periods
    text = col.map(lambda v: str(_label(v)))
    if len(text) and text.str.fullmatch(r"\d{4}-\d{2}(-\d{2}( \d{2}:\d{2}(:\d{2})?)?)?").all():
        try:
            return pd.to_datetime(text, format="ISO8601").map(_label).astype(str)
        except (ValueError, TypeError):
            pass
    # integer keys written as floats (2023.0) are the same key
    return text.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)


def same_frame(answer: Any, expected: pd.DataFrame | pd.Series, keys: Sequence[str] | None = None,
               rtol: float = 1e-6, atol: float = 1e-9, explain: bool = True,
               kinds: Mapping[str, str] | None = None) -> bool:
    """Compare tables by content: keys may be index, columns or both; column order and extra columns are free.

    `keys` name the columns that identify a row (they may sit in the index of either side);
    rows are matched on them, so row order does not matter. Summary rows and columns (合计 …) in
    the answer are ignored. Every other column of `expected` must be present in `answer` and equal:
    numbers within rtol/atol, or, for a column named in `kinds` (column -> precision kind), rounded
    as a report of that kind may be (see same_number).
    """
    kinds = dict(kinds or {})
    with quiet():
        try:
            keys = list(keys or [])
            exp_value = expected.name if isinstance(expected, pd.Series) else None
            want = _to_frame(expected, exp_value)
            want = want.drop(columns=_unnamed(want))
            value_cols = [c for c in want.columns if c not in keys]
            try:
                got = _to_frame(answer, value_cols[0] if isinstance(answer, pd.Series) and len(value_cols) == 1 else None)
            except TypeError as exc:
                _hint(explain, _msg("not_a_table", type=exc))
                return False
            # an unnamed or differently named index on the answer stands for the missing keys
            missing_keys = [k for k in keys if k not in got.columns]
            spare = _unnamed(got) + [c for c in got.columns if c not in want.columns and c not in _unnamed(got)]
            if missing_keys and len(spare) >= len(missing_keys):
                got = got.rename(columns=dict(zip(spare[:len(missing_keys)], missing_keys)))
            got = got.drop(columns=_unnamed(got))
            missing = [c for c in want.columns if c not in got.columns]
            if missing:
                _hint(explain, _msg("missing_columns", missing=missing, columns=list(got.columns)))
                return False
            if len(got) != len(want):
                _hint(explain, _msg("row_count", got=len(got), want=len(want)))
                return False
            if keys:
                for frame in (got, want):
                    for k in keys:
                        frame[k] = _normalise_key(frame[k])
                got = got.sort_values(keys, kind="stable").reset_index(drop=True)
                want = want.sort_values(keys, kind="stable").reset_index(drop=True)
                if not got[keys].equals(want[keys]):
                    want_keys = set(map(tuple, want[keys].to_numpy().tolist()))
                    extra = [dict(zip(keys, r)) for r in got[keys].to_numpy().tolist() if tuple(r) not in want_keys][:3]
                    if extra:
                        _hint(explain, _msg("wrong_keys", extra=extra))
                    else:
                        _hint(explain, _msg("wrong_keys_missing", n=len(want)))
                    return False
            for col in value_cols:
                if not _column_ok(got, want, col, keys, kinds.get(col), rtol, atol, explain):
                    return False
            return True
        except Exception as exc:
            _hint(explain, _msg("table_error", error=type(exc).__name__))
            return False


def _numeric(col: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
    return None


def _column_ok(got: pd.DataFrame, want: pd.DataFrame, col: str, keys: list[str], kind: str | None,
               rtol: float, atol: float, explain: bool) -> bool:
    nb = _numeric(want[col])
    if nb is None:
        a, b = _normalise_key(got[col]).to_numpy(), _normalise_key(want[col]).to_numpy()
        bad = [i for i in range(len(b)) if a[i] != b[i]]
        verdicts = ["wrong"] * len(bad)
    else:
        na = _numeric(got[col])
        if na is None:
            _hint(explain, _msg("wrong_column_type", column=col))
            return False
        verdicts_all = [_judge(float(x), float(y), kind, rtol, atol, False) for x, y in zip(na, nb)]
        bad = [i for i, (v, _) in enumerate(verdicts_all) if v != "ok"]
        verdicts = [verdicts_all[i] for i in bad]
    if not bad:
        return True
    i = bad[0]
    if all(v[0] == "scale" for v in verdicts) and nb is not None:
        _hint(explain, _msg("wrong_column_scale", column=col, **_scale_names(kind, verdicts[0][1])))
    elif nb is not None and all(v[0] in ("coarse", "ok") for v in verdicts):
        _hint(explain, _msg("wrong_column_coarse", column=col, decimals=_decimals(kind)))
    else:
        at = ", ".join(f"{k}={want[k].iloc[i]}" for k in keys) if keys else f"#{i + 1}"
        _hint(explain, _msg("wrong_column", column=col, at=at, got=got[col].iloc[i]))
    return False


def same_mapping(answer: Any, expected: Mapping[Any, Any] | pd.Series, rtol: float = 1e-6, atol: float = 1e-9,
                 explain: bool = True, kind: str | None = None) -> bool:
    """A label -> value mapping (dict, Series, or a two-column frame, key as index, column or both) equal to `expected`."""
    with quiet():
        exp = pd.Series(expected) if not isinstance(expected, pd.Series) else expected
        want = pd.DataFrame({"key": list(exp.index), "value": list(exp.to_numpy())})
        try:
            if isinstance(answer, pd.DataFrame):
                frame = _to_frame(answer, None)
                frame = frame.drop(columns=[c for c in _unnamed(frame) if frame.shape[1] > 2])
                if frame.shape[1] != 2:
                    _hint(explain, _msg("mapping_shape"))
                    return False
                frame.columns = ["key", "value"]
                answer = frame
            elif isinstance(answer, (pd.Series, Mapping)):
                ser = drop_totals(pd.Series(answer) if isinstance(answer, Mapping) else answer)
                answer = pd.DataFrame({"key": list(ser.index), "value": list(ser.to_numpy())})
            else:
                _hint(explain, _msg("not_a_mapping", type=type(answer).__name__))
                return False
        except Exception as exc:
            _hint(explain, _msg("table_error", error=type(exc).__name__))
            return False
        return same_frame(answer, want, keys=["key"], rtol=rtol, atol=atol, explain=explain,
                          kinds={"value": kind} if kind else None)


class Parts:
    """Partial credit for a multi-part test cell.

    Usage in a test cell (the last line's value is nbgrader's partial credit, 0 … points)::

        _parts = labcheck.Parts(points=2)
        _parts.check("conversion", lambda: len(conversion) > 0)      # visible: shape only
        ### BEGIN HIDDEN TESTS
        _parts.grading()
        _parts.check("conversion", lambda: labcheck.same_mapping(conversion, _exp))
        _parts.check("night_conversion", lambda: labcheck.same_number(night_conversion, _n, kind="rate"))
        ### END HIDDEN TESTS
        _parts.score()

    Each check runs on its own: an undefined variable or a crash in one part is reported under that
    part's name and costs only that part. `own` is a second check for follow-through: an answer
    consistent with the trainee's own earlier (wrong) result gets the part's credit, and the
    feedback says so. A part checked several times (visible shape check, hidden value check)
    earns its weight only when every check passes.
    """

    def __init__(self, points: float) -> None:
        self.points = float(points)
        self.results: dict[str, tuple[float, bool]] = {}
        self.hints: dict[str, list[str]] = {}
        self.graded = False

    def grading(self) -> None:
        """Mark the start of the hidden checks: only then does score() announce points.

        In the release notebook only the visible format checks run; their result is not the
        grade, and score() says so instead of showing points a trainee would take for a grade.
        """
        self.graded = True

    @staticmethod
    def _run(test: Callable[[], Any], part: str) -> tuple[bool, list[str]]:
        """(passed, hint lines) for one check; an exception becomes a named hint line."""
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), quiet():
            try:
                ok, extra = bool(test()), []
            except NameError as exc:
                ok, extra = False, [_msg("part_missing", part=part, name=getattr(exc, "name", None) or exc)]
            except Exception as exc:  # hostile or broken answer objects: a named failure, never a traceback
                ok, extra = False, [_msg("part_error", part=part, error=type(exc).__name__)]
        return ok, [line for line in buffer.getvalue().splitlines() if line.strip()] + extra

    def check(self, part: str, test: Callable[[], Any], weight: float = 1.0,
              own: Callable[[], Any] | None = None, hint: str | None = None) -> bool:
        """Run one part's check and record it (score() prints); True when this check passed.

        `hint` (the notebook's own sentence, e.g. which columns are needed) is shown when it fails.
        """
        ok, hints = self._run(test, part)
        if not ok and hint:
            hints = [hint] + hints
        if not ok and own is not None and self._run(own, part)[0]:
            ok, hints = True, [_msg("follow_through", part=part)]
        # a part checked more than once (a visible format check, then the hidden values) needs every check;
        # its first failure's hints are the ones shown
        earlier = self.results.get(part)
        if earlier is None:
            self.results[part] = (float(weight), ok)
            self.hints[part] = hints
        else:
            self.results[part] = (earlier[0], earlier[1] and ok)
            if earlier[1] or not self.hints.get(part):
                self.hints[part] = hints
        return ok

    def score(self) -> float:
        """Points earned (0 … points), weighted by part; prints ✔/✘ per part with its hints, returns the points."""
        for part, (_, ok) in self.results.items():
            print(_msg("part_ok" if ok else "part_failed", part=part))
            for line in self.hints.get(part, []):
                print(f"    {line}")
        total = sum(w for w, _ in self.results.values()) or 1.0
        got = round(self.points * sum(w for w, ok in self.results.values() if ok) / total, 2)
        print(_msg("score", got=got, points=self.points) if self.graded else _msg("format_only"))
        return got


__all__ = ["Parts", "as_table", "config", "drop_totals", "quiet", "same_frame", "same_mapping", "same_number", "same_set"]
