"""A tiny nbgrader course built from scratch, for grading tests and the grading benchmark.

The source notebook has an autograded answer, a test cell with partial credit, a plain assert test
and a manually graded written answer. Submissions are written as a trainee would leave them.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ASSIGNMENT = "wait_times"
NOTEBOOK = "wait_times"

ANSWER = '''def average_wait(minutes):
    """Average wait in minutes; 0 for an empty list."""
    ### BEGIN SOLUTION
    if not minutes:
        return 0
    return sum(minutes) / len(minutes)
    ### END SOLUTION
'''

# partial credit: the last line's value is the score (0..2)
PARTIAL_TEST = '''score = 0.0
try:
    if average_wait([1, 2, 3]) == 2:
        score += 1.0
    if average_wait([]) == 0:
        score += 1.0
except Exception:
    pass
score
'''

# hidden tests: the release leaves them out, so the released cell differs from the gradebook's checksum
ASSERT_TEST = "assert average_wait([2, 4]) == 3\n### BEGIN HIDDEN TESTS\nassert average_wait([5]) == 5\n### END HIDDEN TESTS\n"

WRITTEN = "### BEGIN SOLUTION\n亲,非常抱歉让您久等了,我马上为您查询。\n### END SOLUTION\n"


def _grade_md(grade_id: str, points: float, solution: bool) -> dict:
    return {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": False, "points": points,
                         "schema_version": 3, "solution": solution, "task": False}}


def source_notebook(extra_cells: list | None = None) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    answer = new_code_cell(ANSWER)
    answer.metadata = {"nbgrader": {"grade": False, "grade_id": "answer", "locked": False,
                                    "schema_version": 3, "solution": True, "task": False}}
    partial = new_code_cell(PARTIAL_TEST)
    partial.metadata = {"nbgrader": {"grade": True, "grade_id": "partial_test__analysis", "locked": True,
                                     "points": 2, "schema_version": 3, "solution": False, "task": False}}
    check = new_code_cell(ASSERT_TEST)
    check.metadata = {"nbgrader": {"grade": True, "grade_id": "assert_test__analysis", "locked": True,
                                   "points": 1, "schema_version": 3, "solution": False, "task": False}}
    written = new_markdown_cell(WRITTEN)
    written.metadata = _grade_md("reply__communication", 2, solution=True)
    nb.cells = [new_markdown_cell("# 平均等待时长"), answer, partial, check,
                new_markdown_cell("写一句回复买家的话:"), written] + list(extra_cells or [])
    return nb


def write_config(course: Path, cell_timeout: int = 30) -> None:
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "import os\n"
        "c = get_config()\n"
        "_here = os.path.dirname(os.path.abspath(__file__))\n"
        "c.CourseDirectory.root = _here\n"
        "c.CourseDirectory.course_id = 'shifu'\n"
        "c.CourseDirectory.db_url = os.environ.get('SHIFU_GRADEBOOK_URL') or "
        "'sqlite:///' + os.path.join(_here, 'gradebook.db')\n"
        f"c.Execute.timeout = {cell_timeout}\n",
        encoding="utf-8")


def generate_assignment(course: Path, assignment: str, notebooks: dict[str, nbformat.NotebookNode],
                        db_url: str | None = None) -> None:
    """Write the source notebooks and run nbgrader's generate_assignment on them (in this process)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    source = course / "source" / assignment
    source.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, source / f"{name}.ipynb")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "shifu"
    config.CourseDirectory.db_url = db_url or "sqlite:///" + str(course / "gradebook.db")
    api = NbGraderAPI(config=config)
    result = api.generate_assignment(assignment)
    if not result["success"]:
        raise RuntimeError(result["log"] + result.get("error", ""))


