"""Each trainee turn of a transcript with the conversation it answered: the one walk over a transcript's
turns that the engine (shifu.roleplay.engine.replay, Engine.resume) and the rubric (rubric.score_transcript) share.

A reply is read in context (shifu.reading.signals.ReplyContext): the buyer line it answers, the trainee's earlier
replies, the hidden facts already revealed and how long the trainee took. The walk builds that context
from the records as written; a caller that does not believe the file (the engine replaying it) puts its
own recomputed facts in place of the recorded ones (`dataclasses.replace(context, revealed=...)`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from shifu.roleplay.scenario import Scenario
from shifu.reading.signals import ReplyContext
from shifu.roleplay.transcript.records import Transcript, TurnRecord


@dataclass(frozen=True)
class ReplyInContext:
    """One trainee turn and the conversation before it.

    record: the trainee's turn record. context: what it answered — buyer_message is the last buyer line
    before it ("" when none), history the trainee's earlier replies (oldest first), revealed the fact ids
    the records before it say were revealed, latency_s the recorded reply time. answers: the buyer records
    after it, up to the next trainee turn (one in a file the engine wrote; none when the buyer's answer
    was lost to a killed process).
    """

    record: TurnRecord
    context: ReplyContext
    answers: tuple[TurnRecord, ...] = ()


def opening_lines(t: Transcript) -> tuple[TurnRecord, ...]:
    """The buyer records before the first trainee turn (the opening line, in a file the engine wrote)."""
    out: list[TurnRecord] = []
    for rec in t.turns:
        if rec.role != "buyer":
            break
        out.append(rec)
    return tuple(out)


def replies_in_context(t: Transcript, scenario: Scenario) -> Iterator[ReplyInContext]:
    """Every trainee turn of `t`, in order, with its context (see ReplyInContext); records are taken as
    they are, in file order, without checking their structure (shifu.roleplay.transcript.replay does that)."""
    buyer = ""
    earlier: list[str] = []
    revealed: set[str] = set()
    current: TurnRecord | None = None
    context: ReplyContext | None = None
    answers: list[TurnRecord] = []
    for rec in t.turns:
        if rec.role == "buyer":
            buyer = rec.text
            revealed.update(rec.revealed)
            if current is not None:
                answers.append(rec)
            continue
        if current is not None and context is not None:
            yield ReplyInContext(current, context, tuple(answers))
        current, answers = rec, []
        context = ReplyContext(scenario, buyer_message=buyer, history=tuple(earlier), revealed=frozenset(revealed),
                               latency_s=rec.latency_s)
        earlier.append(rec.text)
        revealed.update(rec.revealed)
    if current is not None and context is not None:
        yield ReplyInContext(current, context, tuple(answers))
