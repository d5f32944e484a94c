"""The grader's own points for Shifu's graded cells, written over whatever the trainee's kernel printed.

After a submission ran and before nbgrader's SaveAutoGrades reads the cells, every graded cell that
scores a reply or a role-play transcript gets its outputs replaced: the reasons (stdout) and the
points (execute_result), computed here, in the grader's process. What to score comes from the
course's SOURCE notebook (the trainee can edit the submitted notebook's metadata, not the source);
the trainee's data is read without running it:

- a written reply: the answer cell's source is parsed with `ast`, and the string assigned to the
  answer variable is scored (nothing in the cell runs);
- a role-play: the transcript file in the grader's own copy of the submission (submitted/), checked
  by replay (shifu.roleplay.transcript.replay).

A source notebook's graded cell names its data in cell metadata (`shifu`: kind reply_test /
transcript_test, written by `shifu course author`); a notebook written by hand is understood from
its hidden test's call (`reply_points(var, scenario, buyer, points, criterion=...)` or
`transcript_points(roleplay_transcript(scenario), scenario, points, criterion=...)`), read from the
source notebook too. A quiz answer's literal value is checked with the source notebook's expression
(`shifu` kind quiz_test). A lab check runs the source's test code here on the results its cell
kept (shifu.grading.labscore). Other graded cells (hand-written asserts) are left to nbgrader.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output

from shifu.content.paths import is_plain_file
from shifu.roleplay.attempts import attempts, chosen, hand_in
from shifu.course.answers import magic_form, reply_text
from shifu.course.notebook import transcript_name
from shifu.roleplay.transcript_view import notebook_output
from shifu.grading import labscore
from shifu.grading.scoring import CellScore, TranscriptScores, reply_cell


@dataclass(frozen=True)
class LabCells:
    """A lab notebook's graded cells (from the SOURCE notebook) and its given data, built in the grader."""

    specs: dict[str, "labscore.LabSpec"]
    given: dict[str, Any]

    @classmethod
    def from_source(cls, nb: NotebookNode) -> "LabCells | None":
        specs = labscore.lab_specs(nb)
        return cls(specs, labscore.setup_namespace(nb)) if specs else None
from shifu.grading.wording import grading_text

REPLY = "reply_test"
TRANSCRIPT = "transcript_test"
QUIZ = "quiz_test"
# what a quiz check may call: pure functions of the answer's literal value, nothing that reaches outside
_CHECK_BUILTINS = {f.__name__: f for f in (abs, all, any, bool, dict, float, int, isinstance, len, list, max, min,
                                           round, set, sorted, str, sum, tuple)}


@dataclass(frozen=True)
class CellSpec:
    """What one graded cell scores; every field comes from the source notebook.

    kind: reply_test | transcript_test. points: the cell's nbgrader points. answer_cell: grade_id of
    the answer cell (replies). transcript: file name in the submission folder (role-plays).
    """

    grade_id: str
    kind: str
    scenario: str
    points: float
    criterion: str | None = None
    buyer: str = ""
    answer_cell: str = ""
    variable: str = ""
    transcript: str = ""
    check: str = ""


def _nbmeta(cell: Any) -> dict:
    meta = cell.get("metadata", {})
    nb = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nb if isinstance(nb, dict) else {}  # metadata edited by hand into another shape counts as none


