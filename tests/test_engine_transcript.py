"""Transcripts: the exact JSONL format, on disk every turn, a killed process loses at most the turn
in flight, resuming continues the same conversation, a truncated last line is tolerated."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine_helpers import scenario
from shifu.roleplay.engine import Engine, replay
from shifu.content.errors import ShifuError
from shifu.reading.signals import Signals, Span
from shifu.roleplay.transcript import read_transcript
from shifu.reading.vocab import Signal

SC = scenario("late-parcel-wrong-station")
SESSION_KEYS = {"type", "version", "scenario", "backend", "seed", "started", "trainee", "recorded_by"}
TURN_KEYS = {"type", "turn", "role", "text", "ts", "latency_s", "mood_before", "mood_after", "signals", "revealed", "backend"}
END_KEYS = {"type", "ts", "outcome", "escalation", "facts_revealed", "resolution"}

SCRIPT = {
    "问站点": Signals(spans=(Span(Signal.empathy, "x", 0, 1), Span(Signal.probe, "x", 0, 1)),
                   probed_facts=frozenset({"wrong_station"}), substance=0.9),
    "问时间": Signals(spans=(Span(Signal.probe, "x", 0, 1), Span(Signal.summary, "x", 0, 1)),
                   probed_facts=frozenset({"race_saturday"}), substance=0.9),
    "安抚": Signals(spans=(Span(Signal.apology, "x", 0, 1),), substance=0.9),
    "给方案": Signals(spans=tuple(Span(s, "x", 0, 1) for s in (Signal.solution, Signal.time_commitment, Signal.consensus_check)),
                   resolutions=frozenset({"reroute_today"}), substance=0.9),
}


def reader(reply: str, ctx) -> Signals:
    return SCRIPT.get(reply, Signals(substance=0.5))


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_format_is_exactly_the_agreed_one(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, seed=5, transcript_path=path, trainee="xiaolin", reader=reader)
    eng.opening()
    eng.respond("问站点", latency_s=12.5)
    eng.respond("问时间")
    eng.respond("给方案")
    recs = records(path)
    assert set(recs[0]) == SESSION_KEYS
    assert recs[0] | {"started": None} == {"type": "session", "version": 1, "scenario": SC.id, "backend": "scripted",
                                           "seed": 5, "started": None, "trainee": "xiaolin",
                                           "recorded_by": "self"}
    turns = [r for r in recs if r["type"] == "turn"]
    assert all(set(r) == TURN_KEYS for r in turns)
    assert [(r["turn"], r["role"]) for r in turns] == [(0, "buyer"), (1, "trainee"), (1, "buyer"), (2, "trainee"),
                                                       (2, "buyer"), (3, "trainee"), (3, "buyer")]
    first = turns[1]
    assert first["latency_s"] == 12.5 and first["signals"] == ["empathy", "probe"] and first["revealed"] == ["wrong_station"]
    assert first["mood_before"] == SC.persona.starting_mood and first["mood_after"] > first["mood_before"]
    assert turns[2]["revealed"] == ["wrong_station"] and turns[2]["latency_s"] is None
    assert set(recs[-1]) == END_KEYS
    assert recs[-1] | {"ts": None} == {"type": "end", "ts": None, "outcome": "resolved", "escalation": None,
                                       "facts_revealed": ["wrong_station", "race_saturday"], "resolution": "reroute_today"}
    assert "王女士" not in path.read_text(encoding="utf-8").encode("ascii", "replace").decode(), "UTF-8, not \\u escapes"


def test_every_turn_is_on_disk_before_respond_returns(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, transcript_path=path, reader=reader)
    eng.opening()
    for n, reply in enumerate(["问站点", "安抚"], start=1):
        eng.respond(reply)
        on_disk = read_transcript(path)  # another reader, while the writer is still open
        assert on_disk.replies[-1] == reply and len(on_disk.turns) == 1 + 2 * n


def test_finish_marks_an_unfinished_conversation_abandoned(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, transcript_path=path, reader=reader)
    eng.respond("问站点")
    end = eng.finish()
    assert end.outcome == "abandoned" and end.facts_revealed == ["wrong_station"]
    assert read_transcript(path).end.outcome == "abandoned"
    assert eng.debrief().outcome == "abandoned" and [f.id for f in eng.debrief().missed] == ["race_saturday"]


KILL = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    from engine_helpers import scenario
    from test_engine_transcript import reader
    from shifu.roleplay.engine import Engine
    from shifu.roleplay.voices.scripted import ScriptedVoice

    class DiesOnTurnTwo(ScriptedVoice):
        def speak(self, request, on_text=None):
            if request.turn == 2:
                os._exit(9)  # the process is killed while the buyer is "typing"
            return super().speak(request, on_text)

    eng = Engine(scenario("late-parcel-wrong-station"), backend=DiesOnTurnTwo(), seed=4, transcript_path={path!r}, reader=reader)
    eng.opening()
    eng.respond("问站点")
    eng.respond("问时间")
""")


