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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd

from ..errors import ShifuError

GRADE_COLUMNS = ["trainee", "assignment", "notebook", "cell", "cell_type", "max", "score", "auto_score",
                 "manual_score", "needs_manual_grade", "timestamp", "duedate"]

COMMENT_COLUMNS = ["trainee", "assignment", "notebook", "cell", "comment"]


@dataclass
class GradebookData:
    """Everything progress needs from a gradebook, as plain tables."""

    grades: pd.DataFrame        # one row per graded cell of a submitted notebook (GRADE_COLUMNS)
    sources: pd.DataFrame       # assignment, notebook, cell, source: the graded cells' source (names the scenario)
    submissions: pd.DataFrame   # trainee, assignment, timestamp
    students: pd.DataFrame      # trainee, name
    assignments: pd.DataFrame   # assignment, duedate
    url: str
    # trainee, assignment, notebook, cell, comment: the formgrader comments mentors wrote (manual_comment)
    comments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMMENT_COLUMNS))


def default_db_url(course_dir: Path) -> str:
    """The gradebook course/nbgrader_config.py uses: SHIFU_GRADEBOOK_URL, else <course>/gradebook.db."""
    return os.environ.get("SHIFU_GRADEBOOK_URL") or f"sqlite:///{(course_dir / 'gradebook.db').resolve()}"


def _check_url(url: str) -> dict[str, set[str]]:
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
            insp = inspect(engine)
            tables = set(insp.get_table_names())
            columns = {t: {c["name"] for c in insp.get_columns(t)} for t in tables}
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0]
        raise ShifuError(f"cannot open gradebook {url}: {reason} — fix: check --db / SHIFU_GRADEBOOK_URL")
    if not {"assignment", "student", "grade", "submitted_assignment"} <= tables:
        raise ShifuError(f"{url} is not an nbgrader gradebook (no nbgrader tables) — fix: point --db at the course's gradebook.db")
    return columns


def schema_gaps(columns: dict[str, set[str]]) -> list[str]:
    """Columns an older nbgrader's gradebook lacks against this nbgrader's models, e.g. 'assignment.course_id'.

    Compared with nbgrader.api's own table definitions (Base.metadata), so it follows the installed nbgrader.
    A missing column needs nbgrader's migration; a missing *table* does not (nbgrader's Gradebook creates
    missing tables when it opens a database; its migrations leave e.g. task_cells to that).
    """
    from nbgrader.api import Base

    gaps = []
    for name, table in sorted(Base.metadata.tables.items()):
        if name in columns:
            gaps += [f"{name}.{c.name}" for c in table.columns if c.name not in columns[name]]
    return gaps


def upgrade_command(url: str) -> str:
    """The exact command that upgrades a gradebook with nbgrader's own migrations (it backs up a SQLite file first)."""
    return f"nbgrader db upgrade --db={url}"


def upgrade_gradebook(url: str) -> str:
    """Run nbgrader's own migration (`nbgrader db upgrade`, which copies a SQLite file to <file>.<timestamp> first).

    Returns nbgrader's log. Errors: a failed migration is a ShifuError with nbgrader's last lines.
    """
    import subprocess
    import sys
    import tempfile

    env = dict(os.environ)
    # nbgrader runs `alembic` as a subprocess: the venv's bin must be on PATH
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with tempfile.TemporaryDirectory() as cwd:  # no nbgrader_config.py of some course around to interfere
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "db", "upgrade", f"--db={url}"], cwd=cwd, env=env,
                              capture_output=True, text=True)
    log = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        tail = " / ".join(log.splitlines()[-3:])
        raise ShifuError(f"nbgrader could not upgrade {url}: {tail} — fix: run `{upgrade_command(url)}` yourself and read its output")
    return log


def check_schema(url: str, upgrade: bool = False) -> list[str]:
    """Refuse (or, with upgrade=True, migrate) a gradebook an older nbgrader made; returns notes on what was done.

    Errors: an old gradebook without upgrade is a ShifuError naming what is missing and the exact command.
    """
    gaps = schema_gaps(_check_url(url))
    if not gaps:
        return []
    if not upgrade:
        shown = ", ".join(gaps[:4]) + (f" and {len(gaps) - 4} more" if len(gaps) > 4 else "")
        raise ShifuError(f"{url} was made by an older nbgrader (its tables lack the columns {shown}) — fix: upgrade it with nbgrader's own "
                         f"migration: `{upgrade_command(url)}` (it keeps a backup copy), or pass --upgrade")
    upgrade_gradebook(url)
    left = schema_gaps(_check_url(url))
    if left:
        raise ShifuError(f"{url} still lacks {', '.join(left[:4])} after `nbgrader db upgrade` — fix: check the nbgrader version "
                         "that made it, and upgrade with that nbgrader's help")
    return [f"{url}: upgraded to this nbgrader's gradebook schema with `{upgrade_command(url)}` (a backup copy was kept)"]


@contextlib.contextmanager
def open_gradebook(url: str, upgrade: bool = False) -> Iterator["object"]:
    """An nbgrader Gradebook on an existing gradebook only, of this nbgrader's schema (see check_schema); closed on exit."""
    from nbgrader.api import Course, Gradebook
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    check_schema(url, upgrade)
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
    comments = pd.DataFrame(
        db.query(nb.Student.id, nb.Assignment.name, nb.Notebook.name, nb.BaseCell.name, nb.Comment.manual_comment)
        .select_from(nb.Comment)
        .join(nb.BaseCell, nb.Comment.cell_id == nb.BaseCell.id)
        .join(nb.SubmittedNotebook, nb.Comment.notebook_id == nb.SubmittedNotebook.id)
        .join(nb.Notebook, nb.SubmittedNotebook.notebook_id == nb.Notebook.id)
        .join(nb.SubmittedAssignment, nb.SubmittedNotebook.assignment_id == nb.SubmittedAssignment.id)
        .join(nb.Assignment, nb.SubmittedAssignment.assignment_id == nb.Assignment.id)
        .join(nb.Student, nb.SubmittedAssignment.student_id == nb.Student.id)
        .filter(nb.Comment.manual_comment.isnot(None))
        .all(),
        columns=COMMENT_COLUMNS,
    ).drop_duplicates(["trainee", "assignment", "notebook", "cell"])
    return GradebookData(grades=grades, sources=sources, submissions=subs, students=students[["trainee", "name"]],
                         assignments=assignments, url=str(gb.engine.url), comments=comments)


def load_gradebook(url: str, upgrade: bool = False) -> GradebookData:
    with open_gradebook(url, upgrade) as gb:
        return read_gradebook(gb)
