"""Friendly hints for the common pandas mistakes in the labs, instead of a page of pandas internals.

`install()` (called by shifu.labs.datagen.lab_data, which every lab runs first) registers an IPython
exception handler in the trainee's kernel. For an error a rule in grader/lab_hints.yaml knows
(a misspelt column, `and` between two conditions, a cell run out of order …) the cell shows:

  the hint (trainee's words, from the YAML, with the table's columns when the error names one),
  the traceback cut at the first frame outside the trainee's own code (IPython's own formatting,
  so the "Cell In[n], line m" line the grader reads is still there),
  a line saying that `%tb` shows the full original traceback (IPython keeps it in sys.last_*).

The error stays an error: same exception type and message, an `error` output, a failed execution,
so nbgrader and the grader see exactly what they would without hints. Anything no rule knows is
shown as IPython always shows it. Never installed while nbgrader runs a notebook (NBGRADER_EXECUTION).
"""
from __future__ import annotations

import difflib
import os
import re
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from shifu.content import paths
from shifu.content.yamlio import Strict, check_patterns, load_model_cached


class HintRule(Strict):
    error: str
    message: str | None = None
    needs: Literal["columns"] | None = None
    say: str

    @field_validator("message")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            check_patterns([v])
        return v


class LabHints(Strict):
    """grader/lab_hints.yaml."""

    header: str
    close_match: str
    columns_joiner: str
    footer: str
    rules: list[HintRule]


def lab_hints() -> LabHints:
    """The rules, re-read when the file changes; ShifuError naming file, line and field when one is wrong."""
    return load_model_cached(paths.grader_dir() / "lab_hints.yaml", LabHints, guide="the comments in grader/lab_hints.yaml")


def _frames(tb: types.TracebackType | None) -> list[types.TracebackType]:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out


def _table_columns(tb: types.TracebackType | None) -> list[str] | None:
    """The columns of the DataFrame the failing call worked on: `self` (or an indexer's `.obj`) of the
    innermost pandas frame that holds one. None when no DataFrame is in reach."""
    try:
        import pandas as pd
    except ImportError:
        return None
    for frame in reversed(_frames(tb)):
        loc = frame.tb_frame.f_locals
        for name in ("self", "obj"):
            obj = loc.get(name)
            obj = getattr(obj, "obj", obj) if not isinstance(obj, (pd.DataFrame, pd.Series)) else obj
            if isinstance(obj, pd.DataFrame):
                return [str(c) for c in obj.columns]
    return None


def _key(value: BaseException, match: re.Match | None) -> str:
    if match is not None and "key" in match.groupdict() and match.group("key") is not None:
        return match.group("key")
    if isinstance(value, KeyError) and value.args:
        return str(value.args[0])
    return str(getattr(value, "name", "") or "")


def hint_for(value: BaseException, tb: types.TracebackType | None = None) -> str | None:
    """The hint of the first rule in grader/lab_hints.yaml that fits this error; None when none does."""
    cfg = lab_hints()
    names = {c.__name__ for c in type(value).__mro__}
    message = str(value)
    columns: list[str] | None | bool = False  # looked up once, when a rule needs it
    for rule in cfg.rules:
        if rule.error not in names:
            continue
        match = re.search(rule.message, message) if rule.message else None
        if rule.message and match is None:
            continue
        if rule.needs == "columns":
            if columns is False:
                columns = _table_columns(tb)
            if not columns:
                continue
        key = _key(value, match)
        cols = columns if isinstance(columns, list) else []
        text = rule.say.format(key=key, columns=cfg.columns_joiner.join(cols))
        close = difflib.get_close_matches(key, cols, n=1, cutoff=0.6) if cols and key not in cols else []
        if close:
            text += " " + cfg.close_match.format(close=close[0])
        return text
    return None


def _library_dirs() -> tuple[str, ...]:
    found = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(str(Path(p).resolve()) + os.sep for p in found if p)


def _own_frames(tb: types.TracebackType) -> types.TracebackType:
    """The traceback up to the trainee's line that called into an installed library (pandas, numpy, the stdlib).

    The first frame (IPython running the cell) is always kept: IPython's formatter skips it."""
    libs = _library_dirs()
    frames = _frames(tb)
    kept = frames[:1]
    for frame in frames[1:]:
        if str(Path(frame.tb_frame.f_code.co_filename).resolve()).startswith(libs):
            break  # the trainee's line that called into the library is the last one shown
        kept.append(frame)
    if len(kept) == len(frames):
        return tb
    chain = None
    for frame in reversed(kept):
        chain = types.TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    assert chain is not None
    return chain


def _show(shell: Any, etype: type[BaseException], value: BaseException, tb: types.TracebackType,
          tb_offset: int | None = None) -> list[str]:
    """IPython custom exception handler: the hint, the short traceback, how to see the full one."""
    shell._get_exc_info((etype, value, tb))  # sys.last_* hold the full traceback: %tb shows it
    hint = hint_for(value, tb)
    if hint is None:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    else:
        cfg = lab_hints()
        # the errors pandas raised inside itself before this one ("direct cause of …") are internals too;
        # they are left out of the short form only and put back for %tb
        chained = (value.__cause__, value.__context__, value.__suppress_context__)
        value.__cause__, value.__suppress_context__ = None, True
        try:
            short = shell.InteractiveTB.structured_traceback(etype, value, _own_frames(tb), tb_offset=tb_offset)
        finally:
            value.__cause__, value.__context__, value.__suppress_context__ = chained
        stb = [f"\x1b[1;33m{cfg.header}{hint}\x1b[0m\n"] + list(short) + [cfg.footer]
    shell._showtraceback(etype, value, stb)  # an `error` output, as IPython itself would send
    return []  # shown already; IPython discards a handler's return value here


def install(shell: Any = None) -> bool:
    """Turn the hints on in this IPython kernel; False when not in IPython or while nbgrader runs the notebook."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return False
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if getattr(shell, "_shifu_lab_hints", False):
        return True
    try:
        lab_hints()  # a broken YAML shows once, here, not inside every later error
    except Exception as exc:
        print(f"lab hints are off: {exc}", file=sys.stderr)
        return False
    shell.set_custom_exc((Exception,), _show)
    shell._shifu_lab_hints = True
    return True
