"""What graded cells call inside a notebook: formative points while working or validating, never a grade.

A trainee's kernel is hostile ground: anything computed in it can be patched by the trainee's own
code. So while nbgrader autogrades (NBGRADER_EXECUTION=autograde) these helpers compute nothing and
say so; `shifu grade` computes every point in its own process from the submitted data
(shifu.grading.rescore) and writes it over this cell's output. Under `nbgrader validate` or in a
mentor's session they score with the same functions the grader uses (shifu.grading.scoring), so a
reference answer validates exactly as it will grade.

nbgrader gives a test cell 0 points when it raises or writes anything to stderr, and takes a number
between 0 and the cell's points as partial credit when that number is the cell's last output. So
these helpers never raise on what a trainee wrote, keep every warning off stderr, print their
reasons (in Chinese, for the trainee's feedback) on stdout, and return that number.
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Nothing reaches stderr while scoring: warnings are silenced and stray writes are swallowed."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _grading() -> bool:
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def _not_here() -> float:
    """While autograding: no points from the kernel (the grader's own replace this cell's output)."""
    with _quiet():
        try:
            from shifu.grading.wording import grading_text

            print(grading_text().kernel.not_scored_here)
        except Exception:
            print("0")
    return 0.0


def _run(score: Callable[[], Any]) -> float:
    with _quiet():
        try:
            result = score()
        except Exception as exc:  # even broken content must not break a notebook
            text = str(exc).strip().splitlines()
            print(f"0: {text[0] if text else type(exc).__name__}")
            return 0.0
    for line in result.lines:
        print(line)
    return float(result.points)


def reply_points(answer: str, scenario_id: str, buyer: str, points: float, criterion: str | None = None) -> float:
    """Formative points for one written reply: the criterion's share (or the whole rubric's) of `points`."""
    if _grading():
        return _not_here()
    from shifu.grading.scoring import reply_cell

    return _run(lambda: reply_cell(answer, scenario_id, buyer, points, criterion))


def transcript_points(path: str, scenario_id: str, points: float, criterion: str | None = None) -> float:
    """Formative points for a saved role-play transcript, checked by replay exactly as the grader checks it.

    Unlike the grader, it counts the recorded reply times (响应时效), so `nbgrader validate` shows
    whether a reference script meets the benchmark; the grader gives that criterion 0 for now.
    """
    if _grading():
        return _not_here()
    from shifu.grading.scoring import transcript_cell

    def score() -> Any:
        try:
            target = os.fspath(path)
        except TypeError:
            target = str(path)
        return transcript_cell(target, scenario_id, points, criterion, with_times=True)  # formative: times shown as scored

    return _run(score)
