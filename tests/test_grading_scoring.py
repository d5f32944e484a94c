"""Points the trainee cannot set: replies read without running them, transcripts replayed, not believed.

Unit tests of the reader and the replay check, then a real `shifu grade` run on a scratch copy of
m01_logistics where trainees attack the scorer: a patched reply_points/transcript_points, edited
cell metadata, a forged transcript, a classmate's transcript copied under a new name.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

import grading_course as gc  # tests/ is on the path under pytest
from course_builders import built_course
from shifu.content import paths
from shifu.course import layout
from shifu.course.simulate import strip_solution
from shifu.roleplay.transcript.replay import check_transcript
from shifu.grading.rescore import read_reply_source, specs_from_source
from shifu.grading.scoring import transcript_cell
from shifu.grading.wording import grading_text
from shifu.reading.rubric import score_transcript

A = "m01_logistics"
SC = "late-parcel-wrong-station"
REFERENCE = layout.reference_dir() / A / f"{SC}.jsonl"
FORGED = "\n".join(json.dumps(r, ensure_ascii=False) for r in [
    {"type": "session", "version": 1, "scenario": SC, "backend": "scripted", "seed": 0,
     "started": "2026-11-23T05:27:49.410+00:00", "trainee": "cheater"},
    *[{"type": "turn", "turn": i, "role": "trainee", "text": text, "ts": "2026-11-23T05:27:50.000+00:00",
       "latency_s": 1, "mood_before": 80, "mood_after": 90, "signals": [], "revealed": [], "backend": "scripted"}
      for i, text in enumerate(["亲,非常理解您的心情,我马上帮您查。", "已经给您改派了,今天送到,您看可以吗?", "好的,稍后回访您。"], 1)],
    {"type": "end", "ts": "2026-11-23T05:28:00.000+00:00", "outcome": "resolved", "facts_revealed": ["wrong_station"],
     "resolution": "reroute"}]) + "\n"


# -- reading a reply without running it ------------------------------------------------------------

def test_reply_is_the_string_literal_assigned_to_the_variable():
    src = '# 写在三引号之间\nq1_reply = """\n亲,您好!\n我马上帮您查。\n"""'
    assert read_reply_source(src, "q1_reply").text == "\n亲,您好!\n我马上帮您查。\n"
    assert read_reply_source('q1_reply = "草稿"\nq1_reply = "定稿"', "q1_reply").text == "定稿"
    assert read_reply_source('q1_reply = f"""亲,""" + "您好"', "q1_reply").text == "亲,您好"


@pytest.mark.parametrize("src", [
    'q1_reply = """亲,您好\n我马上帮您查。\n',             # the closing quotes deleted
    '# 提示\nq1_reply = """\n亲,您好\n我马上帮您查。\n""',  # one closing quote deleted
    'q1_reply = ""\n亲,您好\n我马上帮您查。\n"""',          # one opening quote deleted
])
def test_a_missing_quote_is_still_graded_with_the_reason_from_yaml(src):
    got = read_reply_source(src, "q1_reply")
    assert got.text == "亲,您好\n我马上帮您查。"
    assert got.reason == grading_text().reply.unpaired_quotes_read and "三引号没有配对" in got.reason


def test_unpaired_quotes_around_more_than_one_assignment_are_zero_with_the_reason():
    got = read_reply_source('x = 1\nq1_reply = """亲,您好\n', "q1_reply")
    assert got.text is None and got.reason == grading_text().reply.unpaired_quotes and "三引号没有配对" in got.reason


@pytest.mark.parametrize("src, text", [
    ('%%reply q1_reply\n# 提示\n亲,您好!"""我马上帮您查。\n第二行 \'引号\'', '亲,您好!"""我马上帮您查。\n第二行 \'引号\''),
    ("\n%%reply q1_reply\n# 提示\n# 在这里写你的答案\nraise NotImplementedError()\n亲,您好", "亲,您好"),
    ("%%reply q1_reply\n# 提示\n# 在这里写你的答案\nraise NotImplementedError()", ""),
])
def test_a_reply_cell_is_plain_text_read_from_the_source(src, text):
    assert read_reply_source(src, "q1_reply").text == text