def released(course: Path, assignment: str = ASSIGNMENT, notebook: str = NOTEBOOK) -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / assignment / f"{notebook}.ipynb", as_version=4)


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def submit(course: Path, student: str, nb: nbformat.NotebookNode | str, assignment: str = ASSIGNMENT,
           notebook: str = NOTEBOOK, timestamp: str = "2026-11-20 10:00:00.000000 UTC") -> Path:
    """Put a notebook (or raw text, for broken files) where nbgrader collects submissions."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.ipynb"
    if isinstance(nb, str):
        path.write_text(nb, encoding="utf-8")
    else:
        nbformat.write(nb, path)
    (folder / "timestamp.txt").write_text(timestamp, encoding="utf-8")
    return path


def answered(course: Path, answer_source: str, written: str | None = None) -> nbformat.NotebookNode:
    nb = released(course)
    cell(nb, "answer").source = answer_source
    if written is not None:
        cell(nb, "reply__communication").source = written
    return nb


GOOD = "def average_wait(minutes):\n    return sum(minutes) / len(minutes) if minutes else 0\n"
POOR = "def average_wait(minutes):\n    return sum(minutes) / len(minutes)\n"   # fails on []
RAISES = "raise RuntimeError('没写完')\n"
LOOPS = "while True:\n    pass\n"


SLOW_CELL = "import time\ntime.sleep(1.5)\n"


def _copy(cell_: nbformat.NotebookNode) -> nbformat.NotebookNode:
    copy = nbformat.from_dict(json.loads(json.dumps(cell_)))
    copy["id"] = f"{cell_.get('id', 'cell')}-copy"
    return copy


def cohort(course: Path) -> list[str]:
    """Write one submission of each kind; returns the student ids."""
    submit(course, "good", answered(course, GOOD, "亲,非常抱歉让您久等了,我这就帮您催快递。"))
    submit(course, "poor", answered(course, POOR))
    submit(course, "raises", answered(course, RAISES))
    submit(course, "loops", answered(course, LOOPS))

    # a poor answer whose test cell was "improved" to print full marks: nbgrader restores the test
    tampered = answered(course, POOR)
    cell(tampered, "partial_test__analysis").source = "2.0"
    submit(course, "tampered", tampered)

    # a good answer with the assert test deleted
    deleted = answered(course, GOOD)
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != "assert_test__analysis"]
    submit(course, "deleted", deleted)

    # a graded cell copied and pasted
    duplicated = answered(course, GOOD)
    partial = cell(duplicated, "partial_test__analysis")
    duplicated.cells.insert(duplicated.cells.index(partial) + 1, _copy(partial))
    submit(course, "duplicated", duplicated)

    # many slow cells: each is within the cell timeout, together they pass the notebook limit
    slow = answered(course, GOOD)
    slow.cells[1:1] = [new_code_cell(SLOW_CELL) for _ in range(5)]
    submit(course, "slow", slow)

    broken = nbformat.writes(answered(course, GOOD))
    submit(course, "broken", broken[: len(broken) // 2])
    return ["good", "poor", "raises", "loops", "tampered", "deleted", "duplicated", "slow", "broken"]


def build_course(course: Path, cell_timeout: int = 30, db_url: str | None = None) -> Path:
    write_config(course, cell_timeout)
    generate_assignment(course, ASSIGNMENT, {NOTEBOOK: source_notebook()}, db_url=db_url)
    return course


def gradebook_snapshot(db_url: str, course_id: str = "shifu") -> dict:
    """Everything autograde writes to the gradebook, keyed by names (row ids are random)."""
    from nbgrader.api import Course, Gradebook, SubmittedAssignment

    with Gradebook(db_url, course_id) as gb:
        snap: dict = {"courses": sorted(c.id for c in gb.db.query(Course)),
                      "students": sorted(s.id for s in gb.students), "submissions": {}}
        for sub in gb.db.query(SubmittedAssignment):
            notebooks = {}
            for nb in sub.notebooks:
                notebooks[nb.name] = {
                    "late_submission_penalty": nb.late_submission_penalty,
                    "flagged": nb.flagged,
                    "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                               for g in nb.grades},
                    "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
                }
            snap["submissions"][(sub.assignment.name, sub.student.id)] = {
                "timestamp": sub.timestamp, "extension": sub.extension, "notebooks": notebooks}
        return snap


def submit_release(course: Path, student: str, assignment: str, replies: dict[str, str] | None = None,
                   files: dict[str, str] | None = None) -> Path:
    """Hand in a Shifu module's released notebook with answer cells replaced (cell source by the cell's
    `shifu.variable`) and extra files (name -> text, e.g. a transcript); the submitted folder."""
    import shutil

    from shifu.course import layout

    dest = course / "submitted" / student / assignment
    shutil.copytree(layout.release_dir(course) / assignment, dest)
    nb_path = dest / f"{assignment}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        var = cell.metadata.get("shifu", {}).get("variable")
        if var in (replies or {}) and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = replies[var]
    nbformat.write(nb, nb_path)
    for name, text in (files or {}).items():
        (dest / name).write_text(text, encoding="utf-8")
    return dest
