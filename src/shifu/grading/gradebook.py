"""The gradebook, through nbgrader's own API only (SQLite, PostgreSQL or any SQLAlchemy URL).

The one home (issue 10) for:
- where a course's gradebook is (`gradebook_url`), by the rule nbgrader itself follows;
- whether it is an nbgrader gradebook at all (`require_gradebook`) and of this nbgrader's schema
  (`check_schema`, with nbgrader's own migration on request);
- opening one without writing to it (`open_gradebook`), and one engine per URL while grading
  (`shared_engines`);
- the grades of one submission (`submission_grades`) or of every submission (`read_scores`).
The whole gradebook as pandas tables, for progress reports, is read in gradebook_tables.py.

All writes happen inside nbgrader's own preprocessors (SaveAutoGrades, AssignLatePenalties, ...),
run one at a time from the grading loop, so the gradebook never has two writers at once.

Errors speak of the gradebook URL and where it is set (SHIFU_GRADEBOOK_URL, or
CourseDirectory.db_url in the course's nbgrader_config.py), never of a command's flags.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from shifu.content import paths
from shifu.content.errors import ShifuError

if TYPE_CHECKING:
    from types import ModuleType

    from nbgrader.api import Gradebook
    from traitlets.config import Config

# where a mentor sets the gradebook URL; named in every fix below
SETTING = "SHIFU_GRADEBOOK_URL, or CourseDirectory.db_url in the course's nbgrader_config.py"

# tables every nbgrader gradebook has (nbgrader.api's models); a database without them is something else
NBGRADER_TABLES = {"assignment", "student", "grade", "submitted_assignment"}


def _api() -> "ModuleType":
    """nbgrader.api, imported on first use: it pulls in nbformat, which every `shifu` command that only
    names this module (the lab, progress) would otherwise load at start-up (see grading.skip_slow_imports)."""
    from shifu.grading import skip_slow_imports

    skip_slow_imports()
    import nbgrader.api

    return nbgrader.api


# -- where the gradebook is -------------------------------------------------------------------------

def gradebook_url(course: Path, db_url: str | None = None, config: "Config | None" = None) -> str:
    """The course's gradebook URL: DB_URL when given, else the course configuration's
    CourseDirectory.db_url (course/nbgrader_config.py reads SHIFU_GRADEBOOK_URL), else nbgrader's
    default, sqlite:///<course>/gradebook.db (absolute).

    config: nbgrader's configuration already loaded for COURSE (an AutogradeApp's, or
    nbgrader_course.load_config's); loaded from COURSE when not given. Errors: a course
    configuration that cannot be loaded is a ShifuError naming the file.
    """
    if db_url:
        return db_url
    if config is None:
        from shifu.grading.nbgrader_course import load_config

        config = load_config(Path(course))
    configured = config.CourseDirectory.get("db_url") if "CourseDirectory" in config else None
    return str(configured) if configured else "sqlite:///" + str((Path(course) / "gradebook.db").resolve())


def redact(db_url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return db_url


# -- is it a gradebook, of this nbgrader? -----------------------------------------------------------

def require_gradebook(url: str) -> dict[str, set[str]]:
    """The gradebook's columns by table (table → column names), once it is known to be one.

    nbgrader's Gradebook creates tables wherever it points, so a path that is not a gradebook yet
    (a missing SQLite file, a foreign database) is refused before anything opens it. Reads only.
    Errors (ShifuError): not a database URL; no SQLite file there; the database cannot be opened;
    no nbgrader tables in it.
    """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ShifuError(f"gradebook URL {url!r} is not a database URL — fix: set it to e.g. "
                         f"sqlite:////absolute/path/gradebook.db or postgresql://user@host/db ({SETTING})") from None
    if parsed.get_backend_name() == "sqlite":
        db_path = parsed.database or ""
        if not db_path or db_path == ":memory:" or not Path(db_path).is_file():
            raise ShifuError(f"no gradebook at {db_path or url} — fix: run `nbgrader generate_assignment` in the course "
                             f"folder first, or point the gradebook URL ({SETTING}) at an existing gradebook")
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
        raise ShifuError(f"cannot open gradebook {redact(url)}: {reason} — fix: check the gradebook URL ({SETTING})") from None
    if not NBGRADER_TABLES <= tables:
        raise ShifuError(f"{redact(url)} is not an nbgrader gradebook (no nbgrader tables) — fix: point the gradebook URL "
                         f"({SETTING}) at the course's gradebook.db")
    return columns


def schema_gaps(columns: dict[str, set[str]]) -> list[str]:
    """Columns an older nbgrader's gradebook lacks against this nbgrader's models, e.g. 'assignment.course_id'.

    Compared with nbgrader.api's own table definitions (Base.metadata), so it follows the installed nbgrader.
    A missing column needs nbgrader's migration; a missing *table* does not (nbgrader's Gradebook creates
    missing tables when it opens a database; its migrations leave e.g. task_cells to that).
    """
    gaps = []
    for name, table in sorted(_api().Base.metadata.tables.items()):
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

    env = paths.venv_env()  # nbgrader runs `alembic` as a subprocess
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

    Errors: no gradebook (see require_gradebook); an old gradebook without upgrade is a ShifuError naming
    what is missing and the exact command.
    """
    gaps = schema_gaps(require_gradebook(url))
    if not gaps:
        return []
    if not upgrade:
        shown = ", ".join(gaps[:4]) + (f" and {len(gaps) - 4} more" if len(gaps) > 4 else "")
        raise ShifuError(f"{url} was made by an older nbgrader (its tables lack the columns {shown}) — fix: upgrade it with nbgrader's own "
                         f"migration: `{upgrade_command(url)}` (it keeps a backup copy), or let the report do it: "
                         "`shifu progress --upgrade`")
    upgrade_gradebook(url)
    left = schema_gaps(require_gradebook(url))
    if left:
        raise ShifuError(f"{url} still lacks {', '.join(left[:4])} after `nbgrader db upgrade` — fix: check the nbgrader version "
                         "that made it, and upgrade with that nbgrader's help")
    return [f"{url}: upgraded to this nbgrader's gradebook schema with `{upgrade_command(url)}` (a backup copy was kept)"]