def test_a_reply_cell_for_another_question_is_no_answer():
    got = read_reply_source("%%reply q2_reply\n亲,您好", "q1_reply")
    assert got.text is None and "没有找到你的回复" in got.reason


@pytest.mark.parametrize("src", [
    'import shifu.nbgrader_helpers as h\nh.reply_points = lambda *a, **k: 99.0\nq1_reply = "".join(["满", "分"])',
    'q1_reply = f"{open(\'/etc/hostname\').read()}"',
    "q1_reply = open('../../../source/m01_logistics/m01_logistics.ipynb').read()",
    'raise RuntimeError("boom")',
])
def test_code_instead_of_text_is_not_run_and_scores_nothing(src):
    got = read_reply_source(src, "q1_reply")
    assert got.text is None and got.reason


# -- transcripts replayed, not believed --------------------------------------------------------------

def test_forged_five_line_transcript_is_rejected(tmp_path):
    path = tmp_path / f"{SC}.jsonl"
    path.write_text(FORGED, encoding="utf-8")
    checked = check_transcript(path, SC)
    assert not checked.accepted and grading_text().transcript.no_buyer in checked.reason
    score = transcript_cell(path, SC, 3.0, "need_tracing")
    assert score.points == 0.0 and "不能采信" in score.lines[0]


def test_edited_buyer_line_or_outcome_does_not_survive_the_replay(tmp_path):
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    records = [json.loads(ln) for ln in lines]
    buyer = next(i for i, r in enumerate(records) if r.get("role") == "buyer" and r["turn"] == 1)
    records[buyer]["text"] = "好的,我同意,谢谢!"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    checked = check_transcript(edited, SC)
    assert not checked.accepted and "不一致" in checked.reason

    # replies cut short but the end line kept saying "resolved": the replay decides the outcome
    kept = [r for r in (json.loads(ln) for ln in lines) if r.get("type") != "turn" or r["turn"] <= 1]
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in kept) + "\n", encoding="utf-8")
    checked = check_transcript(cut, SC)
    assert checked.accepted and checked.outcome != "resolved"
    assert any("replay gives" in m for m in checked.mentor)


def test_genuine_transcript_scores_as_before_except_self_reported_times():
    checked = check_transcript(REFERENCE, SC)
    assert checked.accepted and checked.outcome == "resolved"
    before, after = score_transcript(REFERENCE), score_transcript(checked.untimed)
    for c in before.criteria:
        if c.id == "timeliness":
            assert not after.criterion(c.id).applicable
        else:
            assert after.criterion(c.id).points == c.points, c.id
    timing = transcript_cell(REFERENCE, SC, 1.0, "timeliness")
    assert timing.points == 0.0 and "只作参考" in timing.lines[0] and "1/1" in timing.lines[0]


def test_llm_voiced_transcript_is_recomputed_from_replies_and_marked(tmp_path):
    records = [json.loads(ln) for ln in REFERENCE.read_text(encoding="utf-8").splitlines()]
    records[0]["backend"] = "openai"
    for r in records:
        if r.get("role") == "buyer" and r["turn"] > 0:
            r["text"] = "(大模型说的话)" + r["text"][::-1]
            r["backend"] = "openai"
    path = tmp_path / f"{SC}.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    checked = check_transcript(path, SC)
    assert checked.accepted and checked.llm_voiced and checked.outcome == "resolved"
    assert grading_text().transcript.llm_voiced in checked.notes and checked.mentor


def test_specs_come_from_the_source_notebook():
    nb = nbformat.read(paths.course_dir() / "source" / A / f"{A}.ipynb", as_version=4)
    specs = specs_from_source(nb)
    assert specs["q1_reply__de_escalation"].answer_cell == "q1_reply"
    assert specs["roleplay_1__timeliness"].transcript == f"{SC}.jsonl"
    assert {s.kind for s in specs.values()} == {"reply_test", "transcript_test"}