def test_a_killed_process_loses_at_most_the_turn_in_flight_and_resumes(tmp_path):
    path = tmp_path / "t.jsonl"
    code = KILL.format(tests=str(Path(__file__).parent), path=str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    t = read_transcript(path)
    assert t.replies == ["问站点", "问时间"], "the reply typed before the kill is on disk"
    assert t.turns[-1].role == "trainee" and t.end is None
    eng = Engine.resume(path, reader=reader)
    assert eng.state.turn == 2 and eng.state.revealed == ("wrong_station", "race_saturday")
    assert eng.history[-1][0] == "buyer", "the lost buyer line is produced on resume"
    eng.respond("给方案")
    assert eng.state.outcome == "resolved"
    # the same conversation without the kill says the same lines
    clean = Engine(SC, seed=4, reader=reader)
    clean.opening()
    for r in ("问站点", "问时间", "给方案"):
        clean.respond(r)
    assert [t.text for t in read_transcript(path).buyer_turns()] == [text for role, text in clean.history if role == "buyer"]


def test_a_truncated_last_line_is_tolerated_and_repaired_on_resume(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, seed=2, transcript_path=path, reader=reader)
    eng.opening()
    eng.respond("问站点")
    eng._writer.close()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"type": "turn", "turn": 2, "role": "trainee", "text": "问时')
    t = read_transcript(path)
    assert t.truncated and t.replies == ["问站点"]
    resumed = Engine.resume(path, reader=reader)
    resumed.respond("问时间")
    resumed.respond("给方案")
    t = read_transcript(path)
    assert not t.truncated and t.replies == ["问站点", "问时间", "给方案"] and t.end.outcome == "resolved"
    for line in path.read_text(encoding="utf-8").splitlines():
        json.loads(line)


def test_a_damaged_middle_line_is_a_clear_error(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, transcript_path=path, reader=reader)
    eng.respond("问站点")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:20]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        read_transcript(path)
    assert "t.jsonl" in str(exc.value) and "line 2" in str(exc.value)


def test_not_a_transcript(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"hello": 1}\n', encoding="utf-8")
    with pytest.raises(ShifuError, match="x.jsonl"):
        read_transcript(path)
    with pytest.raises(ShifuError, match="does not exist"):
        read_transcript(tmp_path / "missing.jsonl")


def test_a_finished_conversation_cannot_be_resumed(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, transcript_path=path, reader=reader)
    eng.respond("问站点")
    eng.finish()
    with pytest.raises(ShifuError, match="already ended"):
        Engine.resume(path, reader=reader)


def test_replay_recomputes_the_outcome_without_any_voice(tmp_path):
    path = tmp_path / "t.jsonl"
    eng = Engine(SC, transcript_path=path, reader=reader)
    for r in ("问站点", "安抚", "问时间", "给方案"):
        eng.respond(r, latency_s=25.0)
    state, decisions = replay(path, reader=reader)
    assert state == eng.state and len(decisions) == 4
    assert all("slow_reply" in d.signals for d in decisions), "latency is part of the transcript and of the replay"
    assert os.path.getsize(path) > 0
