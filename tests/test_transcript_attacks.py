"""Attacks on the reorganised transcript package (shifu.roleplay.transcript: records, context, replay, course) and
what uses it (grading's TranscriptScores, `shifu progress` evidence, attempts, Engine.resume), tried as a
hostile trainee who can write any file in their own submission folder.

Each test asserts the HONEST outcome; every attack found was fixed (none is left as an xfail). Found by the red-team pass on branch wt-attack-replay.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from shifu.content import paths
from shifu.roleplay.attempts import attempts, choice_path, chosen, hand_in
from shifu.course import layout
from shifu.roleplay.engine import Engine, replay
from shifu.content.errors import ShifuError
from shifu.grading.scoring import TranscriptScores
from shifu.progress.evidence import rubric_scorer
from shifu.roleplay.scenario import load_scenario
from shifu.roleplay.transcript.course import read_transcript_file, read_transcripts
from shifu.roleplay.transcript.replay import check_transcript, play_script
from shifu.roleplay.transcript_view import show_file

A = "m01_logistics"
SC = "late-parcel-wrong-station"
NAME = f"{SC}.jsonl"
REFERENCE = layout.reference_dir() / A / NAME


def _records(path: Path = REFERENCE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def _replies() -> list[str]:
    return [r["text"] for r in _records() if r.get("role") == "trainee"]


def _evidence(path: Path) -> dict[str, float]:
    """`shifu progress`'s evidence from one transcript: criterion id → points."""
    return {cid: points for cid, _, points, _ in rubric_scorer()(path)}


# == (b) crash: an integer JSON can hold but Python will not convert =======================================

def _huge_seed(path: Path) -> Path:
    """The honest reference with its seed replaced by a 5000-digit integer: valid JSON, but Python 3.11's
    json raises ValueError (int max str digits), which is neither a JSONDecodeError nor a ShifuError."""
    records = _records()
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    text = text.replace(f'"seed": {records[0]["seed"]}', '"seed": ' + "9" * 5000, 1)
    path.write_text(text, encoding="utf-8")
    return path


HUGE_INT_READERS = {
    "grader_replay": lambda p: check_transcript(p, SC).accepted,
    "progress_read": lambda p: read_transcript_file(p, "mallory", A).error,
    "attempts_hand_in": lambda p: hand_in(p.parent, p.name),
    "mentor_show": lambda p: show_file(p),  # `shifu transcript show`
}


@pytest.mark.parametrize("caller", sorted(HUGE_INT_READERS))
def test_a_huge_integer_in_a_transcript_is_rejected_not_a_crash(tmp_path, caller):
    path = _huge_seed(tmp_path / NAME)
    if caller == "mentor_show":
        with pytest.raises(ShifuError):
            show_file(path)
        return
    result = HUGE_INT_READERS[caller](path)
    if caller == "grader_replay":
        assert result is False
    elif caller == "progress_read":
        assert result  # kept with its reason
    else:
        assert result == path


def test_rescore_gives_a_transcript_with_a_huge_integer_zero_with_a_reason(tmp_path):
    import nbformat

    from shifu.grading.rescore import rescore, specs_from_source

    nb = nbformat.read(layout.source_dir() / A / f"{A}.ipynb", as_version=4)
    specs = specs_from_source(nb)
    _huge_seed(tmp_path / NAME)
    rescore(nb, specs, tmp_path)
    graded = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")
              and c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").startswith("roleplay_")]
    assert graded
    for cell in graded:
        assert cell["outputs"][-1]["data"]["text/plain"] == "0.0"


def test_the_grader_cell_gives_a_huge_integer_zero_points(tmp_path):
    """TranscriptScores on the file itself (no attempts consulted) survives: 0 points and a line."""
    cell = TranscriptScores(_huge_seed(tmp_path / NAME), SC).cell(10.0)
    assert cell.points == 0.0 and cell.lines


