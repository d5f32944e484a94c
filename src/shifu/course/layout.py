"""Where the course's parts live, and the assignments it knows about."""
from __future__ import annotations

from pathlib import Path

from shifu.content import paths

# The order trainees meet the assignments in; names are fixed by the gradebook and the progress charts.
ASSIGNMENTS: tuple[str, ...] = (
    "m00_orientation", "m01_logistics", "m02_refunds", "m03_claims", "m04_presales",
    "m05_complaints", "m06_double11",
    "lab1_kpi", "lab2_staffing", "lab3_complaints", "lab4_nps", "lab5_retention",
)


def authoring_dir(course: Path | None = None) -> Path:
    return (course or paths.course_dir()) / "authoring"


def source_dir(course: Path | None = None) -> Path:
    return (course or paths.course_dir()) / "source"


def reference_dir(course: Path | None = None) -> Path:
    """Reference role-play transcripts, one folder per assignment: for mentors and `nbgrader validate` only.

    Outside source/ on purpose: nbgrader copies a source folder into the release (and into every
    autograded submission), so nothing it must never hand out may live there.
    """
    return (course or paths.course_dir()) / "reference"


def release_dir(course: Path | None = None) -> Path:
    return (course or paths.course_dir()) / "release"


def source_assignments(course: Path | None = None) -> list[str]:
    """Assignments present in course/source, in course order (known names first, then any others by name)."""
    src = source_dir(course)
    present = {p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))} if src.is_dir() else set()
    ordered = [a for a in ASSIGNMENTS if a in present]
    return ordered + sorted(present - set(ordered))


