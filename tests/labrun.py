"""Run a lab's source notebook in-process, the way nbgrader scores it, to test single exercises.

`solved(lab)` executes every code cell of the source notebook (solutions included) once and keeps
the namespace; `score(lab, grade_id, answer)` runs `answer` (code a trainee could write) on a copy
of that namespace, then the exercise's test cell with its hidden tests, and scores it as nbgrader's
determine_grade does: an exception or stderr → 0, a number as the cell's value → partial credit,
otherwise full points. Much faster than a real autograde; tests/test_labs.py keeps the real runs.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import io
import json
import tempfile
import os
from dataclasses import dataclass
from typing import Any

from shifu.content import paths

os.environ.setdefault("MPLBACKEND", "Agg")


@dataclass
class Graded:
    score: float
    points: float
    out: str
    error: str | None


def cells(lab: str) -> list[dict[str, Any]]:
    nb = json.loads((paths.course_dir() / "source" / lab / f"{lab}.ipynb").read_text(encoding="utf-8"))
    return nb["cells"]


def _code(cell: dict[str, Any]) -> str:
    return "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith("%"))


def _exec(code: str, ns: dict[str, Any]) -> Any:
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), ns)
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns) if last is not None else None


@functools.lru_cache(maxsize=None)
def solved(lab: str) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    ns: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        for cell in cells(lab):
            if cell["cell_type"] == "code":
                with contextlib.redirect_stdout(io.StringIO()):
                    _exec(_code(cell), ns)
                plt.close("all")
    return ns


def fresh(lab: str) -> dict[str, Any]:
    """A copy of the solved namespace whose tables an answer may change in place without touching the cache."""
    import pandas as pd

    return {k: (v.copy() if isinstance(v, (pd.DataFrame, pd.Series)) else v) for k, v in solved(lab).items()}


def test_cell(lab: str, grade_id: str) -> tuple[str, float]:
    for cell in cells(lab):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") == grade_id and meta.get("grade"):
            return _code(cell), float(meta["points"])
    raise KeyError(f"{lab}: no test cell {grade_id}")


def score(lab: str, grade_id: str, answer: str = "") -> Graded:
    """Score `grade_id` after running `answer` on top of the solved notebook."""
    code, points = test_cell(lab, grade_id)
    ns = fresh(lab)
    out, err = io.StringIO(), io.StringIO()
    try:
        # a test cell keeps the answers in .shifu_lab/ of the working directory: a scratch one here
        with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if answer:
                _exec(answer, ns)
            value = _exec(code, ns)
    except Exception as exc:  # the cell failed: nbgrader gives 0
        return Graded(0.0, points, out.getvalue(), f"{type(exc).__name__}: {exc}")
    if err.getvalue():
        return Graded(0.0, points, out.getvalue(), "stderr: " + err.getvalue())
    if value is not None and not isinstance(value, bool):
        try:
            return Graded(min(float(value), points), points, out.getvalue(), None)
        except (TypeError, ValueError):
            pass
    return Graded(points, points, out.getvalue(), None)


def answer_code(lab: str, grade_id: str) -> str:
    """The solution cell `grade_id` without its solution markers: to re-run it after changing an earlier result."""
    for cell in cells(lab):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(line for line in _code(cell).splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    raise KeyError(f"{lab}: no cell {grade_id}")
