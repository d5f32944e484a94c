"""Write nbgrader source notebooks from the module files in course/authoring/.

The notebooks in course/source are what trainers edit afterwards; authoring only writes a notebook
that is missing unless asked to overwrite. Cell metadata follows nbgrader's schema 3; each cell
also carries a `shifu` entry (kind, scenario, buyer message) that the demo cohort and checks read.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from shifu.content.errors import Problem, ShifuError
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.content.ui_text import ui_text
from shifu.course import layout
from shifu.course.answers import cell_source
from shifu.course.notebook import transcript_name
from shifu.course.spec import Exercise, ModuleSpec, QuizItem, Roleplay, course_text, load_module, module_files

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
              points: float | None = None, task: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
                            "solution": solution, "task": task}
    if points is not None:
        meta["points"] = float(points)
    return meta


def _fmt_points(p: float) -> str:
    return f"{p:g}"


def _context_md(sc: Scenario, text: dict[str, Any]) -> str:
    lab = text["labels"]["context"]
    ctx = sc.context
    rows = [(lab["shop"], ctx.shop), (lab["product"], ctx.product), (lab["order_id"], ctx.order_id),
            (lab["amount_yuan"], _fmt_points(ctx.amount_yuan)), (lab["order_status"], ctx.order_status)]
    if ctx.logistics:
        rows.append((lab["logistics"], ctx.logistics))
    if ctx.placed:
        rows.append((lab["placed"], ctx.placed))
    out = [f"**{text['labels']['reference']}**", "", "| | |", "|---|---|"]
    out += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows]
    if ctx.notes:
        out += ["", f"**{lab['notes']}**"] + [f"- {n}" for n in ctx.notes]
    if ctx.policies:
        out += ["", f"**{lab['policies']}**"] + [f"- {p.text}" for p in ctx.policies]
    return "\n".join(out)


def _header_md(spec: ModuleSpec, text: dict[str, Any]) -> str:
    comps = "、".join(f"{text['competency_labels'][c.value]}(`{c.value}`)" for c in spec.competencies)
    lines = [f"# {spec.title}", "", f"**{text['labels']['objectives']}**", ""]
    lines += [f"{i}. {o}" for i, o in enumerate(spec.objectives, 1)]
    lines += ["", f"**{text['labels']['competencies']}**:{comps}"]
    return "\n".join(lines)


def buyer_message(ex: Exercise, sc: Scenario) -> str:
    return ex.buyer.strip() or sc.lines.opening[0]


def _quiz_cells(item: QuizItem, text: dict[str, Any]) -> list:
    answer = new_code_cell(
        f"{text['cells']['quiz_hint'].format(variable=item.variable)}\n{SOLUTION_BEGIN}\n{item.variable} = {item.solution}\n{SOLUTION_END}",
        metadata={"nbgrader": _nbgrader(item.id, solution=True), "shifu": {"kind": "quiz", "variable": item.variable}})
    test = new_code_cell(
        "\n".join([text["cells"]["quiz_test"].format(points=_fmt_points(item.points)), HIDDEN_BEGIN,
                   f"assert {item.check}", HIDDEN_END]),
        metadata={"nbgrader": _nbgrader(f"{item.id}__{item.competency.value}", grade=True, locked=True, points=item.points),
                  # what `shifu grade` checks in its own process against the answer's literal value (never run)
                  "shifu": {"kind": "quiz_test", "answer_cell": item.id, "variable": item.variable, "check": item.check}})
    return [new_markdown_cell(item.question), answer, test]


def _feedback_cell(header: str, call: str, kind: str) -> Any:
    """A practice module's on-demand feedback cell (never graded, never in an exam module)."""
    return new_code_cell(f"{header}\nfrom shifu.notebook import {call.split('(', 1)[0]}\n{call}",
                         metadata={"shifu": {"kind": kind}})


