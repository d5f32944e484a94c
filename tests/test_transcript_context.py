"""The one walk over a transcript's trainee turns (shifu.roleplay.transcript.context): every reply is read again in
the context it was read in live, whether the engine replays it, resumes it or the rubric scores it."""
from __future__ import annotations

import json
from pathlib import Path

from engine_helpers import scenario
from shifu.roleplay.engine import Engine, replay
from shifu.reading.rubric import score_transcript
from shifu.reading.signals import ReplyContext, Signals, Span
from shifu.roleplay.transcript import as_transcript, read_transcript
from shifu.roleplay.transcript.context import opening_lines, replies_in_context
from shifu.roleplay.transcript.replay import check_transcript
from shifu.reading.vocab import Signal

SC = scenario("late-parcel-wrong-station")
SCRIPT = {
    "请问您填的是哪个站点?": Signals(spans=(Span(Signal.probe, "x", 0, 1),), probed_facts=frozenset({"wrong_station"}),
                              substance=0.9),
    "您比赛是哪天?": Signals(spans=(Span(Signal.probe, "x", 0, 1),), probed_facts=frozenset({"race_saturday"}),
                       substance=0.9),
    "真的很抱歉": Signals(spans=(Span(Signal.apology, "x", 0, 1),), substance=0.9),
}
REPLIES = list(SCRIPT)


class Seen:
    """A reader that answers from SCRIPT and keeps every (reply, context) it was asked about."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ReplyContext]] = []

    def __call__(self, reply: str, ctx: ReplyContext) -> Signals:
        self.calls.append((reply, ctx))
        return SCRIPT.get(reply, Signals(substance=0.5))


def played(path: Path, real_reader: bool = False) -> Seen:
    """Play REPLIES into `path`; real_reader: read them with the project's reader (what the grader replays with)."""
    live = Seen()
    eng = Engine(SC, seed=3, transcript_path=path, reader=None if real_reader else live)
    eng.opening()
    for i, reply in enumerate(REPLIES):
        eng.respond(reply, latency_s=10.0 + i)
    eng.finish()
    return live


def test_the_walk_rebuilds_each_context_the_live_reader_saw(tmp_path):
    path = tmp_path / "t.jsonl"
    live = played(path)
    t = read_transcript(path)
    walked = list(replies_in_context(t, SC))
    assert [(w.record.text, w.context) for w in walked] == live.calls
    assert [w.context.latency_s for w in walked] == [10.0, 11.0, 12.0]
    assert walked[1].context.revealed == {"wrong_station"}  # told by the buyer's answer to the first question
    assert [[a.turn for a in w.answers] for w in walked] == [[1], [2], [3]]
    assert [r.turn for r in opening_lines(t)] == [0]


def test_engine_replay_resume_and_rubric_read_every_reply_as_it_was_read_live(tmp_path):
    path = tmp_path / "t.jsonl"
    live = played(path)
    for run in (lambda r: replay(path, reader=r), lambda r: Engine.resume(path, reader=r, finished=True),
                lambda r: score_transcript(path, SC, reader=r)):
        again = Seen()
        run(again)
        assert again.calls == live.calls


def test_a_lost_buyer_answer_leaves_the_last_reply_unanswered_and_resume_answers_it(tmp_path):
    path = tmp_path / "t.jsonl"
    played(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in lines if json.loads(ln)["type"] != "end"][:-1]  # killed before the buyer's last answer
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(kept) + "\n", encoding="utf-8")
    walked = list(replies_in_context(read_transcript(cut), SC))
    assert len(walked) == 3 and walked[-1].answers == ()
    eng = Engine.resume(cut, reader=Seen())
    assert [t.turn for t in eng.turns] == [1, 2, 3] and eng.history[-1][0] == "buyer"


def test_the_engine_uses_the_facts_its_rules_revealed_not_the_ones_the_file_claims(tmp_path):
    path = tmp_path / "t.jsonl"
    live = played(path)
    records = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines()]
    for r in records:
        if r["type"] == "turn" and r["role"] == "buyer" and r["turn"] == 0:
            r["revealed"] = ["race_saturday"]  # claimed before anyone asked
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    assert "race_saturday" in next(replies_in_context(read_transcript(forged), SC)).context.revealed
    again = Seen()
    replay(forged, reader=again)
    assert again.calls == live.calls


def test_a_transcript_already_read_is_checked_like_its_file_against_its_own_scenario(tmp_path):
    path = tmp_path / f"{SC.id}.jsonl"
    played(path, real_reader=True)
    by_path = check_transcript(path, SC.id)
    by_object = check_transcript(read_transcript(path))
    assert by_path.accepted and by_object.accepted
    assert (by_object.outcome, by_object.replies, by_object.notes, by_object.mentor) == \
           (by_path.outcome, by_path.replies, by_path.notes, by_path.mentor)
    assert by_object.untimed == by_path.untimed
    assert not check_transcript(path, "some-other-scenario").accepted
    t = read_transcript(path)
    assert as_transcript(t) is t and as_transcript(path).replies == t.replies
