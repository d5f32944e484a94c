"""Why a submission scored what it did, in a line a mentor can act on.

Two looks: before grading, how the submitted notebook differs from the released one in shape
(graded cells deleted, duplicated, edited); after grading, what the executed cells show (errors,
timeouts, stderr, partial credit) next to the points the gradebook holds.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils

from shifu.grading.execute import KERNEL_DIED_ENAME, NOT_RUN_ENAMES, Outcome
from shifu.grading.gradebook import SourceCell, SubmissionGrades, notebook_cells

MAX_DETAILS = 4


def _released_sources(released: Path | None) -> dict[str, str]:
    """Locked cells as trainees received them. The gradebook's checksums include hidden tests, which
    the release leaves out, so a released test cell never matches them."""
    if released is None or not released.exists():
        return {}
    try:
        nb = nbformat.read(released, as_version=4)
    except Exception:
        return {}
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") and meta.get("locked"):
            out[meta["grade_id"]] = cell.source
    return out


def _edited(cell: NotebookNode, src: SourceCell, released: dict[str, str]) -> bool:
    grade_id = cell.metadata.nbgrader["grade_id"]
    if grade_id in released:
        return cell.source.strip() != released[grade_id].strip()
    if "BEGIN HIDDEN TESTS" in (src.source or ""):
        return False  # no release to compare with, and the stored checksum includes the hidden tests
    return utils.compute_checksum(_as_cell(cell, src.cell_type)) != src.checksum


def shape_problems(path: Path, db_url: str, course_id: str, assignment: str, released: Path | None = None) -> list[str]:
    """Differences nbgrader will repair, or stumble on, when it grades this notebook file."""
    notebook_id = path.stem
    released_sources = _released_sources(released)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return []  # nbgrader fails on it too, and that failure is the reason given
    stored = notebook_cells(db_url, course_id, assignment, notebook_id)
    if stored is None:
        return [f"{path.name} is not part of {assignment}: nbgrader skips it"]
    expected, graded = stored.source_cells, stored.points
    problems: list[str] = []
    seen: Counter[str] = Counter()
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        if not isinstance(meta, dict):
            problems.append(f"cell {index + 1} has nbgrader metadata that is not a mapping: it was edited by hand")
            continue
        grade_id = meta.get("grade_id")
        if not grade_id or not (meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task")):
            continue
        seen[grade_id] += 1
        if grade_id not in expected:
            problems.append(f"cell {grade_id!r} is not in the released notebook: nbgrader ignores its id")
            continue
        src = expected[grade_id]
        if cell.cell_type != src.cell_type:
            problems.append(f"cell {grade_id!r} was turned into a {cell.cell_type} cell: nbgrader turns it back")
        if src.locked and seen[grade_id] == 1 and _edited(cell, src, released_sources):
            problems.append(f"locked cell {grade_id!r} was edited: nbgrader restored the original")
        if meta.get("grade") and grade_id in graded:
            try:
                points = float(meta.get("points", graded[grade_id]))
            except (TypeError, ValueError):
                points = None
            if points != graded[grade_id]:
                problems.append(f"points of {grade_id!r} were changed: nbgrader restored {graded[grade_id]:g}")
    for grade_id, count in seen.items():
        if count > 1:
            problems.append(f"cell {grade_id!r} appears {count} times")
    for grade_id in graded:
        if seen[grade_id] == 0:
            problems.append(f"graded cell {grade_id!r} was deleted: it scores 0")
    return problems


def _as_cell(cell: NotebookNode, cell_type: str) -> NotebookNode:
    if cell.cell_type == cell_type:
        return cell
    copy = NotebookNode(dict(cell))
    copy.cell_type = cell_type
    return copy


def execution_details(nb: NotebookNode, outcome: Outcome, cell_timeout: float | None,
                      notebook_timeout: float | None) -> list[str]:
    """The first cause of trouble in the executed notebook: an exception, a timeout, a cut-off notebook."""
    details: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        label = _label(cell, index)
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            ename = out.get("ename", "")
            if ename in NOT_RUN_ENAMES:
                continue
            if ename == KERNEL_DIED_ENAME:
                details.append(f"{out.get('evalue', '')}; later cells not run, earlier cells keep their points")
            elif index in outcome.timed_out_cells:
                limit = f" after {cell_timeout:g} s" if cell_timeout and not outcome.notebook_timed_out else ""
                details.append(f"{label} timed out{limit}")
            else:
                evalue = " ".join(str(out.get("evalue", "")).split())
                details.append(f"{label} raised {ename}" + (f": {evalue[:80]}" if evalue else ""))
            break
        if details and (not utils.is_grade(cell) or outcome.died_at == index):
            break  # the first failing answer cell (or the kernel's death) explains the failing tests after it
    for index in outcome.truncated_cells[:1]:  # the trainee's doing, not the grader's: say so once
        more = f" (and {len(outcome.truncated_cells) - 1} more cells)" if len(outcome.truncated_cells) > 1 else ""
        details.insert(0, f"{_label(nb.cells[index], index)} printed more output than the grader keeps; "
                          f"the rest was dropped{more} (the notebook's own output, not a grading fault)")
    if outcome.notebook_timed_out:
        details.append(f"notebook stopped at its {notebook_timeout:g} s limit; later cells not run")
    return details[:MAX_DETAILS]


def points_details(grades: SubmissionGrades, executed: dict[str, NotebookNode]) -> list[str]:
    """Graded cells below full marks (and why, from their outputs), and answers waiting for a mentor."""
    lost = []
    waiting = 0
    for g in grades.cell_grades:
        if g.needs_manual_grade:
            waiting += 1
            continue
        if g.score < g.max_score:
            why = _why(executed.get(g.notebook), g.name)
            if why == "partial credit" and g.score == 0:
                why = "the test gave 0"
            lost.append(f"{g.name} {g.score:g}/{g.max_score:g}" + (f" ({why})" if why else ""))
    details = []
    if lost:
        more = f" and {len(lost) - MAX_DETAILS} more" if len(lost) > MAX_DETAILS else ""
        details.append("lost points: " + ", ".join(lost[:MAX_DETAILS]) + more)
    if waiting:
        details.append(f"{waiting} answer{'s' if waiting > 1 else ''} to grade by hand")
    if grades.late_penalty:
        details.append(f"late by {grades.seconds_late / 3600:.1f} h: penalty {grades.late_penalty:g}")
    return details


def _why(nb: NotebookNode | None, grade_id: str) -> str:
    if nb is None:
        return ""
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id:
            continue
        if cell.cell_type != "code":
            return "no answer" if utils.is_solution(cell) else ""
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == KERNEL_DIED_ENAME:
                    return "the kernel died"
                return "not run" if out.get("ename") in NOT_RUN_ENAMES else out.get("ename", "error")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                return "wrote to stderr"
            if out.get("output_type") == "execute_result":
                return "partial credit"
        return ""
    return "cell missing"


def _label(cell: NotebookNode, index: int) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {grade_id!r}" if grade_id else f"cell {index + 1}"
