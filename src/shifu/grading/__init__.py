"""Cohort grading with nbgrader: every submission autograded in parallel, then feedback HTML.

`grade_course` is what `shifu grade` runs; other commands (course checks, the demo) call it too.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .limits import DEFAULT_NOTEBOOK_TIMEOUT
from .results import FAILED, GRADED, SKIPPED, SubmissionResult

if TYPE_CHECKING:
    from .runner import grade_course


def __getattr__(name: str) -> Any:
    # the runner pulls in nbgrader and jupyter_client: import it only when grading actually starts
    if name == "grade_course":
        from .runner import grade_course

        return grade_course
    raise AttributeError(name)

__all__ = ["grade_course", "SubmissionResult", "GRADED", "SKIPPED", "FAILED", "DEFAULT_NOTEBOOK_TIMEOUT"]
