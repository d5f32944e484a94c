"""Reading an nbgrader gradebook through nbgrader's own API, in a few bulk queries.

Per-object calls (`find_submission_notebook`, `find_grade` …) cost one round trip each: 1,000
trainees × 20 assignments × several cells is hundreds of thousands of queries. Instead we query
`Gradebook.db` — the SQLAlchemy session nbgrader's API itself uses — with nbgrader's ORM models
(Grade, GradeCell, TaskCell, SubmittedNotebook, …): one joined query per cell kind, read straight
into pandas. Scores come from `Grade.score`, nbgrader's own rule (manual beats auto, plus extra credit).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from ..errors import ShifuError

GRADE_COLUMNS = ["trainee", "assignment", "notebook", "cell", "cell_type", "max", "score", "auto_score",
                 "manual_score", "needs_manual_grade", "timestamp", "duedate"]


@dataclass
class GradebookData:
    """Everything progress needs from a gradebook, as plain tables."""

    grades: pd.DataFrame        # one row per graded cell of a submitted notebook (GRADE_COLUMNS)
    sources: pd.DataFrame       # assignment, notebook, cell, source: the graded cells' source (names the scenario)
    submissions: pd.DataFrame   # trainee, assignment, timestamp
    students: pd.DataFrame      # trainee, name
    assignments: pd.DataFrame   # assignment, duedate
    url: str


def default_db_url(course_dir: Path) -> str:
    """The gradebook course/nbgrader_config.py uses: SHIFU_GRADEBOOK_URL, else <course>/gradebook.db."""
    return os.environ.get("SHIFU_GRADEBOOK_URL") or f"sqlite:///{(course_dir / 'gradebook.db').resolve()}"


def _check_url(url: str) -> None:
    """nbgrader's Gradebook creates tables wherever it points; refuse a path that is not a gradebook."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ShifuError(f"gradebook URL {url!r} is not a database URL — fix: pass --db sqlite:////absolute/path/gradebook.db")
    if parsed.get_backend_name() == "sqlite":
        db_path = parsed.database or ""
        if not db_path or db_path == ":memory:" or not Path(db_path).is_file():
            raise ShifuError(f"no gradebook at {db_path or url} — fix: run `nbgrader generate_assignment` in the course "
                             "folder first, or pass --course DIR / --db URL for an existing gradebook")
    try:
        engine = create_engine(url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0]
        raise ShifuError(f"cannot open gradebook {url}: {reason} — fix: check --db / SHIFU_GRADEBOOK_URL")
    if not {"assignment", "student", "grade", "submitted_assignment"} <= tables:
        raise ShifuError(f"{url} is not an nbgrader gradebook (no nbgrader tables) — fix: point --db at the course's gradebook.db")


@contextlib.contextmanager
def open_gradebook(url: str) -> Iterator["object"]:
    """An nbgrader Gradebook on an existing gradebook only; closed on exit."""
    from nbgrader.api import Course, Gradebook
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    _check_url(url)
    engine = create_engine(url)
    try:
        with Session(engine) as s:  # reuse the course id already there, so opening writes nothing
            course_id = s.scalars(select(Course.id)).first() or "default_course"
    finally:
        engine.dispose()
    gb = Gradebook(url, course_id=course_id)
    try:
        yield gb
    finally:
        gb.close()


def read_gradebook(gb) -> GradebookData:
    """All graded cells, submissions, students and assignments of an open Gradebook."""
    from nbgrader import api as nb

    db = gb.db
    frames = []
    for cell_cls in (nb.GradeCell, nb.TaskCell):
        query = (
            db.query(nb.Student.id, nb.Assignment.name, nb.Notebook.name, cell_cls.name, cell_cls.cell_type,
                     cell_cls.max_score, nb.Grade.score, nb.Grade.auto_score, nb.Grade.manual_score,
                     nb.Grade.needs_manual_grade, nb.SubmittedAssignment.timestamp, nb.Assignment.duedate)
            .select_from(nb.Grade)
            .join(cell_cls, nb.Grade.cell_id == cell_cls.id)
            .join(nb.SubmittedNotebook, nb.Grade.notebook_id == nb.SubmittedNotebook.id)
            .join(nb.Notebook, nb.SubmittedNotebook.notebook_id == nb.Notebook.id)
            .join(nb.SubmittedAssignment, nb.SubmittedNotebook.assignment_id == nb.SubmittedAssignment.id)
            .join(nb.Assignment, nb.SubmittedAssignment.assignment_id == nb.Assignment.id)
            .join(nb.Student, nb.SubmittedAssignment.student_id == nb.Student.id)
        )
        frames.append(pd.DataFrame(query.all(), columns=GRADE_COLUMNS))
    grades = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    grades = grades.astype({"max": float, "score": float, "needs_manual_grade": bool})
    # A markdown task marked `grade: true` is saved by nbgrader both as a GradeCell and a TaskCell of the
    # same name, each with its own Grade: one cell, counted once, the graded copy first.
    grades = (grades.assign(_pending=grades["needs_manual_grade"], _manual=grades["manual_score"].isna())
              .sort_values(["_pending", "_manual"], kind="stable")
              .drop_duplicates(["trainee", "assignment", "notebook", "cell"])
              .drop(columns=["_pending", "_manual"]).sort_index().reset_index(drop=True))
    for col in ("timestamp", "duedate"):
        grades[col] = pd.to_datetime(grades[col])

    subs = pd.DataFrame(
        db.query(nb.Student.id, nb.Assignment.name, nb.SubmittedAssignment.timestamp)
        .select_from(nb.SubmittedAssignment)
        .join(nb.Student, nb.SubmittedAssignment.student_id == nb.Student.id)
        .join(nb.Assignment, nb.SubmittedAssignment.assignment_id == nb.Assignment.id)
        .all(),
        columns=["trainee", "assignment", "timestamp"],
    )
    subs["timestamp"] = pd.to_datetime(subs["timestamp"])
    students = pd.DataFrame(db.query(nb.Student.id, nb.Student.first_name, nb.Student.last_name).all(),
                            columns=["trainee", "first_name", "last_name"])
    students["name"] = (students["last_name"].fillna("") + students["first_name"].fillna("")).str.strip()
    sources = pd.DataFrame(
        db.query(nb.Assignment.name, nb.Notebook.name, nb.SourceCell.name, nb.SourceCell.source)
        .select_from(nb.SourceCell)
        .join(nb.Notebook, nb.SourceCell.notebook_id == nb.Notebook.id)
        .join(nb.Assignment, nb.Notebook.assignment_id == nb.Assignment.id)
        .all(),
        columns=["assignment", "notebook", "cell", "source"],
    )
    assignments = pd.DataFrame(db.query(nb.Assignment.name, nb.Assignment.duedate).all(), columns=["assignment", "duedate"])
    assignments["duedate"] = pd.to_datetime(assignments["duedate"])
    return GradebookData(grades=grades, sources=sources, submissions=subs, students=students[["trainee", "name"]],
                         assignments=assignments, url=str(gb.engine.url))


def load_gradebook(url: str) -> GradebookData:
    with open_gradebook(url) as gb:
        return read_gradebook(gb)
