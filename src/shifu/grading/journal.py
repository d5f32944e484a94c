"""Which submissions a grading run started and did not finish.

nbgrader treats a submission as graded as soon as its autograded folder exists, so after a crash
(kill -9, the OOM killer) a half-graded submission would read "graded before" with 0 points. Here a
marker <course>/.shifu/grading/<assignment>/<student> is written before the first gradebook or
autograded write and removed only after the grades AND the feedback are written. A marker found at
the start of a run means: interrupted — remove what it left and grade it again.
"""
from __future__ import annotations

import os
from pathlib import Path

from shifu.grading.lock import STATE_DIR

PENDING_DIR = "grading"


class Journal:
    """Markers of submissions being graded, in COURSE_ROOT/.shifu/grading/."""

    def __init__(self, course_root: Path):
        self.root = Path(course_root) / STATE_DIR / PENDING_DIR

    def _marker(self, assignment: str, student: str) -> Path:
        return self.root / assignment / student

    def begin(self, assignment: str, student: str) -> None:
        """Before anything of this submission is written; durable before the writes start."""
        path = self._marker(assignment, student)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(str(os.getpid()))
            fh.flush()
            os.fsync(fh.fileno())

    def done(self, assignment: str, student: str) -> None:
        """After grades and feedback are written (or the submission failed cleanly)."""
        self._marker(assignment, student).unlink(missing_ok=True)

    def interrupted(self, assignment: str, student: str) -> bool:
        return self._marker(assignment, student).exists()