# -- opening it -------------------------------------------------------------------------------------

@contextlib.contextmanager
def open_gradebook(url: str, upgrade: bool = False, checked: bool = False) -> Iterator["Gradebook"]:
    """An nbgrader Gradebook on an existing gradebook only, of this nbgrader's schema (see check_schema); closed on exit.

    checked: the caller has just run check_schema on this URL (it is not repeated)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    if not checked:
        check_schema(url, upgrade)
    engine = create_engine(url)
    try:
        with Session(engine) as s:  # reuse the course id already there, so opening writes nothing
            course_id = s.scalars(select(_api().Course.id)).first() or "default_course"
    finally:
        engine.dispose()
    gb = _api().Gradebook(url, course_id=course_id)
    try:
        yield gb
    finally:
        gb.close()


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
    api = _api()
    original = api.create_engine
    original_inspect = api.inspect
    metadata = api.Base.metadata
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

    api.create_engine = create_engine
    api.inspect = inspect
    metadata.create_all = create_all  # type: ignore[method-assign]
    try:
        yield
    finally:
        api.create_engine = original
        api.inspect = original_inspect
        del metadata.create_all
        for engine in engines.values():
            engine.dispose()


# -- what it holds ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellGrade:
    """One graded cell of a submitted notebook, as the formgrader shows it (points)."""

    name: str                   # the cell's grade id
    notebook: str
    score: float                # nbgrader's Grade.score: the manual score if set, else the automatic one
    max_score: float
    needs_manual_grade: bool
    auto_score: float | None


@dataclass(frozen=True)
class SubmissionGrades:
    """One trainee's submission of one assignment, as the gradebook holds it (points; seconds late)."""

    student: str
    assignment: str
    score: float
    max_score: float
    late_penalty: float
    seconds_late: float
    cell_grades: tuple[CellGrade, ...]

    @property
    def cells(self) -> dict[str, tuple[float, float]]:
        """grade id → (score, max score), over all the submission's notebooks."""
        return {g.name: (g.score, g.max_score) for g in self.cell_grades}

    @property
    def needs_manual(self) -> list[str]:
        """Grade ids still waiting for a mentor, in notebook order."""
        return [g.name for g in self.cell_grades if g.needs_manual_grade]


