"""Autograde a course directory's submissions and read the scores back from nbgrader's gradebook.

Grading goes through shifu.grading.grade_course (parallel, timeouts, per-submission isolation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path





def grader_name() -> str:
    return "shifu grade (parallel nbgrader autograde)"


def submissions(course: Path, assignments: list[str] | None = None) -> list[tuple[str, str]]:
    """(student, assignment) pairs in course/submitted."""
    root = course / "submitted"
    out = []
    if root.is_dir():
        for student in sorted(p for p in root.iterdir() if p.is_dir()):
            for a in sorted(p for p in student.iterdir() if p.is_dir()):
                if assignments is None or a.name in assignments:
                    out.append((student.name, a.name))
    return out


def autograde(course: Path, assignments: list[str] | None = None, workers: int | None = None,
              timeout: int | None = None, db_url: str | None = None, progress: bool = False,
              feedback: bool = False) -> list[Outcome]:
    """Grade every submission (of the named assignments); one outcome per submission, with nbgrader's score and why.

    timeout: seconds one notebook may run in all (each cell is also bound by the course's Execute.timeout).
    """
    from ..grading import grade_course

    kwargs = {"workers": workers, "timeout": timeout, "db_url": db_url, "progress": progress, "force": True, "feedback": feedback}
    names = sorted({a for _, a in submissions(course, assignments)})
    if assignments is None or set(names) == {a for _, a in submissions(course)}:
        results = grade_course(course, **kwargs)
    else:
        results = [r for name in names for r in grade_course(course, assignment=name, **kwargs)]
    return [Outcome(r.student, r.assignment, r.graded, float(r.score), float(r.max_score), r.reason) for r in results]


@dataclass
class Outcome:
    student: str
    assignment: str
    graded: bool
    score: float
    max_score: float
    reason: str


@dataclass
class Score:
    student: str
    assignment: str
    score: float
    max_score: float
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max)
    needs_manual: list[str] = field(default_factory=list)


def read_scores(course: Path, db_url: str | None = None) -> list[Score]:
    """Every graded submission's total and per-cell scores, from the gradebook."""
    from nbgrader.api import Gradebook

    from .nbgrader_api import load_config

    url = db_url or str(load_config(course).CourseDirectory.db_url)
    out = []
    with Gradebook(url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                s = Score(sub.student.id, assignment.name, float(sub.score or 0), float(sub.max_score or 0))
                for nb in sub.notebooks:
                    for g in nb.grades:
                        s.cells[g.name] = (float(g.score or 0), float(g.max_score or 0))
                        if g.needs_manual_grade:
                            s.needs_manual.append(g.name)
                out.append(s)
    return out

