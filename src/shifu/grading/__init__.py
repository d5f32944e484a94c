"""Cohort grading with nbgrader: every submission autograded in parallel, then feedback HTML.

`grade_course` is what `shifu grade` runs; other commands (course checks, the demo) call it too.
"""
from __future__ import annotations

from .results import FAILED, GRADED, SKIPPED, SubmissionResult
from .runner import DEFAULT_NOTEBOOK_TIMEOUT, grade_course

__all__ = ["grade_course", "SubmissionResult", "GRADED", "SKIPPED", "FAILED", "DEFAULT_NOTEBOOK_TIMEOUT"]