def _grades_of(sub: Any) -> SubmissionGrades:
    """An nbgrader SubmittedAssignment → SubmissionGrades (a missing score is 0, as the formgrader shows it)."""
    cells = tuple(
        CellGrade(name=g.name, notebook=nb.name, score=float(g.score or 0), max_score=float(g.max_score or 0),
                  needs_manual_grade=bool(g.needs_manual_grade),
                  auto_score=None if g.auto_score is None else float(g.auto_score))
        for nb in sub.notebooks for g in nb.grades)
    return SubmissionGrades(student=sub.student.id, assignment=sub.assignment.name, score=float(sub.score or 0),
                            max_score=float(sub.max_score or 0), late_penalty=float(sub.late_submission_penalty or 0),
                            seconds_late=float(sub.total_seconds_late or 0), cell_grades=cells)


def assignment_ids(db_url: str, course_id: str) -> set[str]:
    """Names of the assignments the gradebook knows (made by `nbgrader generate_assignment`)."""
    api = _api()
    with api.Gradebook(db_url, course_id) as gb:
        return {a.name for a in gb.assignments}


def notebook_ids(db_url: str, course_id: str, assignment: str) -> list[str]:
    """Names (file stems) of the assignment's notebooks."""
    api = _api()
    with api.Gradebook(db_url, course_id) as gb:
        return [nb.name for nb in gb.find_assignment(assignment).notebooks]


def submission_grades(db_url: str, course_id: str, assignment: str, student: str) -> SubmissionGrades | None:
    """The submission's grades as the formgrader would show them, or None when there is none."""
    api = _api()
    with api.Gradebook(db_url, course_id) as gb:
        try:
            return _grades_of(gb.find_submission(assignment, student))
        except api.MissingEntry:
            return None


@dataclass(frozen=True)
class SourceCell:
    """A cell of the released notebook as `nbgrader generate_assignment` stored it."""

    name: str                   # grade id
    cell_type: str              # code | markdown
    source: str
    checksum: str | None
    locked: bool


@dataclass(frozen=True)
class NotebookCells:
    """What the gradebook holds of one assignment notebook: its stored cells and graded cells' points."""

    source_cells: dict[str, SourceCell]     # grade id → cell
    points: dict[str, float]                # grade id of a graded cell → its max score


def notebook_cells(db_url: str, course_id: str, assignment: str, notebook: str) -> NotebookCells | None:
    """The gradebook's record of NOTEBOOK (a file stem) of ASSIGNMENT, or None when it is not part of it."""
    api = _api()
    with api.Gradebook(db_url, course_id) as gb:
        try:
            nb = gb.find_notebook(notebook, assignment)
        except api.MissingEntry:
            return None
        return NotebookCells(
            source_cells={c.name: SourceCell(c.name, c.cell_type, c.source or "", c.checksum, bool(c.locked))
                          for c in nb.source_cells},
            points={c.name: float(c.max_score) for c in nb.grade_cells})


def assignment_max_score(db_url: str, course_id: str, assignment: str) -> float:
    """The assignment's total points (0 when the gradebook does not know it)."""
    api = _api()
    with api.Gradebook(db_url, course_id) as gb:
        try:
            return float(gb.find_assignment(assignment).max_score)
        except api.MissingEntry:
            return 0.0


def read_scores(course: Path, db_url: str | None = None) -> list[SubmissionGrades]:
    """Every submission's grades, by assignment, from the course's gradebook (see gradebook_url); writes nothing.

    Errors: no gradebook there, or one an older nbgrader made (ShifuError, see check_schema).
    """
    with open_gradebook(gradebook_url(course, db_url)) as gb:
        return [_grades_of(sub) for assignment in gb.assignments for sub in assignment.submissions]
