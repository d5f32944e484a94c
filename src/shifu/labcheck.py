"""Lenient answer checks for the analysis labs' nbgrader test cells.

A correct answer can come in many shapes: columns in another order, a key as index or as a
column, ints where floats were expected, a Series instead of a one-column frame, a fraction
where a percentage was asked for. These helpers accept all of them, compare numbers with a
tolerance, print a short hint in Chinese to stdout when something differs, and never write to
stderr or raise: in nbgrader any stderr output zeroes the cell.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings (pandas, numpy) inside a test cell, so only a wrong answer can zero it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def _hint(explain: bool, message: str) -> None:
    if explain:
        print(f"提示:{message}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating, np.bool_, bool)) and not isinstance(x, str)


def _scalar(x: Any) -> Any:
    if isinstance(x, (pd.Series, pd.DataFrame, np.ndarray)) and np.size(x) == 1:
        return np.asarray(x).reshape(-1)[0]
    return x


def same_number(answer: Any, expected: float, rtol: float = 1e-4, atol: float = 1e-6,
                percent_ok: bool = False, explain: bool = True) -> bool:
    """True when `answer` is a number close to `expected`; with percent_ok, ×100 or ÷100 also counts."""
    with quiet():
        try:
            value = _scalar(answer)
            if not _is_number(value):
                _hint(explain, f"答案应是一个数字,现在是 {type(answer).__name__}")
                return False
            value = float(value)
            candidates = [expected] + ([expected * 100, expected / 100] if percent_ok else [])
            if any(np.isclose(value, c, rtol=rtol, atol=atol) for c in candidates):
                return True
            _hint(explain, f"数值不对:得到 {value:.6g}")
            return False
        except Exception as exc:  # a trainee's object can fail in any way; report, never raise
            _hint(explain, f"无法把答案当作数字比较({type(exc).__name__})")
            return False


def same_set(answer: Any, expected: Iterable[Any], ordered: bool = False, explain: bool = True) -> bool:
    """Labels (list, Index, Series values, set) equal to `expected`; order matters only when asked."""
    with quiet():
        try:
            if isinstance(answer, (str, bytes)) or not isinstance(answer, Iterable):
                _hint(explain, "答案应是一个列表(list)")
                return False
            got = [_label(x) for x in (answer.tolist() if hasattr(answer, "tolist") else list(answer))]
            want = [_label(x) for x in expected]
            if ordered:
                ok = got == want
            else:
                ok = sorted(map(str, got)) == sorted(map(str, want)) and len(set(map(str, got))) == len(got)
            if not ok:
                missing = [w for w in want if w not in got][:3]
                extra = [g for g in got if g not in want][:3]
                detail = f"缺少 {missing} " if missing else ""
                detail += f"多出 {extra}" if extra else ""
                _hint(explain, f"内容不对:{detail or '顺序不对'}(共 {len(got)} 个,应为 {len(want)} 个)")
            return ok
        except Exception as exc:
            _hint(explain, f"无法比较这个答案({type(exc).__name__})")
            return False


def _label(x: Any) -> Any:
    if isinstance(x, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(x).strftime("%Y-%m-%d %H:%M:%S").removesuffix(" 00:00:00")
    if isinstance(x, pd.Period):
        return _label(x.start_time)
    if isinstance(x, np.generic):
        return x.item()
    return x


def _to_frame(obj: Any, value_name: str | None) -> pd.DataFrame:
    if isinstance(obj, Mapping) and not isinstance(obj, pd.DataFrame):
        obj = pd.Series(obj)
    if isinstance(obj, pd.Series):
        obj = obj.to_frame(value_name if value_name is not None else (obj.name if obj.name is not None else "value"))
    if not isinstance(obj, pd.DataFrame):
        raise TypeError(type(obj).__name__)
    frame = obj.copy()
    frame.columns = [str(c) if not isinstance(c, tuple) else "_".join(map(str, c)) for c in frame.columns]
    if not isinstance(frame.index, pd.RangeIndex):
        # unnamed index levels become `_index<i>`: keys when the answer keeps them in the index,
        # dropped when they are only leftover row numbers
        names = [str(n) if n is not None else f"_index{i}" for i, n in enumerate(frame.index.names)]
        frame.index = frame.index.set_names(names)
        frame = frame.reset_index()
    return frame


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
    return text


def same_frame(answer: Any, expected: pd.DataFrame | pd.Series, keys: Sequence[str] | None = None,
               rtol: float = 1e-4, atol: float = 1e-8, explain: bool = True) -> bool:
    """Compare tables by content: keys may be index or columns, column order and extra columns are free.

    `keys` name the columns that identify a row (they may sit in the index of either side);
    rows are matched on them, so row order does not matter. Every other column of `expected`
    must be present in `answer` and equal (numbers within rtol/atol, ints and floats alike).
    """
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
                _hint(explain, f"答案应是 DataFrame 或 Series,现在是 {exc}")
                return False
            # an unnamed or differently named index on the answer stands for the missing keys
            missing_keys = [k for k in keys if k not in got.columns]
            spare = _unnamed(got) + [c for c in got.columns if c not in want.columns and c not in _unnamed(got)]
            if missing_keys and len(spare) >= len(missing_keys):
                got = got.rename(columns=dict(zip(spare[:len(missing_keys)], missing_keys)))
            got = got.drop(columns=_unnamed(got))
            missing = [c for c in want.columns if c not in got.columns]
            if missing:
                _hint(explain, f"缺少列 {missing};现有列 {list(got.columns)}")
                return False
            if len(got) != len(want):
                _hint(explain, f"行数不同:答案 {len(got)} 行,应为 {len(want)} 行")
                return False
            if keys:
                for frame in (got, want):
                    for k in keys:
                        frame[k] = _normalise_key(frame[k])
                got = got.sort_values(keys, kind="stable").reset_index(drop=True)
                want = want.sort_values(keys, kind="stable").reset_index(drop=True)
                if not got[keys].equals(want[keys]):
                    bad = want[keys][(got[keys] != want[keys]).any(axis=1)].head(3).to_dict("records")
                    _hint(explain, f"行的键不同,例如应有 {bad}")
                    return False
            for col in value_cols:
                if not _same_column(got[col], want[col], rtol, atol):
                    where = _first_difference(got, want, col, keys, rtol, atol)
                    _hint(explain, f"列 {col} 的值不对{where}")
                    return False
            return True
        except Exception as exc:
            _hint(explain, f"无法比较这个答案({type(exc).__name__}: {exc})")
            return False


def _numeric(col: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
    return None


def _same_column(a: pd.Series, b: pd.Series, rtol: float, atol: float) -> bool:
    na, nb = _numeric(a), _numeric(b)
    if nb is not None:
        if na is None:
            return False
        return bool(np.all(np.isclose(na, nb, rtol=rtol, atol=atol, equal_nan=True)))
    return bool((_normalise_key(a).to_numpy() == _normalise_key(b).to_numpy()).all())


def _first_difference(got: pd.DataFrame, want: pd.DataFrame, col: str, keys: list[str], rtol: float, atol: float) -> str:
    for i in range(len(want)):
        if not _same_column(got[col].iloc[i:i + 1].reset_index(drop=True), want[col].iloc[i:i + 1].reset_index(drop=True), rtol, atol):
            at = ", ".join(f"{k}={want[k].iloc[i]}" for k in keys) if keys else f"第 {i + 1} 行"
            return f"({at}:得到 {got[col].iloc[i]})"
    return ""


def same_mapping(answer: Any, expected: Mapping[Any, Any] | pd.Series, rtol: float = 1e-4, atol: float = 1e-8,
                 explain: bool = True) -> bool:
    """A label -> value mapping (dict, Series, or a two-column frame) equal to `expected`."""
    with quiet():
        exp = pd.Series(expected) if not isinstance(expected, pd.Series) else expected
        want = pd.DataFrame({"key": list(exp.index), "value": list(exp.to_numpy())})
        try:
            if isinstance(answer, pd.DataFrame):
                frame = _to_frame(answer, None)
                if frame.shape[1] != 2:
                    _hint(explain, "答案应是 Series(索引为类别,值为数字)或两列的表")
                    return False
                frame.columns = ["key", "value"]
                answer = frame
            elif isinstance(answer, (pd.Series, Mapping)):
                ser = pd.Series(answer) if isinstance(answer, Mapping) else answer
                answer = pd.DataFrame({"key": list(ser.index), "value": list(ser.to_numpy())})
            else:
                _hint(explain, f"答案应是 Series 或 dict,现在是 {type(answer).__name__}")
                return False
        except Exception as exc:
            _hint(explain, f"无法比较这个答案({type(exc).__name__})")
            return False
        return same_frame(answer, want, keys=["key"], rtol=rtol, atol=atol, explain=explain)


__all__ = ["quiet", "same_frame", "same_mapping", "same_number", "same_set"]
