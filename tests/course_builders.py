"""A one-off nbgrader course in a temporary folder, built from the project's own source notebooks."""
from __future__ import annotations

import shutil
from pathlib import Path

from shifu.content import paths
from shifu.course import layout


def built_course(course: Path, *assignments: str) -> str:
    """Copy the project's nbgrader config and the named assignments' source folders into `course` (created
    here), build them into a SQLite gradebook in the course folder and return that gradebook's URL."""
    from shifu.course.build import build_course

    course.mkdir(parents=True)
    shutil.copy2(paths.course_dir() / "nbgrader_config.py", course / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(layout.source_dir() / a, layout.source_dir(course) / a)
    db = "sqlite:///" + str(course / "gradebook.db")
    assert all(b.ok for b in build_course(course, list(assignments), db_url=db))
    return db