def _reply_cells(ex: Exercise, index: int, sc: Scenario, text: dict[str, Any], practice: bool = False) -> list:
    buyer = buyer_message(ex, sc)
    var = f"{ex.id}_reply"
    md = "\n".join([f"### {text['labels']['exercise']} {index}:{sc.title}", "", ex.task.strip(), "",
                    _context_md(sc, text), "", f"> **{text['labels']['buyer']}**:{buyer}"])
    # plain text under a `%%reply` line (shifu.course.answers): no quotes to pair, nothing to break
    answer = new_code_cell(
        cell_source(var, text["cells"]["reply_hint"], f"{SOLUTION_BEGIN}\n{ex.solution.strip()}\n{SOLUTION_END}"),
        metadata={"nbgrader": _nbgrader(var, solution=True),
                  "shifu": {"kind": "reply", "question": ex.id, "variable": var, "scenario": ex.scenario, "buyer": buyer}})
    cells = [new_markdown_cell(md), answer]
    for criterion, points in ex.criteria.items():
        header = text["cells"]["reply_test"].format(label=text["criterion_labels"][criterion], points=_fmt_points(points))
        cells.append(_hidden_test_cell(f"{var}__{criterion}", points, header, [
            "from shifu.notebook import reply_points",
            f"reply_points({var}, {json.dumps(ex.scenario)}, {json.dumps(buyer, ensure_ascii=False)}, "
            f"{float(points)!r}, criterion={json.dumps(criterion)})"],
            {"kind": "reply_test", "scenario": ex.scenario, "criterion": criterion, "buyer": buyer,
             "answer_cell": var, "variable": var}))
    if practice:
        cells.append(_feedback_cell(text["cells"]["feedback_reply"], (
            f"practice_feedback({json.dumps(var)}, {json.dumps(ex.scenario)},\n"
            f"                  {json.dumps(buyer, ensure_ascii=False)},\n"
            f"                  {json.dumps(dict(ex.criteria))})"), "feedback"))
    return cells


def _hidden_test_cell(grade_id: str, points: float, header: str, hidden: list[str], shifu: dict[str, Any]) -> Any:
    """A locked, graded test cell: a visible comment line, then a formative call hidden from the release.

    `shifu` (kind reply_test / transcript_test, scenario, criterion, ...) is what `shifu grade` scores
    in its own process, read from the source notebook; the hidden call only gives formative feedback
    under `nbgrader validate` and never decides points (shifu.notebook, which takes it from shifu.course.nbgrader_helpers).
    """
    src = "\n".join([header, HIDDEN_BEGIN, *hidden, HIDDEN_END])
    return new_code_cell(src, metadata={"nbgrader": _nbgrader(grade_id, grade=True, locked=True, points=points),
                                        "shifu": shifu})


def _roleplay_cells(rp: Roleplay, sc: Scenario, text: dict[str, Any], practice: bool = False) -> list:
    graded = bool(rp.criteria)
    heading = text["labels"]["roleplay"] if graded else text["labels"]["practice"]
    md = "\n".join([f"### {heading}:{sc.title}", "", rp.task.strip(), "", _context_md(sc, text)])
    transcript = transcript_name(rp.scenario)
    launch = new_code_cell(
        "\n".join([text["cells"]["roleplay_hint"].format(transcript=transcript, finish=ui_text().finish),
                   "from shifu.notebook import start_roleplay",
                   f"start_roleplay({json.dumps(rp.scenario)})"]),
        metadata={"nbgrader": _nbgrader(f"roleplay_{rp.n}_launch", locked=True) if graded else {},
                  "shifu": {"kind": "roleplay", "n": rp.n, "scenario": rp.scenario, "graded": graded}})
    if not graded:
        launch.metadata.pop("nbgrader")
    cells = [new_markdown_cell(md), launch]
    for criterion, points in rp.criteria.items():
        header = text["cells"]["transcript_test"].format(label=text["criterion_labels"][criterion],
                                                         points=_fmt_points(points), transcript=transcript)
        cells.append(_hidden_test_cell(f"roleplay_{rp.n}__{criterion}", points, header, [
            "from shifu.notebook import roleplay_transcript, transcript_points",
            f"transcript_points(roleplay_transcript({json.dumps(rp.scenario)}), {json.dumps(rp.scenario)}, "
            f"{float(points)!r}, criterion={json.dumps(criterion)})"],
            {"kind": "transcript_test", "scenario": rp.scenario, "criterion": criterion, "transcript": transcript}))
    if practice and graded:
        cells.append(_feedback_cell(text["cells"]["feedback_roleplay"].format(finish=ui_text().finish),
                                    f"practice_feedback_roleplay({json.dumps(rp.scenario)}, {json.dumps(dict(rp.criteria))})",
                                    "feedback"))
    return cells


@dataclass(frozen=True)
class Authored:
    notebook: Path
    written: bool
    transcripts: tuple[Path, ...] = ()


def scenarios_of(spec: ModuleSpec) -> dict[str, Scenario]:
    """Every scenario the module uses, loaded and validated; one error listing all that are missing or broken."""
    ids = [e.scenario for e in spec.exercises] + [r.scenario for r in spec.roleplays]
    out: dict[str, Scenario] = {}
    problems: list[Problem] = []
    for sid in dict.fromkeys(ids):
        try:
            out[sid] = load_scenario(sid)
        except ShifuError as exc:
            problems += [Problem(f"course/authoring/{spec.assignment}.yaml", "scenario", f"scenario {sid!r}: {p}",
                                 "write or fix the scenario, or pick another one") for p in exc.problems]
    if problems:
        raise ShifuError(problems)
    return out


