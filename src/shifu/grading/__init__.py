"""Cohort grading with nbgrader: every submission autograded in parallel, then feedback HTML.

`grade_course` is what `shifu grade` runs; other commands (course checks, the demo) call it too.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shifu.grading.limits import DEFAULT_NOTEBOOK_TIMEOUT
from shifu.grading.results import FAILED, GRADED, SKIPPED, SubmissionResult

if TYPE_CHECKING:
    from shifu.grading.runner import Progress, grade_course

# how reports (`shifu course check`, `shifu demo`) name what graded the submissions
GRADER_NAME = "shifu grade (parallel nbgrader autograde)"


def skip_slow_imports() -> None:
    """Keep jsonschema (imported by nbformat) from loading rfc3987_syntax, whose import compiles ~40
    Lark grammars (2-3 s of CPU on a busy 2-core machine) for IRI format checks that notebook
    validation never uses. jsonschema treats the package as absent. Call before nbformat is imported."""
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def __getattr__(name: str) -> Any:
    # the runner pulls in nbgrader and jupyter_client: import it only when grading actually starts
    if name in ("grade_course", "Progress"):
        skip_slow_imports()
        from shifu.grading import runner

        return getattr(runner, name)
    raise AttributeError(name)

__all__ = ["grade_course", "Progress", "GRADER_NAME", "skip_slow_imports", "SubmissionResult", "GRADED", "SKIPPED", "FAILED", "DEFAULT_NOTEBOOK_TIMEOUT"]
