"""`shifu course build`: the release notebooks trainees get, one nbgrader generate_assignment per assignment."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from shifu.content.errors import ShifuError
from shifu.course import layout
from shifu.grading.nbgrader_course import error_tail, nbgrader_api


@dataclass(frozen=True)
class Built:
    assignment: str
    ok: bool
    seconds: float
    notebooks: tuple[Path, ...] = ()
    error: str = ""


def select(course: Path, assignments: list[str] | None) -> list[str]:
    """The assignments asked for, checked against course/source; all of them when none are named."""
    present = layout.source_assignments(course)
    if not present:
        raise ShifuError(f"no assignments in {layout.source_dir(course)} — fix: run `shifu course author` or add source notebooks")
    if not assignments:
        return present
    unknown = [a for a in assignments if a not in present]
    if unknown:
        raise ShifuError(f"unknown assignment {unknown[0]!r} — fix: use one of: {', '.join(present)}")
    return [a for a in present if a in assignments]


def build_course(course: Path | None = None, assignments: list[str] | None = None, db_url: str | None = None) -> list[Built]:
    """Generate the release version of each assignment (solutions and hidden tests removed)."""
    from shifu.content import paths

    course = (course or paths.course_dir()).resolve()
    api = nbgrader_api(course, db_url)
    out = []
    for name in select(course, assignments):
        t0 = time.perf_counter()
        result = api.generate_assignment(name, force=True, create=True)
        ok = bool(result.get("success"))
        notebooks = tuple(sorted((layout.release_dir(course) / name).glob("*.ipynb"))) if ok else ()
        out.append(Built(name, ok and bool(notebooks), time.perf_counter() - t0, notebooks,
                         "" if ok else error_tail(result)))
    return out


def release_missing(course: Path, assignments: list[str]) -> list[str]:
    """Assignments whose release notebooks are missing or older than their source."""
    stale = []
    for name in assignments:
        src = list((layout.source_dir(course) / name).glob("*.ipynb"))
        rel = layout.release_dir(course) / name
        for nb in src:
            target = rel / nb.name
            if not target.exists() or target.stat().st_mtime < nb.stat().st_mtime:
                stale.append(name)
                break
    return stale
