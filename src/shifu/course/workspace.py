"""The trainee's own folder: release notebooks copied once, never over a trainee's work.

`shifu lab` opens JupyterLab here. A notebook already in the workspace is left alone, even when the
release changed since — a trainee's answers and role-play transcripts must never be lost. A newer
release of an untouched notebook is noted so a mentor can hand it out by hand.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from shifu.content import paths
from shifu.course import layout
from shifu.course.build import build_course, release_missing


def start_dir(course: Path | None = None) -> Path:
    """course/start/: the pages a newcomer reads first, copied to the top of the workspace (content, not code)."""
    return (course or paths.course_dir()) / "start"


def start_page(course: Path | None = None) -> str | None:
    """The file name of the page JupyterLab opens first: the first Markdown file in course/start/, by name."""
    folder = start_dir(course)
    pages = sorted(p.name for p in folder.glob("*.md")) if folder.is_dir() else []
    return pages[0] if pages else None


def workspace_dir() -> Path:
    """SHIFU_WORKSPACE, else workspace/ at the project root."""
    env = os.environ.get("SHIFU_WORKSPACE")
    return Path(env).expanduser().resolve() if env else paths.project_root() / "workspace"


@dataclass
class Prepared:
    root: Path
    copied: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    not_built: list[str] = field(default_factory=list)  # "assignment: why" — left out, the rest still opens


def sync_workspace(course: Path | None = None, workspace: Path | None = None) -> Prepared:
    """Build missing or stale releases, then copy into the workspace every file the trainee does not have yet."""
    course = (course or paths.course_dir()).resolve()
    root = (workspace or workspace_dir()).resolve()
    names = layout.source_assignments(course)
    result = Prepared(root)
    stale = release_missing(course, names)
    if stale:
        for b in build_course(course, stale):
            (result.built if b.ok else result.not_built).append(b.assignment if b.ok else f"{b.assignment}: {b.error}")
    root.mkdir(parents=True, exist_ok=True)
    _copy_start_pages(course, root, result)
    for name in names:
        rel = layout.release_dir(course) / name
        for src in sorted(p for p in rel.rglob("*") if p.is_file()):
            dest = root / name / src.relative_to(rel)
            if dest.exists():
                result.kept.append(dest)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            result.copied.append(dest)
    return result


def _copy_start_pages(course: Path, root: Path, result: Prepared) -> None:
    """The start pages are the course's, not the trainee's work: a changed page replaces the old copy."""
    folder = start_dir(course)
    if not folder.is_dir():
        return
    for src in sorted(p for p in folder.iterdir() if p.is_file()):
        dest = root / src.name
        if dest.exists() and dest.read_bytes() == src.read_bytes():
            result.kept.append(dest)
            continue
        shutil.copy2(src, dest)
        result.copied.append(dest)