def _grade_id(cell: Any) -> str:
    return str(_nbmeta(cell).get("grade_id", ""))


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _call_spec(source: str) -> dict | None:
    """The arguments of a reply_points / transcript_points call in a hidden test (source notebook)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
        kw = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
        args = node.args
        if name == "reply_points" and len(args) >= 3 and isinstance(args[0], ast.Name):
            return {"kind": REPLY, "variable": args[0].id, "scenario": _literal(args[1]), "buyer": _literal(args[2]),
                    "criterion": kw.get("criterion", _literal(args[4]) if len(args) > 4 else None)}
        if name == "transcript_points" and len(args) >= 2:
            scenario = _literal(args[1])
            first = args[0]
            named = _literal(first)
            transcript = Path(named).name if isinstance(named, str) else transcript_name(str(scenario))
            return {"kind": TRANSCRIPT, "scenario": scenario, "transcript": transcript,
                    "criterion": kw.get("criterion", _literal(args[3]) if len(args) > 3 else None)}
    return None


def _assigns(source: str, variable: str) -> bool:
    form = magic_form(source)
    if form is not None:
        return form[0] == variable
    return re.search(rf"^\s*{re.escape(variable)}\s*(:[^=]*)?=", source, re.M) is not None


def specs_from_source(nb: NotebookNode) -> dict[str, CellSpec]:
    """grade_id → CellSpec for every graded cell of the source notebook that scores a reply or a transcript."""
    specs: dict[str, CellSpec] = {}
    solutions = [c for c in nb.cells if _nbmeta(c).get("solution")]
    for cell in nb.cells:
        meta = _nbmeta(cell)
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        gid = _grade_id(cell)
        info = dict(cell.metadata.get("shifu", {}) or {})
        if info.get("kind") == QUIZ and isinstance(info.get("check"), str):
            specs[gid] = CellSpec(gid, QUIZ, "", float(meta.get("points", 0) or 0), answer_cell=str(info.get("answer_cell", "")),
                                  variable=str(info.get("variable", "")), check=info["check"])
            continue
        if info.get("kind") not in (REPLY, TRANSCRIPT):
            info = _call_spec(cell.source) or {}
        if info.get("kind") not in (REPLY, TRANSCRIPT) or not isinstance(info.get("scenario"), str):
            continue
        points = float(meta.get("points", 0) or 0)
        criterion = info.get("criterion") if isinstance(info.get("criterion"), str) else None
        if info["kind"] == REPLY:
            variable = str(info.get("variable", ""))
            answer = str(info.get("answer_cell", "")) or next(
                (_grade_id(c) for c in solutions if c.cell_type == "code" and _assigns(c.source, variable)), "")
            specs[gid] = CellSpec(gid, REPLY, info["scenario"], points, criterion, buyer=str(info.get("buyer") or ""),
                                  answer_cell=answer, variable=variable)
        else:
            specs[gid] = CellSpec(gid, TRANSCRIPT, info["scenario"], points, criterion,
                                  transcript=Path(str(info.get("transcript") or transcript_name(info["scenario"]))).name)
    return specs


@dataclass(frozen=True)
class Reply:
    """A reply read from an answer cell's source: text, or None with the reason (trainee's words)."""

    text: str | None
    reason: str = ""


def _unpaired(source: str) -> bool:
    return source.count('"""') % 2 == 1 or source.count("'''") % 2 == 1


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")


@dataclass(frozen=True)
class Answer:
    """An answer cell as the grader reads it: its source, and where (if anywhere) running it raised.

    stopped_at: the cell's line on which the kernel reported an error (0: an error at an unknown line);
    None when it ran through or was not run. The kernel's report can only take a trainee's answer
    away (an assignment after the failing line never ran), never give one.
    """

    source: str
    stopped_at: int | None = None
    error: str = ""


def _stopped_at(cell: Any) -> tuple[int | None, str]:
    for out in cell.get("outputs", []) or []:
        if out.get("output_type") != "error":
            continue
        trace = _ANSI.sub("", "\n".join(out.get("traceback", []) or []))
        m = _CELL_LINE.search(trace)
        return (int(m.group(1)) if m else 0), str(out.get("ename", "") or "Error")
    return None, ""


def _broken_quotes(source: str, variable: str) -> str | None:
    """The reply of an old-style cell whose quotes don't pair (the closing triple quote deleted, or one
    quote too few on either side), when the cell is nothing but hint comments and that one
    assignment: everything after the opening quotes, without trailing quotes. None when it is anything else."""
    lines = source.splitlines()
    body = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not body:
        return None
    rest = "\n".join(lines[body[0]:])
    m = re.match(rf"^\s*{re.escape(variable)}\s*=\s*[rRuU]?([\"']{{1,3}})(.*)$", rest, re.S)
    if m is None:
        return None
    text = re.sub(r"[\"']{1,3}\s*$", "", m.group(2)).strip()
    return text if text and '"""' not in text and "'''" not in text else None


