"""What grading one submission came to: the score from the gradebook and why it is what it is."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

GRADED = "graded"      # autograded in this run
SKIPPED = "skipped"    # autograded earlier; nbgrader leaves it alone unless forced
FAILED = "failed"      # nbgrader could not grade it; the reasons say why and what to do


@dataclass
class SubmissionResult:
    """One trainee's submission of one assignment."""

    student: str
    assignment: str
    status: str = GRADED
    score: float = 0.0
    max_score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    feedback: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "ok"

    @property
    def graded(self) -> bool:
        return self.status != FAILED

    def to_json(self) -> dict:
        return {"student": self.student, "assignment": self.assignment, "status": self.status,
                "score": self.score, "max_score": self.max_score, "reason": self.reason,
                "feedback": [str(p) for p in self.feedback], "seconds": round(self.seconds, 3)}