def test_the_grader_cell_names_the_file_for_a_huge_integer(tmp_path):
    cell = TranscriptScores(_huge_seed(tmp_path / NAME), SC).cell(10.0)
    assert NAME in " ".join(cell.lines) and "4300" not in " ".join(cell.lines)


def test_resuming_a_transcript_with_a_huge_integer_is_a_clear_error(tmp_path):
    path = _huge_seed(tmp_path / NAME)
    with pytest.raises(ShifuError):
        Engine.resume(path, finished=True)


def test_a_huge_integer_in_the_hand_in_choice_grades_the_default_attempt(tmp_path):
    _write(tmp_path / NAME, _records())
    choice_path(tmp_path, NAME).write_text('{"hand_in": ' + "9" * 5000 + "}", encoding="utf-8")
    assert chosen(tmp_path, NAME) is None
    assert hand_in(tmp_path, NAME) == tmp_path / NAME


# == (a) progress evidence from a scenario the trainee wrote ===============================================

def _own_scenario(folder: Path) -> Path:
    """A copy of the real scenario, written in the trainee's folder, where the word 改派 uncovers every
    hidden fact and the buyer starts calm: the trainee's own, much easier, rules."""
    data = yaml.safe_load((paths.scenarios_dir() / f"{SC}.yaml").read_text(encoding="utf-8"))
    data["persona"]["starting_mood"] = 90
    data["hidden_facts"] = [dict(h, cues=["改派"]) for h in data["hidden_facts"]]
    own = folder / "own" / f"{SC}.yaml"  # the file name must match the id
    own.parent.mkdir(parents=True)
    own.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return own


LAZY = [("亲,请问您那边改派了吗?", 5.0), ("今天下午3点前给您改派,您看这样可以吗?", 5.0)]


def test_a_transcript_naming_a_scenario_file_the_trainee_wrote_adds_no_progress_evidence(tmp_path):
    folder = tmp_path / "course" / "submitted" / "mallory" / A
    own = _own_scenario(folder)
    honest = play_script(load_scenario(SC), LAZY, folder / "honest.jsonl")
    forged = folder / "practice.jsonl"
    play_script(load_scenario(str(own)), LAZY, forged)
    records = _records(forged)
    records[0]["scenario"] = str(own)  # an absolute path; str(own.with_suffix("")) works as well
    _write(forged, records)

    assert honest != "resolved"
    assert check_transcript(forged, scenario=load_scenario(str(own)), scenario_id=str(own)).outcome == "resolved"  # what it buys
    assert not check_transcript(forged).accepted
    assert _evidence(forged) == {}


def test_the_grader_refuses_a_scenario_file_named_in_the_session(tmp_path):
    """Grading compares the session's scenario with the assignment's, so the same forgery earns nothing there."""
    own = _own_scenario(tmp_path)
    forged = tmp_path / NAME
    play_script(load_scenario(str(own)), LAZY, forged)
    records = _records(forged)
    records[0]["scenario"] = str(own)
    _write(forged, records)
    assert not check_transcript(forged, SC).accepted
    assert TranscriptScores(forged, SC).cell(10.0, "need_tracing").points == 0.0


# == (a) self-recorded reply times ===========================================================================

def test_editing_self_recorded_reply_times_earns_no_progress_timeliness(tmp_path):
    slow = tmp_path / "slow.jsonl"
    play_script(load_scenario(SC), [(r, 200.0) for r in _replies()], slow)
    records = _records(slow)
    assert records[0].get("recorded_by", "self") == "self"
    for r in records:
        if r.get("role") == "trainee":
            r["latency_s"] = 3.0
    forged = _write(tmp_path / "forged.jsonl", records)
    assert check_transcript(forged, SC).accepted
    assert _evidence(forged).get("timeliness", 0.0) <= _evidence(slow).get("timeliness", 0.0)


def test_a_negative_reply_time_is_rejected(tmp_path):
    records = _records()
    for r in records:
        if r.get("role") == "trainee":
            r["latency_s"] = -1e308
    forged = _write(tmp_path / NAME, records)
    assert not check_transcript(forged, SC).accepted


