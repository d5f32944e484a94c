"""Reads from the gradebook, through nbgrader's API only (SQLite, PostgreSQL or any SQLAlchemy URL).

All writes happen inside nbgrader's own preprocessors (SaveAutoGrades, AssignLatePenalties, ...),
run one at a time from the grading loop, so the gradebook never has two writers at once.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import nbgrader.api
from nbgrader.api import Gradebook, MissingEntry


@contextlib.contextmanager
def shared_engines() -> Iterator[None]:
    """One SQLAlchemy engine per database URL while grading.

    Each nbgrader preprocessor opens `Gradebook(db_url)`, which creates a new engine, so every
    query is compiled again, hundreds per submission. Handing back the same engine keeps
    SQLAlchemy's compiled-statement cache; sessions, transactions and commits stay nbgrader's own
    (Gradebook.close() still disposes the connection pool after each use).

    Each `Gradebook(...)` also lists the database's tables and checks every table of the schema
    (create_all: ~15 queries, a dozen times per submission). The schema cannot change while this
    run holds the course lock, so once an engine's tables were checked (and made, where missing)
    the checks are answered from that: the tables exist.
    """
    original = nbgrader.api.create_engine
    original_inspect = nbgrader.api.inspect
    metadata = nbgrader.api.Base.metadata
    engines: dict[tuple, Any] = {}
    checked: set[int] = set()   # id() of engines whose tables were checked

    def create_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = original(url, *args, **kwargs)
        return engines[key]

    class _TablesExist:
        @staticmethod
        def get_table_names() -> list[str]:
            return [table.name for table in metadata.sorted_tables]

    def inspect(subject: Any) -> Any:
        return _TablesExist() if id(subject) in checked else original_inspect(subject)

    def create_all(bind: Any = None, **kwargs: Any) -> None:
        if bind is not None and id(bind) in checked:
            return
        type(metadata).create_all(metadata, bind=bind, **kwargs)
        if bind is not None and any(bind is e for e in engines.values()):
            checked.add(id(bind))

    nbgrader.api.create_engine = create_engine
    nbgrader.api.inspect = inspect
    metadata.create_all = create_all  # type: ignore[method-assign]
    try:
        yield
    finally:
        nbgrader.api.create_engine = original
        nbgrader.api.inspect = original_inspect
        del metadata.create_all
        for engine in engines.values():
            engine.dispose()


@dataclass(frozen=True)
class CellGrade:
    name: str
    notebook: str
    score: float
    max_score: float
    needs_manual_grade: bool
    auto_score: float | None


@dataclass(frozen=True)
class SubmissionGrades:
    score: float
    max_score: float
    late_penalty: float
    seconds_late: float
    cells: tuple[CellGrade, ...]


def assignment_ids(db_url: str, course_id: str) -> set[str]:
    with Gradebook(db_url, course_id) as gb:
        return {a.name for a in gb.assignments}


def notebook_ids(db_url: str, course_id: str, assignment: str) -> list[str]:
    with Gradebook(db_url, course_id) as gb:
        return [nb.name for nb in gb.find_assignment(assignment).notebooks]


def submission_grades(db_url: str, course_id: str, assignment: str, student: str) -> SubmissionGrades | None:
    """The submission's grades as the formgrader would show them, or None when there is none."""
    with Gradebook(db_url, course_id) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        cells = tuple(
            CellGrade(name=g.name, notebook=nb.name, score=float(g.score), max_score=float(g.max_score),
                      needs_manual_grade=bool(g.needs_manual_grade),
                      auto_score=None if g.auto_score is None else float(g.auto_score))
            for nb in sub.notebooks for g in nb.grades)
        return SubmissionGrades(score=float(sub.score), max_score=float(sub.max_score),
                                late_penalty=float(sub.late_submission_penalty or 0),
                                seconds_late=float(sub.total_seconds_late or 0), cells=cells)


def assignment_max_score(db_url: str, course_id: str, assignment: str) -> float:
    with Gradebook(db_url, course_id) as gb:
        try:
            return float(gb.find_assignment(assignment).max_score)
        except MissingEntry:
            return 0.0