def _assigned(answer: Answer, variable: str, words: Any) -> tuple[ast.AST | None, str]:
    """The value last assigned to `variable` at the top level before the cell stopped; else None and the reason.

    A `%%reply NAME` cell (shifu.course.answers) is plain text: its reply is read from the source, whatever
    the kernel did with it. An old-style cell whose triple quotes don't pair is read leniently
    (_broken_quotes); the returned reason then says so and the reply still counts.
    """
    form = magic_form(answer.source)
    if form is not None:
        name, body = form
        if name != variable:
            return None, words.no_answer.format(variable=variable)
        return ast.Constant(reply_text(body)), ""
    try:
        tree = ast.parse(answer.source)
    except RecursionError:  # thousands of pieces joined by +: not a reply written out as text
        return None, words.not_text.format(variable=variable)
    except (SyntaxError, ValueError) as exc:
        if _unpaired(answer.source):
            recovered = _broken_quotes(answer.source, variable)
            if recovered is not None:
                return ast.Constant(recovered), words.unpaired_quotes_read
            return None, words.unpaired_quotes
        return None, words.syntax_error.format(line=getattr(exc, "lineno", None) or 0, message=getattr(exc, "msg", str(exc)))
    found: list[tuple[int, ast.AST]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == variable and node.value:
            found.append((node.lineno, node.value))
    reached = [v for line, v in found if answer.stopped_at is None or line < answer.stopped_at]
    if reached:
        return reached[-1], ""
    if found:  # written, but the cell raised before it got there
        return None, words.raised_before.format(line=answer.stopped_at or "?", error=answer.error, variable=variable)
    return None, words.no_answer.format(variable=variable)


def read_reply_source(source: str | Answer, variable: str) -> Reply:
    """The text assigned to `variable` at the top level of an answer cell; the code is never run.

    The last assignment the cell reached counts (as it would when run). A syntax error, no assignment,
    an assignment after the line where the cell raised, or a value that is not plain text give None
    and the reason (trainee's words, grader/grading.yaml).
    """
    words = grading_text().reply
    answer = source if isinstance(source, Answer) else Answer(source)
    value, reason = _assigned(answer, variable, words)
    if value is None:
        return Reply(None, reason)
    try:
        text = _plain_text(value)
    except RecursionError:
        text = None
    # reason beside a text: how it was read (quotes that don't pair), shown before the points
    return Reply(text, reason) if text is not None else Reply(None, words.not_text.format(variable=variable))


def _plain_text(node: ast.AST) -> str | None:
    """A string written out in the source: a literal, an f-string with no {fields}, or literals joined by +."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in node.values):
        return "".join(v.value for v in node.values)  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _plain_text(node.left), _plain_text(node.right)
        return left + right if left is not None and right is not None else None
    return None


def quiz_cell(source: str | Answer | None, spec: CellSpec) -> CellScore:
    """A quiz answer: the literal assigned to the variable, checked here with the source notebook's expression."""
    words = grading_text().quiz
    if source is None:
        return CellScore(0.0, [words.no_answer.format(variable=spec.variable)])
    answer = source if isinstance(source, Answer) else Answer(source)
    node, reason = _assigned(answer, spec.variable, grading_text().reply)
    if node is None:
        return CellScore(0.0, [reason])
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return CellScore(0.0, [words.not_a_value.format(variable=spec.variable)])
    try:
        right = bool(eval(compile(spec.check, "<quiz check>", "eval"), {"__builtins__": _CHECK_BUILTINS},  # noqa: S307
                          {spec.variable: value}))
    except Exception:  # float("abc") and the like: a wrong answer, not a crash
        right = False
    return CellScore(spec.points if right else 0.0, [words.right if right else words.wrong])


def _answer_sources(nb: NotebookNode, executed: bool = False) -> dict[str, Answer]:
    """answer grade_id → Answer; executed: the notebook was just run by the grader (its errors count)."""
    out: dict[str, Answer] = {}
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid and _nbmeta(cell).get("solution") and gid not in out:  # nbgrader keeps the first of duplicated ids
            line, error = _stopped_at(cell) if executed else (None, "")
            out[gid] = Answer(cell.source, line, error)
    return out


def untouched_replies(release: NotebookNode | None, specs: dict[str, CellSpec]) -> dict[str, str]:
    """answer grade_id → the placeholder text the release hands out (scored as no reply)."""
    if release is None:
        return {}
    sources = _answer_sources(release)
    out = {}
    for spec in specs.values():
        if spec.kind == REPLY and spec.answer_cell in sources:
            got = read_reply_source(sources[spec.answer_cell], spec.variable)
            if got.text is not None:
                out[spec.answer_cell] = got.text.strip()
    return out


def submitted_replies(nb: NotebookNode, specs: dict[str, CellSpec], untouched: dict[str, str],
                      executed: bool = False) -> dict[str, Reply]:
    """answer grade_id → the reply read from the submitted notebook (placeholder text: no reply).

    executed: `nb` is the grader's run of it, so an answer cell that raised keeps only what it assigned before.
    """
    sources = _answer_sources(nb, executed)
    out: dict[str, Reply] = {}
    words = grading_text().reply
    for spec in specs.values():
        if spec.kind != REPLY or spec.answer_cell in out:
            continue
        src = sources.get(spec.answer_cell)
        got = Reply(None, words.no_answer.format(variable=spec.variable)) if src is None else read_reply_source(src, spec.variable)
        if got.text is not None and spec.answer_cell in untouched and got.text.strip() == untouched[spec.answer_cell]:
            got = Reply(None, words.untouched)
        out[spec.answer_cell] = got
    return out


def of_record(folder: Path, name: str) -> Path | None:
    """The role-play service's copy of a transcript, when the hub fetched one (`shifu hub transcripts`).

    folder: submitted/<trainee>/<assignment>; the copy is <course>/transcripts-of-record/<trainee>/
    <assignment>/<name>, outside anything a trainee hands in, so its reply times count. None otherwise.
    """
    folder = Path(folder)
    if len(folder.parents) < 3:
        return None
    path = folder.parents[2] / "transcripts-of-record" / folder.parent.name / folder.name / name
    return path if is_plain_file(path) else None


def _with_attempts(score: CellScore, folder: Path, name: str, mentor: list[str]) -> CellScore:
    """When the folder holds several attempts of a role-play (or a hand-in choice), say which one is
    graded: a line for the trainee in the first cell that grades it, and one for the mentor."""
    found = attempts(folder, name)
    graded = hand_in(folder, name)
    picked = chosen(folder, name, found)
    if len(found) < 2 and picked is None:
        return score
    words = grading_text().transcript
    number = next((a.number for a in found if a.path == graded), 0)
    finished = any(a.finished and a.path == graded for a in found)
    how = words.attempt_chosen if picked is not None else words.attempt_last_finished if finished else words.attempt_current
    line = words.attempts.format(count=len(found), number=number, name=graded.name, how=how)
    listing = ", ".join(f"{a.path.name} ({a.outcome}, {a.replies} replies)" for a in found)
    mentor.append(f"{name}: {len(found)} attempts [{listing}]; graded {graded.name} "
                  f"({'chosen by the trainee' if picked is not None else 'newest finished' if finished else 'current, none finished'})")
    return CellScore(score.points, [line, *score.lines])


def _set_outputs(cell: Any, score: CellScore) -> None:
    """The cell shows the grader's reasons and, as its last output, the grader's points (nbgrader's partial credit)."""
    outputs = []
    if score.lines:
        outputs.append(new_output("stream", name="stdout", text="\n".join(score.lines) + "\n"))
    outputs.append(new_output("execute_result", data={"text/plain": repr(float(score.points))},
                              execution_count=cell.get("execution_count")))
    cell["outputs"] = outputs


def rescore(nb: NotebookNode, specs: dict[str, CellSpec], folder: Path,
            release: NotebookNode | None = None, labs: "LabCells | None" = None) -> list[str]:
    """Replace the outputs of every graded cell named in `specs` with the grader's points and reasons.

    folder: the grader's copy of the submission (transcripts are read from there). Returns lines for
    the mentor (transcripts rejected, LLM-voiced, outcomes that differ from the file).
    """
    replies = submitted_replies(nb, specs, untouched_replies(release, specs), executed=True)
    answers = _answer_sources(nb, executed=True)
    transcripts: dict[str, TranscriptScores] = {}
    mentor_lines: list[str] = []
    shown: set[str] = set()
    for cell in nb.cells:
        if labs is not None and _grade_id(cell) in labs.specs and cell.cell_type == "code" and _nbmeta(cell).get("grade"):
            # the source test code runs here on the results the kernel kept (its own points are dropped)
            lab = labs.specs[_grade_id(cell)]
            got = labscore.score_lab_cell(lab, None, labs.given, payload=labscore.results_from_outputs(cell, lab.grade_id) or {})
            _set_outputs(cell, CellScore(got.points, got.lines))
            continue
        spec = specs.get(_grade_id(cell))
        if spec is None or cell.cell_type != "code" or not _nbmeta(cell).get("grade"):
            continue
        if spec.kind == QUIZ:
            score = quiz_cell(answers.get(spec.answer_cell), spec)
        elif spec.kind == REPLY:
            reply = replies.get(spec.answer_cell, Reply(None, ""))
            if reply.text is None:
                score = CellScore(0.0, [reply.reason] if reply.reason else [])
            else:
                score = reply_cell(reply.text, spec.scenario, spec.buyer, spec.points, spec.criterion)
                if reply.reason:
                    score = CellScore(score.points, [reply.reason, *score.lines])
        else:
            record = of_record(folder, spec.transcript)
            first = spec.transcript not in transcripts
            # the attempt the trainee handed in (shifu.roleplay.attempts): chosen, else the newest finished one
            ts = transcripts.setdefault(spec.transcript, TranscriptScores(record or hand_in(folder, spec.transcript), spec.scenario))
            # only the role-play service's copy has reply times the trainee could not set
            score = ts.cell(spec.points, spec.criterion, with_times=record is not None)
            if first and record is None:
                score = _with_attempts(score, folder, spec.transcript, mentor_lines)
        _set_outputs(cell, score)
        if spec.kind == TRANSCRIPT and spec.transcript not in shown:
            # the first cell grading a transcript also shows the conversation (formgrader and feedback)
            shown.add(spec.transcript)
            bubbles = notebook_output(transcripts[spec.transcript])
            if bubbles is not None:
                # after the reasons, before the points (nbgrader reads the first execute_result)
                cell["outputs"].insert(len(cell["outputs"]) - 1, bubbles)
    mentor: list[str] = list(mentor_lines)
    for ts in transcripts.values():
        if ts.checked is not None:
            mentor += ts.checked.mentor
    return mentor