def test_self_recorded_reply_times_do_not_change_the_graded_points(tmp_path):
    """The grader scores the replay without the times (formative only): editing them changes no cell."""
    slow = tmp_path / "slow" / NAME
    play_script(load_scenario(SC), [(r, 200.0) for r in _replies()], slow)
    records = _records(slow)
    for r in records:
        if r.get("role") == "trainee":
            r["latency_s"] = 3.0
    forged = _write(tmp_path / "forged" / NAME, records)
    for criterion in ("de_escalation", "need_tracing", "consensus_solution", "closing_loop"):
        assert TranscriptScores(forged, SC).cell(3.0, criterion).points == TranscriptScores(slow, SC).cell(3.0, criterion).points


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_non_finite_reply_times_do_not_crash_the_replay_or_progress(tmp_path, value):
    records = _records()
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    text = text.replace('"latency_s": 12.0', f'"latency_s": {value}', 1)
    path = tmp_path / NAME
    path.write_text(text, encoding="utf-8")
    checked = check_transcript(path, SC)
    assert checked.outcome in ("resolved", "escalated", "abandoned", "ongoing")
    for points in _evidence(path).values():
        assert points == points  # never NaN


# == (d) another trainee's transcript ========================================================================

def test_a_transcript_linked_to_a_classmates_adds_no_progress_evidence(tmp_path):
    course = tmp_path / "course"
    victim = course / "submitted" / "victim" / A / NAME
    play_script(load_scenario(SC), [(r, 10.0) for r in _replies()], victim)
    mine = course / "submitted" / "mallory" / A
    mine.mkdir(parents=True)
    (mine / "borrowed.jsonl").symlink_to(f"../../victim/{A}/{NAME}")
    found = [f for f in read_transcripts(course) if f.trainee == "mallory"]
    assert all(f.error or not _evidence(f.path) for f in found), [f.path for f in found]