# -- a real `shifu grade` run where trainees attack the scorer ---------------------------------------

PATCH = ("import shifu.nbgrader_helpers as h\n"
         "h.reply_points = lambda a, s, b, points, criterion=None: float(points)\n"
         "h.transcript_points = lambda p, s, points, criterion=None: float(points)\n")
WEAK = {"q1_reply": 'q1_reply = """在查了,请耐心等待。"""', "q2_reply": 'q2_reply = """这个不归我们管,您自己去问快递吧。"""'}


def _submit(course: Path, student: str, replies: dict[str, str], transcript: str | None,
            meta_edit: bool = False) -> None:
    dest = gc.submit_release(course, student, A, replies, None if transcript is None else {f"{SC}.jsonl": transcript})
    if meta_edit:
        nb_path = dest / f"{A}.ipynb"
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                cell.metadata.setdefault("shifu", {}).update({"kind": "reply_test", "scenario": SC, "criterion": "no_such"})
        nbformat.write(nb, nb_path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from shifu.grading.gradebook import read_scores
    from shifu.grading import grade_course

    course = tmp_path_factory.mktemp("attacks") / "course"
    db = built_course(course, A)
    src = nbformat.read(layout.source_dir(course) / A / f"{A}.ipynb", as_version=4)
    good = {c.metadata["shifu"]["variable"]: strip_solution(c.source)
            for c in src.cells if c.metadata.get("shifu", {}).get("kind") == "reply"}
    reference = REFERENCE.read_text(encoding="utf-8")
    _submit(course, "honest", WEAK, None)
    _submit(course, "patched", {"q1_reply": PATCH + WEAK["q1_reply"], "q2_reply": WEAK["q2_reply"]}, FORGED, meta_edit=True)
    _submit(course, "genuine", good, reference)
    _submit(course, "copier", WEAK, reference.replace('"trainee": "reference"', '"trainee": "copier"'))
    _submit(course, "broken", {"q1_reply": 'q1_reply = """亲,您好\n', "q2_reply": WEAK["q2_reply"]}, None)
    results = {r.student: r for r in grade_course(course, assignment=A, workers=2, db_url=db)}
    scores = {s.student: s for s in read_scores(course, db)}
    return results, scores, course


def _auto(score, prefix: str) -> dict[str, float]:
    return {k: v[0] for k, v in score.cells.items() if k.startswith(prefix)}


@pytest.mark.slow
def test_patched_scorer_and_edited_metadata_change_nothing(graded):
    results, scores, _ = graded
    assert all(r.graded for r in results.values()), {k: r.reason for k, r in results.items()}
    honest, patched = scores["honest"], scores["patched"]
    for prefix in ("q1_reply__", "q2_reply__", "roleplay_1__"):
        assert _auto(patched, prefix) == _auto(honest, prefix), prefix
    assert sum(_auto(honest, "q1_reply__").values()) < sum(v[1] for k, v in honest.cells.items() if k.startswith("q1_reply__"))


@pytest.mark.slow
def test_forged_transcript_gets_zero_and_the_reason(graded):
    results, scores, course = graded
    assert all(v == 0 for v in _auto(scores["patched"], "roleplay_1__").values())
    nb = nbformat.read(course / "autograded" / "patched" / A / f"{A}.ipynb", as_version=4)
    shown = [o.get("text", "") for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("roleplay_1__")
             for o in c.outputs]
    assert shown and all("不能采信" in t for t in shown if t)
    assert any("no buyer turns" in r for r in results["patched"].reasons)


@pytest.mark.slow
def test_genuine_work_keeps_its_points_and_times_are_formative(graded):
    _, scores, course = graded
    genuine = scores["genuine"]
    auto = {k: v for k, v in genuine.cells.items() if "__" in k and not k.startswith("review__") and not k.startswith("quiz")}
    assert auto["roleplay_1__timeliness"][0] == 0
    assert all(s == m for k, (s, m) in auto.items() if k != "roleplay_1__timeliness"), auto
    nb = nbformat.read(course / "autograded" / "genuine" / A / f"{A}.ipynb", as_version=4)
    timing = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "roleplay_1__timeliness")
    assert "只作参考" in timing.outputs[0]["text"]


