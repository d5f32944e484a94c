"""The conversation in front of the mentor: `shifu transcript show` in the terminal, and chat bubbles with
each turn's mood and signals in the graded role-play cell (formgrader) and in the trainee's feedback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import grading_course as gc  # tests/ is on the path under pytest
from course_builders import built_course
from shifu.course import layout
from shifu.roleplay.transcript_view import render_html, render_text, show_file, view_text

A = "m01_logistics"
SC = "late-parcel-wrong-station"
REFERENCE = layout.reference_dir() / A / f"{SC}.jsonl"
BIN = Path(sys.executable).parent


def _records(path: Path = REFERENCE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def test_transcript_show_prints_every_turn_with_mood_and_signals():
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([str(BIN / "shifu"), "transcript", "show", str(REFERENCE)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    words = view_text()
    records = _records()
    for r in records:
        if r["type"] == "turn":
            assert r["text"] in out  # every line of the conversation, in order
    turns = [r for r in records if r["type"] == "turn"]
    positions = [out.index(r["text"]) for r in turns]
    assert positions == sorted(positions)
    first_reply = next(r for r in turns if r["role"] == "trainee")
    assert f"[1] {words.roles['trainee']} · " in out and f"[0] {words.roles['buyer']} · " in out
    assert f"{first_reply['mood_before']} → {first_reply['mood_after']}" in out
    assert words.signal("empathy") in out and words.signal("probe") in out  # signals by their Chinese names
    assert "empathy" not in out  # not the code's names
    assert words.replayed in out


def test_an_edited_transcript_is_shown_as_written_under_a_warning(tmp_path):
    records = _records()
    buyer = next(r for r in records if r["type"] == "turn" and r["role"] == "buyer" and r["turn"] == 1)
    buyer["text"] = "好的好的,你说什么都行,给满分吧。"
    trainee = next(r for r in records if r["type"] == "turn" and r["role"] == "trainee")
    trainee["text"] += "<script>alert(1)</script>"
    trainee["mood_after"] = 100
    shown = show_file(_write(tmp_path / f"{SC}.jsonl", records))
    assert not shown.checked and "重放" in shown.warning
    text = render_text(shown)
    assert shown.warning in text and "给满分吧" in text
    page = render_html(shown)
    assert "<script>" not in page and "&lt;script&gt;" in page  # trainee text is escaped
    assert "alert alert-danger" in page


def test_replayed_moods_are_the_engines_not_the_files(tmp_path):
    records = _records()
    for r in records:
        if r["type"] == "turn" and r["role"] == "trainee":
            r["mood_after"] = 100  # claims the buyer was delighted after every reply
            r["signals"] = ["empathy"]
    shown = show_file(_write(tmp_path / f"{SC}.jsonl", records))
    assert shown.checked
    real = [r for r in _records() if r["type"] == "turn" and r["role"] == "trainee"]
    got = [t for t in shown.transcript.turns if t.role == "trainee"]
    assert [t.mood_after for t in got] == [r["mood_after"] for r in real]
    assert [t.signals for t in got] == [r["signals"] for r in real]


def test_transcript_show_says_what_is_wrong_with_a_missing_file(tmp_path):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([str(BIN / "shifu"), "transcript", "show", str(tmp_path / "nope.jsonl")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "nope.jsonl" in proc.stderr and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_graded_roleplay_cell_and_feedback_show_the_conversation(tmp_path):
    from shifu.grading import grade_course

    course = tmp_path / "course"
    db = built_course(course, A)
    gc.submit_release(course, "xiaolin", A, None, {f"{SC}.jsonl": REFERENCE.read_text(encoding="utf-8")})
    results = grade_course(course, assignment=A, workers=1, db_url=db)
    assert results[0].graded, results[0].reason
    nb = nbformat.read(course / "autograded" / "xiaolin" / A / f"{A}.ipynb", as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("shifu", {}).get("kind") == "transcript_test"]
    assert len(graded) > 1
    with_chat = [c for c in graded if any("text/html" in o.get("data", {}) for o in c.outputs)]
    assert with_chat == graded[:1]  # once per conversation, on its first graded cell
    first = graded[0]
    html_out = next(o for o in first.outputs if "text/html" in o.get("data", {}))
    page = html_out["data"]["text/html"]
    reply = next(r for r in _records() if r["type"] == "turn" and r["role"] == "trainee")["text"]
    assert "alert alert-info" in page and "alert alert-warning" in page and reply in page
    assert first.outputs[-1].output_type == "execute_result"  # nbgrader's partial credit still reads the points
    # the points are the grader's, unchanged by the view
    from nbgrader.utils import determine_grade

    points, _ = determine_grade(first)
    assert points is not None and float(first.outputs[-1]["data"]["text/plain"]) == points
    # the trainee's feedback page (sanitized) keeps the bubbles
    fb = (course / "feedback" / "xiaolin" / A / f"{A}.html").read_text(encoding="utf-8")
    assert 'class="alert alert-info"' in fb and view_text().signal("empathy") in fb
    assert view_text().title.format(title="", scenario=SC).split("{")[0].strip(":") in fb


def test_a_transcript_of_an_unknown_scenario_is_shown_as_written(tmp_path):
    records = _records()
    records[0]["scenario"] = "no-such-buyer"
    shown = show_file(_write(tmp_path / "x.jsonl", records))
    assert not shown.checked and "no-such-buyer" in shown.warning
    assert next(r for r in records if r["type"] == "turn")["text"] in render_text(shown)


def test_the_mentor_sees_which_replies_left_her_question_unanswered(tmp_path: Path):
    """A plan restated kindly without the time she asks for: the replayed conversation marks those replies, in
    the terminal and in the bubbles, with what she asked (grader/ui.yaml demand_asked)."""
    from shifu.content.ui_text import ui_text
    from shifu.roleplay.engine import Engine

    path = tmp_path / "t.jsonl"
    eng = Engine(SC, backend="scripted", seed=0, transcript_path=path)
    eng.opening()
    for reply in ["王女士您好,请问包裹现在显示在哪个驿站?", "我这就联系网点帮您改派到家。",
                  "改派的事我一定盯着,您放心。", "改派我记下了,真的很抱歉让您等这么久。"]:
        if not eng.state.ended:
            eng.respond(reply, latency_s=10.0)
    eng.finish()
    assert eng.debrief().unanswered, "the conversation must leave a demand unanswered for this test to mean anything"
    shown = show_file(path)
    assert shown.checked
    assert sorted(shown.unanswered.items()) == sorted(eng.debrief().unanswered)
    asked = ui_text().demand_asked[next(iter(shown.unanswered.values()))]
    line = view_text().unanswered.format(value=asked)
    assert line in render_text(shown)
    assert line in render_html(shown)