def _setup_cell(text: dict[str, Any]) -> Any:
    """The first code cell: loads the notebook helpers (the `%%reply` answer cells need them). Locked."""
    return new_code_cell(f"{text['cells']['setup']}\n%load_ext shifu.notebook",
                         metadata={"nbgrader": _nbgrader("setup", locked=True), "shifu": {"kind": "setup"}})


def build_notebook(spec: ModuleSpec, scenarios: dict[str, Scenario], text: dict[str, Any]) -> nbformat.NotebookNode:
    cells = [new_markdown_cell(_header_md(spec, text)), new_markdown_cell(spec.reading.strip())]
    if spec.exercises or spec.roleplays:
        cells.append(_setup_cell(text))
    if spec.quiz:
        cells.append(new_markdown_cell(f"## {text['labels']['quiz']}"))
        for item in spec.quiz:
            cells += _quiz_cells(item, text)
    practice = spec.mode == "practice"
    for i, ex in enumerate(spec.exercises, 1):
        cells += _reply_cells(ex, i, scenarios[ex.scenario], text, practice)
    for rp in spec.roleplays:
        cells += _roleplay_cells(rp, scenarios[rp.scenario], text, practice)
    if spec.review:
        rv = spec.review
        md = "\n".join([text["review_heading"].format(competency=text["competency_labels"][rv.competency.value],
                                                       points=_fmt_points(rv.points)), "", rv.task.strip()])
        # A manually graded task is `task: true, grade: false`: a cell marked both is stored by nbgrader as a
        # grade cell AND a task cell, so the mentor's mark would count twice (nbgrader-notes.md).
        cells.append(new_markdown_cell(md, metadata={
            "nbgrader": _nbgrader(f"review__{rv.competency.value}", locked=True, task=True, points=rv.points)}))
    cells.append(new_markdown_cell(text["submit"].strip()))
    if spec.exercises or spec.roleplays or spec.quiz:
        cells.append(new_code_cell(f"{text['cells']['precheck']}\nfrom shifu.notebook import check_before_submit\n"
                                   "check_before_submit()", metadata={"shifu": {"kind": "precheck"}}))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "shifu": {"assignment": spec.assignment, "mode": spec.mode,
                  "competencies": [c.value for c in spec.competencies]}})
    for cell in nb.cells:  # stable ids keep diffs of regenerated notebooks small
        cell["id"] = _cell_id(cell)
    return nb


def _cell_id(cell: Any) -> str:
    meta = cell.get("metadata", {})
    gid = meta.get("nbgrader", {}).get("grade_id")
    if gid:
        return gid.replace("__", "-")[:64]
    return "c" + hashlib.sha1(cell["source"].encode()).hexdigest()[:12]


def write_reference_transcripts(spec: ModuleSpec, scenarios: dict[str, Scenario], course: Path | None = None) -> list[Path]:
    """Play each graded role-play's reference script through the engine, so the source notebook validates.

    Written to course/reference/<assignment>/ (layout.reference_dir), outside the source folder that
    nbgrader copies into releases.
    """
    from shifu.roleplay.transcript.replay import play_script

    out = []
    for rp in spec.roleplays:
        if not rp.criteria:
            continue
        path = layout.reference_dir(course) / spec.assignment / transcript_name(rp.scenario)
        play_script(scenarios[rp.scenario], [(t.reply, t.latency_s) for t in rp.script], path, trainee="reference", seed=0)
        out.append(path)
    return out


def author(course: Path | None = None, only: list[str] | None = None, force: bool = False,
           transcripts_only: bool = False) -> list[Authored]:
    """Write the source notebook of each module file (all, or those named); keep existing notebooks unless force.

    transcripts_only: leave every notebook as it is and replay the reference role-play scripts (after a
    script or the engine changed, so `nbgrader validate` grades the reference conversation as it now goes).
    """
    text = course_text(course)
    files = module_files(course)
    if only:
        names = {f.stem for f in files}
        missing = [a for a in only if a not in names]
        if missing:
            raise ShifuError(f"no module file course/authoring/{missing[0]}.yaml — fix: use one of: {', '.join(sorted(names))}")
        files = [f for f in files if f.stem in only]
    results = []
    for path in files:
        spec = load_module(path)
        scenarios = scenarios_of(spec)
        folder = layout.source_dir(course) / spec.assignment
        target = folder / f"{spec.notebook_name}.ipynb"
        if transcripts_only:
            results.append(Authored(target, False, tuple(write_reference_transcripts(spec, scenarios, course))))
            continue
        if target.exists() and not force:
            results.append(Authored(target, False))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        nb = build_notebook(spec, scenarios, text)
        nbformat.validate(nb)
        target.write_text(nbformat.writes(nb), encoding="utf-8")
        transcripts = write_reference_transcripts(spec, scenarios, course)
        results.append(Authored(target, True, tuple(transcripts)))
    return results