def test_a_special_file_named_like_a_transcript_does_not_stop_progress(tmp_path):
    import subprocess
    import sys

    course = tmp_path / "course"
    mine = course / "submitted" / "mallory" / A
    mine.mkdir(parents=True)
    os.mkfifo(tmp_path / "pipe")  # nobody ever writes to it
    (mine / "practice.jsonl").symlink_to(tmp_path / "pipe")
    code = ("import sys; from pathlib import Path; from shifu.roleplay.transcript.course import read_transcripts; "
            "print(len(read_transcripts(Path(sys.argv[1]))))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    try:  # the timeout is what is tested: reading one small folder takes well under a second
        done = subprocess.run([sys.executable, "-c", code, str(course)], capture_output=True, text=True, timeout=90, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("read_transcripts blocked on a FIFO in a trainee's folder")
    assert done.returncode == 0, done.stderr


def test_a_symlinked_attempt_or_current_file_is_not_an_attempt(tmp_path):
    victim = tmp_path / "victim" / NAME
    play_script(load_scenario(SC), [(r, 10.0) for r in _replies()], victim)
    mine = tmp_path / "mallory"
    mine.mkdir()
    (mine / f"{SC}.1.jsonl").symlink_to(victim)
    (mine / NAME).symlink_to(victim)
    assert attempts(mine, NAME) == []
    choice_path(mine, NAME).write_text(json.dumps({"hand_in": f"{SC}.1.jsonl"}), encoding="utf-8")
    assert chosen(mine, NAME) is None


@pytest.mark.parametrize("target", ["../victim/late-parcel-wrong-station.jsonl",
                                    "/etc/passwd", "late-parcel-wrong-station.jsonl/../../victim/x.jsonl"])
def test_a_hand_in_choice_outside_the_attempts_grades_the_default(tmp_path, target):
    _write(tmp_path / "victim" / NAME, _records())
    mine = tmp_path / "mallory"
    _write(mine / NAME, _records())
    choice_path(mine, NAME).write_text(json.dumps({"hand_in": target}), encoding="utf-8")
    assert chosen(mine, NAME) is None
    assert hand_in(mine, NAME) == mine / NAME


# == (a) forged facts, outcome, moods, order: the replay counts ==============================================

def _weak_transcript(tmp_path: Path) -> Path:
    """An honest, short conversation that does not resolve: one reply, then 结束并保存."""
    path = tmp_path / NAME
    play_script(load_scenario(SC), [("好的", 10.0)], path)
    return path


def test_a_forged_outcome_facts_and_moods_are_replaced_by_the_replay(tmp_path):
    path = _weak_transcript(tmp_path)
    honest = {c: TranscriptScores(path, SC).cell(3.0, c).points for c in ("need_tracing", "consensus_solution", "closing_loop")}
    records = _records(path)
    facts = [f.id for f in load_scenario(SC).hidden_facts]
    for r in records:
        if r["type"] == "turn":
            r["revealed"], r["mood_before"], r["mood_after"] = facts, 100, 100
        if r["type"] == "end":
            r.update(outcome="resolved", facts_revealed=facts, resolution="reroute_today")
    forged = _write(tmp_path / "forged" / NAME, records)
    checked = check_transcript(forged, SC)
    assert checked.outcome != "resolved"
    assert any("the replay counts" in m for m in checked.mentor)
    for criterion, points in honest.items():
        assert TranscriptScores(forged, SC).cell(3.0, criterion).points == points
    state, _ = replay(forged)
    assert state.outcome != "resolved" and not state.revealed


def test_resume_recomputes_the_state_not_the_forged_moods_and_facts(tmp_path):
    path = tmp_path / NAME
    play_script(load_scenario(SC), [("好的", 10.0)], path, stop_after=1)
    records = [r for r in _records(path) if r["type"] != "end"]  # reopened as ongoing
    honest = Engine.resume(_write(tmp_path / "honest" / NAME, records)).state
    facts = [f.id for f in load_scenario(SC).hidden_facts]
    for r in records:
        if r["type"] == "turn":
            r["revealed"], r["mood_before"], r["mood_after"] = facts, 100, 100
    eng = Engine.resume(_write(tmp_path / "forged" / NAME, records))
    assert eng.state.mood == honest.mood and eng.state.revealed == honest.revealed


@pytest.mark.parametrize("edit", ["duplicate_reply", "swap_turns", "reply_after_end", "other_scenario", "no_buyer"])
def test_restructured_transcripts_are_rejected(tmp_path, edit):
    records = _records()
    turns = [i for i, r in enumerate(records) if r["type"] == "turn"]
    trainee = [i for i in turns if records[i]["role"] == "trainee"]
    if edit == "duplicate_reply":
        records.insert(trainee[-1] + 1, dict(records[trainee[-1]]))
    elif edit == "swap_turns":
        a, b = trainee[0], trainee[1]
        records[a], records[b] = records[b], records[a]
    elif edit == "reply_after_end":
        records.insert(trainee[-1] + 2, dict(records[trainee[0]], turn=records[trainee[-1]]["turn"] + 1))
        records.insert(trainee[-1] + 3, dict(records[trainee[-1] + 1], turn=records[trainee[-1]]["turn"] + 1))
    elif edit == "other_scenario":
        records[0]["scenario"] = "apparel-size"
    else:
        records = [r for r in records if r.get("role") != "buyer"]
    path = _write(tmp_path / NAME, records)
    checked = check_transcript(path, SC)
    assert not checked.accepted and checked.reason
    assert TranscriptScores(path, SC).cell(10.0).points == 0.0


def test_another_seed_without_its_buyer_lines_is_rejected_and_extra_fields_change_nothing(tmp_path):
    records = _records()
    records[0]["seed"] = records[0]["seed"] + 7
    assert not check_transcript(_write(tmp_path / "seed" / NAME, records), SC).accepted
    records = _records()
    for r in records:
        r["points"], r["score"], r["recorded_by"] = 100, 100, "service"
    records.insert(2, dict(records[0], scenario="apparel-size"))  # a second session record: ignored
    checked = check_transcript(_write(tmp_path / "extra" / NAME, records), SC)
    assert checked.accepted
    assert checked.outcome == check_transcript(REFERENCE, SC).outcome


def test_invalid_utf8_and_a_huge_line_are_rejected_with_a_reason(tmp_path):
    bad = tmp_path / "bad" / NAME
    bad.parent.mkdir()
    raw = REFERENCE.read_bytes()
    bad.write_bytes(raw[:40] + b"\xff\xfe" + raw[40:])  # inside the session line's text
    checked = check_transcript(bad, SC)
    assert not checked.accepted and checked.reason
    assert read_transcript_file(bad, "mallory", A).error
    assert [a.outcome for a in attempts(bad.parent, NAME)] == ["unreadable"]

    huge = tmp_path / "huge" / NAME
    records = _records()
    records.insert(2, {"type": "turn", "junk": "x" * 20_000_000})
    _write(huge, records)
    checked = check_transcript(huge, SC)
    assert not checked.accepted and checked.reason


# == (b) a reply far longer than a chat message: the grader reads it all, with no time limit ==================

def test_a_reply_of_megabytes_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from shifu.reading import readers
    from shifu.reading.signals import Signals

    seen: list[int] = []

    def spy(reply: str, ctx: object) -> Signals:  # counts what reaches the reader, answers at once
        seen.append(len(reply))
        return Signals(substance=0.5)

    monkeypatch.setattr(readers, "active", lambda: spy)
    records = _records()
    first = next(r for r in records if r.get("role") == "trainee")
    first["text"] = "亲,非常抱歉让您久等了,我马上帮您联系网点改派。" * 100_000  # 2.4 million characters
    path = _write(tmp_path / NAME, records)
    checked = check_transcript(path, SC)
    assert not checked.accepted and checked.reason
    assert max(seen, default=0) <= 100_000, f"the reader was given a reply of {max(seen)} characters"


# == (b) timestamps the trainee writes ========================================================================

def test_a_start_time_at_the_edge_of_the_calendar_does_not_stop_progress(tmp_path):
    records = _records()
    records[0]["started"] = "0001-01-01T00:00:00"
    path = _write(tmp_path / "course" / "submitted" / "mallory" / A / NAME, records)
    found = read_transcripts(tmp_path / "course")
    assert [f.path for f in found] == [path]
    # the session's start is no time a session can have (the first turn's time stands in for it), or the file is refused
    assert found[0].started is None or found[0].error or found[0].started.year >= 1970


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59+14:00", "2026-02-30T00:00:00", "NaT", "x" * 10_000,
                                   "2026-11-30T10:00:00+99:00", "+275760-09-13"])
def test_odd_start_times_are_read_without_a_crash(tmp_path, value):
    records = _records()
    records[0]["started"] = value
    for r in records:
        if "ts" in r:
            r["ts"] = value
    path = _write(tmp_path / NAME, records)
    tf = read_transcript_file(path, "mallory", A)
    assert not tf.error
    assert check_transcript(path, SC).accepted  # times are not evidence of the conversation


def test_an_infinite_reply_time_does_not_break_the_response_time_chart(tmp_path):
    from shifu.progress.config import load_progress_rules
    from shifu.progress.charts import response_time
    from shifu.progress.evidence import latency_table

    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in _records()) + "\n"
    path = tmp_path / NAME
    path.write_text(text.replace('"latency_s": 12.0', '"latency_s": Infinity', 1), encoding="utf-8")
    table = latency_table([read_transcript_file(path, "mallory", A)])
    response_time(table, load_progress_rules(), "mallory")
    assert all(v == v and v != float("inf") for v in table["mean_latency_s"])  # a finite number, or left out
