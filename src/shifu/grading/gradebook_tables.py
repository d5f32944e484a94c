"""The whole gradebook as pandas tables, for progress reports: nbgrader's own models, a few bulk queries.

Opening and checking the gradebook is gradebook.py's (open_gradebook, check_schema); this module only reads.

Per-object calls (`find_submission_notebook`, `find_grade` …) cost one round trip each: 1,000
trainees × 20 assignments × several cells is hundreds of thousands of queries. Instead we query
`Gradebook.db` — the SQLAlchemy session nbgrader's API itself uses — with nbgrader's ORM models
(Grade, GradeCell, TaskCell, SubmittedNotebook, …): one joined query per cell kind, read straight
into pandas. Scores come from `Grade.score`, nbgrader's own rule (manual beats auto, plus extra credit).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from shifu.grading.gradebook import open_gradebook

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


Convert = Callable[[np.ndarray], np.ndarray]  # one chunk of one column (an object array) → its values


def _dates(values: pd.Series) -> pd.Series:
    """nbgrader's naive UTC datetimes: datetime objects (PostgreSQL) or SQLite's text, '2026-03-01 10:00:00.000000'."""
    return pd.to_datetime(pd.Series(values, dtype=object), format="mixed") if len(values) else pd.Series(values, dtype="datetime64[ns]")


def _flags(values: np.ndarray) -> np.ndarray:
    """Booleans: True/False (PostgreSQL) or 1/0 (SQLite); NULL is False."""
    return np.where(np.equal(values, None), False, values).astype(bool)


def floats(values: np.ndarray) -> np.ndarray:
    """Driver values → float64, None → NaN."""
    return np.where(np.equal(values, None), np.nan, values).astype(float)


def texts(values: np.ndarray) -> np.ndarray:
    return values


def positions_in(index: pd.Index) -> Convert:
    """Driver values → their positions in `index` (-1 where absent): joins a big table to a small one by id,
    so a million grades keep integers, not a million id strings."""
    return lambda values: index.get_indexer(values) if len(index) else np.full(len(values), -1)


def _frame(db, columns: dict[str, tuple[object, Convert]], chunk: int = 200_000) -> pd.DataFrame:
    """One SELECT of nbgrader's columns, fetched through the database driver's own cursor a chunk at a time.

    columns: result name → (an nbgrader model column, a converter of one chunk's values to an array).
    The statement is built from nbgrader's models and compiled for the gradebook's dialect (SQLite or
    PostgreSQL). SQLAlchemy's per-row result processing costs four times as much on a million grades,
    and converting each chunk as it arrives keeps the peak at one chunk of Python objects. Dates come
    raw (text on SQLite): the caller reads them with `pd.to_datetime`.
    """
    from sqlalchemy import select

    conn = db.connection()
    stmt = select(*(col for col, _ in columns.values())).compile(dialect=conn.dialect)
    convert = [conv for _, conv in columns.values()]
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(stmt))
        while True:
            rows = cursor.fetchmany(chunk)
            if not rows:
                break
            block = np.empty((len(rows), len(convert)), dtype=object)
            block[:] = rows  # the driver's tuples, transposed in C (zip(*rows) costs five times as much)
            for k in range(len(convert)):
                parts[k].append(convert[k](block[:, k]))
    finally:
        cursor.close()
    return pd.DataFrame({name: (np.concatenate(parts[k]) if parts[k] else convert[k](np.empty(0, dtype=object)))
                         for k, name in enumerate(columns)}, columns=list(columns))


def read_gradebook(gb) -> GradebookData:
    """All graded cells, submissions, students and assignments of an open Gradebook.

    One SELECT per nbgrader table (grade, grade_cells/task_cells with base_cell, submitted_notebook,
    submitted_assignment, notebook, assignment, student, source_cell, comment), joined here on their
    ids: the grade table is read as plain columns, a few bytes per grade, which is what lets a report
    over 10,000 trainees × 20 assignments (over a million grades) fit in seconds and a few hundred MB.
    Scores follow nbgrader's own Grade.score rule: the manual score if set, else the automatic one,
    plus extra credit; neither set is 0.
    """
    from nbgrader import api as nb

    db = gb.db
    T, F = texts, floats
    # the small tables: cells of each kind with their notebook and assignment
    base = _frame(db, {"id": (nb.BaseCell.id, T), "cell": (nb.BaseCell.name, T), "notebook_id": (nb.BaseCell.notebook_id, T)})
    nbs = _frame(db, {"notebook_id": (nb.Notebook.id, T), "notebook": (nb.Notebook.name, T),
                      "assignment_id": (nb.Notebook.assignment_id, T)})
    asg = _frame(db, {"assignment_id": (nb.Assignment.id, T), "assignment": (nb.Assignment.name, T),
                      "duedate": (nb.Assignment.duedate, T)})
    asg["duedate"] = _dates(asg["duedate"])
    base = base.merge(nbs.merge(asg, on="assignment_id", how="left"), on="notebook_id", how="left")
    kinds = [_frame(db, {"id": (cls.id, T), "cell_type": (cls.cell_type, T), "max": (cls.max_score, F)}).assign(_kind=rank)
             for rank, cls in enumerate((nb.GradeCell, nb.TaskCell))]
    cells = pd.concat(kinds, ignore_index=True).merge(base, on="id", how="inner").reset_index(drop=True)
    # submissions: submitted notebook → submitted assignment → student, assignment, timestamp
    sa = _frame(db, {"id": (nb.SubmittedAssignment.id, T), "trainee": (nb.SubmittedAssignment.student_id, T),
                     "assignment_id": (nb.SubmittedAssignment.assignment_id, T), "timestamp": (nb.SubmittedAssignment.timestamp, T)})
    sa["timestamp"] = _dates(sa["timestamp"])
    sn = _frame(db, {"id": (nb.SubmittedNotebook.id, T), "sa": (nb.SubmittedNotebook.assignment_id, positions_in(pd.Index(sa["id"])))})
    sn_sa = sn["sa"].to_numpy()
    # a markdown task marked `grade: true` is saved by nbgrader both as a GradeCell and a TaskCell of the
    # same id: its grade joins both rows of `cells` (deduplicated below, the graded copy first)
    cell_ids = pd.Index(cells["id"].drop_duplicates())
    g = _frame(db, {"cell": (nb.Grade.cell_id, positions_in(cell_ids)), "snb": (nb.Grade.notebook_id, positions_in(pd.Index(sn["id"]))),
                    "auto_score": (nb.Grade.auto_score, F), "manual_score": (nb.Grade.manual_score, F),
                    "extra_credit": (nb.Grade.extra_credit, F), "needs_manual_grade": (nb.Grade.needs_manual_grade, _flags)})
    sub_pos = np.where(g["snb"].to_numpy() >= 0, sn_sa[g["snb"].to_numpy()] if len(sn_sa) else -1, -1)
    g["sub"] = sub_pos
    g = g[(g["cell"] >= 0) & (g["sub"] >= 0)]
    # every cells row of each id (a GradeCell and a TaskCell of one id give two rows)
    rows_of = pd.DataFrame({"cell": cell_ids.get_indexer(cells["id"]), "row": np.arange(len(cells))})
    g = g.merge(rows_of, on="cell", how="inner", sort=False)
    cell_pos, sub_pos = g["row"].to_numpy(), g["sub"].to_numpy()
    auto, manual = g["auto_score"].to_numpy(), g["manual_score"].to_numpy()
    extra = np.nan_to_num(g["extra_credit"].to_numpy())
    # nbgrader's Grade.score: the manual score if set, else the automatic one, plus extra credit; else 0
    score = np.where(~np.isnan(manual), manual + extra, np.where(~np.isnan(auto), auto + extra, 0.0))

    def cat(values: pd.Series, pos: np.ndarray) -> pd.Categorical:
        whole = pd.Categorical(values)
        return pd.Categorical.from_codes(whole.codes[pos], categories=whole.categories)

    grades = pd.DataFrame({
        "trainee": cat(sa["trainee"], sub_pos),
        "assignment": cat(cells["assignment"], cell_pos),
        "notebook": cat(cells["notebook"], cell_pos),
        "cell": cat(cells["cell"], cell_pos),
        "cell_type": cat(cells["cell_type"], cell_pos),
        "max": cells["max"].to_numpy()[cell_pos],
        "score": score,
        "auto_score": auto,
        "manual_score": manual,
        "needs_manual_grade": g["needs_manual_grade"].to_numpy(),
        "timestamp": sa["timestamp"].to_numpy()[sub_pos],
        "duedate": cells["duedate"].to_numpy()[cell_pos],
        "_kind": cells["_kind"].to_numpy()[cell_pos],
        "_sub": sub_pos,
    }, columns=GRADE_COLUMNS + ["_kind", "_sub"])
    dup = grades.duplicated(["_sub", "notebook", "cell"], keep=False)
    if dup.any():
        # one cell, counted once: the copy not waiting for a mentor, then one a mentor graded, then the grade cell
        both = grades[dup]
        order = both.assign(_pending=both["needs_manual_grade"], _manual=both["manual_score"].isna()) \
            .sort_values(["_pending", "_manual", "_kind"], kind="stable")
        grades = grades.drop(index=order.index[order.duplicated(["_sub", "notebook", "cell"])])
    grades = grades.drop(columns=["_kind", "_sub"]).reset_index(drop=True)

    subs = pd.DataFrame({"trainee": sa["trainee"],
                         "assignment": asg.set_index("assignment_id")["assignment"].reindex(sa["assignment_id"]).to_numpy(),
                         "timestamp": sa["timestamp"]})
    students = _frame(db, {"trainee": (nb.Student.id, T), "first_name": (nb.Student.first_name, T),
                           "last_name": (nb.Student.last_name, T)})
    students["name"] = (students["last_name"].fillna("") + students["first_name"].fillna("")).str.strip()
    sources = pd.DataFrame(
        db.query(nb.Assignment.name, nb.Notebook.name, nb.SourceCell.name, nb.SourceCell.source)
        .select_from(nb.SourceCell)
        .join(nb.Notebook, nb.SourceCell.notebook_id == nb.Notebook.id)
        .join(nb.Assignment, nb.Notebook.assignment_id == nb.Assignment.id)
        .all(),
        columns=["assignment", "notebook", "cell", "source"],
    )
    assignments = pd.DataFrame({"assignment": asg["assignment"], "duedate": asg["duedate"]})
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


def load_gradebook(url: str, upgrade: bool = False, checked: bool = False) -> GradebookData:
    """The gradebook at URL as tables (see open_gradebook for upgrade, checked and the errors)."""
    with open_gradebook(url, upgrade, checked) as gb:
        return read_gradebook(gb)