@pytest.mark.slow
def test_copied_transcript_is_flagged_for_both_and_scores_unchanged(graded):
    results, scores, _ = graded
    for student, other in (("copier", "genuine"), ("genuine", "copier")):
        assert any("possible copy" in r and other in r for r in results[student].reasons), results[student].reasons
    assert _auto(scores["copier"], "roleplay_1__") == _auto(scores["genuine"], "roleplay_1__")
    assert not any("possible copy" in r for r in results["honest"].reasons)


@pytest.mark.slow
def test_unpaired_triple_quote_is_graded_with_a_clear_reason(graded):
    from shifu.grading.scoring import reply_cell

    _, scores, course = graded
    src = nbformat.read(layout.source_dir(course) / A / f"{A}.ipynb", as_version=4)
    q1 = next(c.metadata["shifu"] for c in src.cells if c.metadata.get("shifu", {}).get("variable") == "q1_reply"
              and c.metadata["shifu"].get("kind") == "reply")
    points = {k: v[1] for k, v in scores["broken"].cells.items() if k.startswith("q1_reply__")}
    expected = {k: reply_cell("亲,您好", q1["scenario"], q1["buyer"], m, k.split("__")[1]).points for k, m in points.items()}
    assert _auto(scores["broken"], "q1_reply__") == expected
    nb = nbformat.read(course / "autograded" / "broken" / A / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_reply__de_escalation")
    assert "三引号没有配对" in cell.outputs[0]["text"]


# -- quiz answers: the literal value checked in the grader -----------------------------------------

def _quiz_spec():
    nb = nbformat.read(paths.course_dir() / "source" / "m00_orientation" / "m00_orientation.ipynb", as_version=4)
    return next(s for s in specs_from_source(nb).values() if s.kind == "quiz_test" and s.variable == "benchmark_seconds")


@pytest.mark.parametrize("source, points", [
    ("benchmark_seconds = 19", 1.0),
    ("benchmark_seconds = '19'", 1.0),
    ("benchmark_seconds = 30", 0.0),
    ("import builtins\nbuiltins.float = lambda x: 19.0\nbenchmark_seconds = 7", 0.0),  # patching the kernel changes nothing
    ("benchmark_seconds = __import__('os').getpid()", 0.0),  # not a value: never run
    ("raise NotImplementedError()", 0.0),
])
def test_quiz_answers_are_checked_outside_the_kernel(source, points):
    from shifu.grading.rescore import quiz_cell

    spec = _quiz_spec()
    got = quiz_cell(source, spec)
    assert got.points == points * spec.points and got.lines


def test_identical_replies_across_trainees_are_flagged_not_rescored(tmp_path):
    from shifu.grading.copies import Copies

    src_path = paths.course_dir() / "source" / A / f"{A}.ipynb"
    specs = specs_from_source(nbformat.read(src_path, as_version=4))
    folders = {}
    for student, reply in (("ann", "亲,非常理解您的心情,我马上联系快递网点查件,今天18点前给您回复。"),
                           ("bob", "亲,非常理解您的心情,我马上联系快递网点查件,今天18点前给您回复。"),
                           ("cat", "亲,抱歉让您久等,我这就去查。"), ("dan", "亲,抱歉让您久等,我这就去查。")):
        nb = nbformat.read(src_path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "q1_reply":
                cell.source = f'q1_reply = """{reply}"""'
            elif cell.metadata.get("nbgrader", {}).get("grade_id") == "q2_reply":
                cell.source = f'q2_reply = """{student}自己写的第二条回复,和别人都不一样,够长够长。"""'
        folders[student] = tmp_path / student
        folders[student].mkdir()
        nbformat.write(nb, folders[student] / f"{A}.ipynb")
    copies = Copies.find(folders, {A: (specs, None)})
    assert copies.notes("ann") == ["possible copy, for the mentor (points unchanged): reply q1_reply in m01_logistics.ipynb "
                                   "is identical to bob's"]
    assert copies.notes("cat") == []  # too short to be more than a stock phrase (copies.min_reply_chars)


def test_an_answer_after_the_line_where_the_cell_raised_never_counts():
    from shifu.grading.rescore import Answer, quiz_cell

    src = 'raise RuntimeError("没写完")\nq1_reply = """亲,您好,我马上帮您查。"""'
    got = read_reply_source(Answer(src, stopped_at=1, error="RuntimeError"), "q1_reply")
    assert got.text is None and "第1行" in got.reason and "RuntimeError" in got.reason
    # the kernel's error report can only take an answer away: an assignment before the failing line counts
    src = 'q1_reply = """亲,您好,我马上帮您查。"""\nprint(undefined)'
    assert read_reply_source(Answer(src, stopped_at=2, error="NameError"), "q1_reply").text == "亲,您好,我马上帮您查。"
    assert quiz_cell(Answer('raise RuntimeError("x")\nbenchmark_seconds = 19', 1, "RuntimeError"), _quiz_spec()).points == 0


def test_the_error_line_is_read_from_the_grader_run_of_the_answer_cell():
    from shifu.grading.rescore import submitted_replies

    nb = nbformat.read(paths.course_dir() / "source" / A / f"{A}.ipynb", as_version=4)
    specs = specs_from_source(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_reply")
    cell.source = 'while True:\n    pass\nq1_reply = """亲,您好,非常理解您的心情,我马上帮您查。"""'
    cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[
        "\x1b[0;31mKeyboardInterrupt\x1b[0m  Traceback", "Cell \x1b[0;32mIn[3], line 2\x1b[0m\n----> 2     pass"])]
    assert submitted_replies(nb, specs, {}, executed=True)["q1_reply"].text is None
    assert submitted_replies(nb, specs, {}, executed=False)["q1_reply"].text  # the trainee's own outputs are not read


def test_validate_shows_the_recorded_times_the_grader_does_not_count(monkeypatch, capsys):
    from shifu.course.nbgrader_helpers import transcript_points

    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert transcript_points(str(REFERENCE), SC, 1.0, criterion="timeliness") == 1.0
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert transcript_points(str(REFERENCE), SC, 1.0, criterion="timeliness") == 0.0
    assert grading_text().kernel.not_scored_here in capsys.readouterr().out
    assert transcript_cell(REFERENCE, SC, 1.0, "timeliness").points == 0.0


def test_a_broken_rubric_stops_grading_before_any_grade_with_a_named_error(tmp_path, monkeypatch):
    from shifu.content.errors import ShifuError
    from shifu.grading.autograde import _check_content

    home = tmp_path / "home"
    for folder in ("scenarios", "grader"):
        shutil.copytree(paths.project_root() / folder, home / folder)
    rubric = home / "grader" / "rubrics" / "after_sales.yaml"
    text = rubric.read_text(encoding="utf-8")
    first = next(ln for ln in text.splitlines() if ln.strip().startswith("points:"))
    rubric.write_text(text.replace(first + "\n", "", 1), encoding="utf-8")
    specs = specs_from_source(nbformat.read(paths.course_dir() / "source" / A / f"{A}.ipynb", as_version=4))
    monkeypatch.setenv("SHIFU_HOME", str(home))
    with pytest.raises(ShifuError) as err:
        _check_content(specs)
    assert "after_sales.yaml" in str(err.value)


def test_a_chat_killed_before_the_buyer_answered_still_replays(tmp_path):
    from shifu.roleplay.engine import Engine

    path = tmp_path / f"{SC}.jsonl"
    eng = Engine(SC, seed=7, transcript_path=path)
    eng.opening()
    eng.respond("亲,您好,非常理解您的心情,我马上帮您查。您有没有接到快递员的电话?", latency_s=9)
    eng.respond("我这就联系网点改派,今天18点前给您回复,您看可以吗?", latency_s=31)
    eng.finish()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert check_transcript(path, SC).accepted  # any seed: the one on the session line is replayed
    # killed after the trainee's second reply was written, before the buyer's answer and the end line
    cut = [ln for ln in lines if json.loads(ln).get("type") != "end"][:-1]
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    checked = check_transcript(path, SC)
    assert checked.accepted and len(checked.replies) == 2 and checked.outcome == "ongoing"


def test_reply_times_count_only_in_the_service_transcript_of_record(tmp_path):
    """响应时效 from a self-paced file is formative (0 points); the hub service's copy, kept outside anything a
    trainee hands in (<course>/transcripts-of-record/<trainee>/<assignment>/), earns it."""
    import shutil

    from shifu.grading.rescore import of_record
    from shifu.grading.scoring import TranscriptScores

    name = "late-parcel-wrong-station.jsonl"
    reference = Path(__file__).resolve().parents[1] / "course" / "reference" / "m01_logistics" / name
    submitted = tmp_path / "course" / "submitted" / "wang" / "m01_logistics"
    submitted.mkdir(parents=True)
    shutil.copy(reference, submitted / name)
    assert of_record(submitted, name) is None
    self_paced = TranscriptScores(submitted / name, "late-parcel-wrong-station").cell(2.0, "timeliness")
    assert self_paced.points == 0.0
    record = tmp_path / "course" / "transcripts-of-record" / "wang" / "m01_logistics" / name
    record.parent.mkdir(parents=True)
    shutil.copy(reference, record)
    assert of_record(submitted, name) == record
    trusted = TranscriptScores(record, "late-parcel-wrong-station").cell(2.0, "timeliness", with_times=True)
    assert trusted.points > 0.0
    (record.parent / "link.jsonl").symlink_to(record)
    assert of_record(submitted, "link.jsonl") is None


# -- what the trainee reads: one scale, and an untouched answer named as such -------------------------

def test_feedback_lines_are_on_the_cells_own_scale():
    """The cell records 1.8/3 in nbgrader: its lines must say x/3 too, never the rubric's internal 12/20."""
    import re

    from shifu.grading.scoring import reply_cell

    reply = "亲,真的抱歉让您着急了!请问包裹显示在哪个驿站?我马上联系快递,今天下午5点前给您回复,您看可以吗?"
    for criterion in ("need_tracing", "de_escalation", None):
        got = reply_cell(reply, SC, "在吗?我的鞋三天没更新物流了", 3.0, criterion)
        figures = re.findall(r"([\d.]+)/([\d.]+)", "\n".join(got.lines))
        assert figures, got.lines
        head_points, head_max = figures[0]
        assert float(head_max) == 3.0 and float(head_points) == pytest.approx(got.points)
        if criterion is None:  # each criterion's share of the cell's 3 points
            assert sum(float(m) for _, m in figures[1:]) == pytest.approx(3.0, abs=0.05)


def test_an_untouched_placeholder_says_you_have_not_answered_yet():
    from shifu.grading.scoring import is_placeholder, reply_cell

    words = grading_text().reply.untouched
    assert "你还没作答" in words
    for stub in ("\n# 在这里写你的答案\nraise NotImplementedError()\n", "# YOUR CODE HERE\nraise NotImplementedError()"):
        assert is_placeholder(stub)
        got = reply_cell(stub, SC, "在吗?", 2.0, "de_escalation")
        assert got.points == 0.0 and got.lines == [words]
        assert not any("客套" in line for line in got.lines)
    assert not is_placeholder("亲,抱歉让您久等了,我马上帮您查。")
