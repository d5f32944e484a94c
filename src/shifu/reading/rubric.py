"""Scoring a reply or a whole role-play against the scenario's rubric.

The points come from the same Signals that move the buyer's mood (shifu.reading.signals), weighed as the
rubric YAML says. Everything is deterministic: the same reply and scenario always score the same.
Gamed text (stuffing, padding, copying, grader-aimed instructions) is set aside by the signals
reader, and what is left is scaled by its substance, so gaming never beats a genuine reply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shifu.reading.feedback_text import feedback_text
from shifu.reading.rubric_schema import TRANSCRIPT_ONLY, Criterion, Item, Rubric, load_rubric
from shifu.roleplay.engine_rules import initial_state, load_rules, replay_turns
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.reading.signals import ReplyContext, Signals
from shifu.reading import readers
from shifu.reading.readers import Reader
from shifu.roleplay.transcript import Transcript, as_transcript
from shifu.roleplay.transcript.context import replies_in_context
from shifu.reading.vocab import Signal

__all__ = ["CriterionScore", "Evidence", "ScoreResult", "load_rubric", "score_reply", "score_transcript"]


@dataclass(frozen=True)
class Evidence:
    turn: int
    quote: str

    def to_json(self) -> dict[str, Any]:
        return {"turn": self.turn, "quote": self.quote}


@dataclass(frozen=True)
class CriterionScore:
    id: str
    label: str
    competency: str
    points: float
    max: float
    evidence: list[Evidence]
    tip: str
    applicable: bool = True  # False: excluded from the maximum (e.g. no reply time for timeliness)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "points": self.points, "max": self.max,
                "evidence": [e.to_json() for e in self.evidence], "tip": self.tip}


@dataclass(frozen=True)
class ScoreResult:
    total: float
    max: float
    criteria: list[CriterionScore]
    scenario: str = ""
    rubric: str = ""
    substance: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "max": self.max, "criteria": [c.to_json() for c in self.criteria]}

    def criterion(self, cid: str) -> CriterionScore:
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(cid)


@dataclass(frozen=True)
class _Turn:
    """One trainee reply as read, with where it sits in the conversation."""

    turn: int
    text: str
    signals: Signals
    latency_s: float | None


@dataclass(frozen=True)
class _Conversation:
    turns: tuple[_Turn, ...]
    transcript: bool  # whole conversation (outcome-only measures apply) or a single reply
    revealed: frozenset[str] = frozenset()
    reveal_lines: tuple[tuple[str, int, str], ...] = ()  # (fact id, turn, the buyer line that told it)
    resolved: bool = False
    resolution: str | None = None


def _scenario(ref: Scenario | str) -> Scenario:
    return ref if isinstance(ref, Scenario) else load_scenario(ref)


def _factor(substance: float, floor: float) -> float:
    return max(0.0, min(1.0, substance / floor))


def _first_quote(turns: tuple[_Turn, ...], signal: Signal) -> list[Evidence]:
    for t in turns:
        spans = t.signals.of(signal)
        if spans:
            return [Evidence(t.turn, spans[0].quote)]
    return []


def _measure(measure: str, conv: _Conversation, sc: Scenario) -> tuple[float, list[Evidence]] | None:
    """(value 0..1, evidence) of one measure over the conversation; None when it does not apply."""
    turns = conv.turns
    if measure in TRANSCRIPT_ONLY and not conv.transcript:
        return None
    if measure == "outcome_resolved":
        if conv.resolved and turns:
            text = feedback_text().evidence
            what = text.accepted.format(resolution=conv.resolution) if conv.resolution else text.accepted_plain
            return 1.0, [Evidence(turns[-1].turn, what)]
        return 0.0, []
    if measure == "facts_probed":
        facts = [f.id for f in sc.hidden_facts]
        if not facts:
            return None
        found: set[str] = set()
        ev: list[Evidence] = []
        for t in turns:
            for span in t.signals.of(Signal.probe):
                if span.detail in facts and span.detail not in found:
                    ev.append(Evidence(t.turn, span.quote))
                    found.add(span.detail)
        for fid, turn, line in conv.reveal_lines:  # the buyer told it: the question was asked, in other words
            if fid in facts and fid not in found:
                ev.append(Evidence(turn, feedback_text().evidence.revealed.format(line=line)))
                found.add(fid)
        found |= conv.revealed
        return len(found & set(facts)) / len(facts), ev
    if measure == "forbidden_offer":
        for t in turns:
            if t.signals.offer_spans:
                return 1.0, [Evidence(t.turn, s.quote) for s in t.signals.offer_spans[:2]]
        return 0.0, []
    if measure == "injection":
        for t in turns:
            if t.signals.injection:
                quotes = [s.quote for s in t.signals.of(Signal.stuffing) if s.detail == "injection"]
                return 1.0, [Evidence(t.turn, quotes[0] if quotes else t.text[:80])]
        return 0.0, []
    if measure == Signal.stuffing.value:  # grader-aimed text is its own measure ("injection")
        for t in turns:
            spans = [s for s in t.signals.of(Signal.stuffing) if s.detail != "injection"]
            if spans:
                return 1.0, [Evidence(t.turn, spans[0].quote)]
        return 0.0, []
    ev = _first_quote(turns, Signal(measure))
    return (1.0 if ev else 0.0), ev


def _latency_score(c: Criterion, conv: _Conversation, floor: float,
                   injection: float) -> tuple[float, list[Evidence]] | None:
    lat = c.judge.latency
    assert lat is not None
    timed = [t for t in conv.turns if t.latency_s is not None]
    if not timed:
        return None
    values = []
    for t in timed:
        s = float(t.latency_s or 0.0)
        v = 1.0 if s <= lat.benchmark_s else max(0.0, (lat.zero_after_s - s) / (lat.zero_after_s - lat.benchmark_s))
        values.append(v * _factor(t.signals.substance, floor) * (injection if t.signals.injection else 1.0))
    slow = max(timed, key=lambda t: t.latency_s or 0.0)
    quote = feedback_text().evidence.latency.format(turn=slow.turn, seconds=slow.latency_s or 0.0,
                                                     benchmark=lat.benchmark_s)
    return sum(values) / len(values), [Evidence(slow.turn, quote)]


def _score_criterion(c: Criterion, rubric: Rubric, conv: _Conversation, sc: Scenario, weight: float) -> CriterionScore:
    full = round(c.points * weight, 2)
    empty = not conv.turns or all(not t.text.strip() for t in conv.turns)

    def result(frac: float, ev: list[Evidence], tip: str, applicable: bool = True) -> CriterionScore:
        frac = max(0.0, min(1.0, frac))
        return CriterionScore(c.id.value, c.label, c.competency.value, round(frac * full, 2) if applicable else 0.0,
                              full if applicable else 0.0, ev, tip, applicable)

    if c.judge.latency is not None:
        got = _latency_score(c, conv, rubric.substance_floor, rubric.injection_factor)
        if got is None:
            return result(0.0, [], c.tip_na or c.judge.latency.tip, applicable=False)
        frac, ev = got
        tip = rubric.tips.empty if empty else (c.tip_full if frac >= 0.999 else c.judge.latency.tip)
        return result(frac, ev, tip)

    factor = (sum(_factor(t.signals.substance, rubric.substance_floor) for t in conv.turns) / len(conv.turns)
              if conv.turns else 0.0)
    if any(t.signals.injection for t in conv.turns):
        factor *= rubric.injection_factor
    gains: list[tuple[Item, float]] = []
    evidence: list[Evidence] = []
    for item in c.judge.gains:
        got = _measure(item.measure, conv, sc)
        if got is None:
            continue
        gains.append((item, got[0]))
        evidence.extend(got[1])
    denom = c.judge.base + sum(i.share for i, _ in gains)
    if denom <= 0:
        return result(0.0, [], c.tip_na or c.tip_full, applicable=False)
    frac = (c.judge.base + sum(i.share * v for i, v in gains)) / denom * factor
    hit_losses: list[Item] = []
    for item in c.judge.losses:
        got = _measure(item.measure, conv, sc)
        if got is None or got[0] <= 0:
            continue
        frac -= item.share * got[0]
        hit_losses.append(item)
        evidence.extend(got[1])
    injected = any(t.signals.injection for t in conv.turns)
    if empty:
        tip = rubric.tips.empty
    elif injected and not hit_losses:
        tip = rubric.tips.injection
    elif hit_losses:
        tip = max(hit_losses, key=lambda i: i.share).tip
    elif factor < 1.0 and frac < 0.999:
        tip = rubric.tips.low_substance
    else:
        missing = [(i, v) for i, v in gains if v < 1.0]
        tip = max(missing, key=lambda iv: iv[0].share * (1 - iv[1]))[0].tip if missing else c.tip_full
    return result(frac, _dedupe(evidence), tip)


def _dedupe(ev: list[Evidence]) -> list[Evidence]:
    seen, out = set(), []
    for e in ev:
        if (e.turn, e.quote) not in seen:
            seen.add((e.turn, e.quote))
            out.append(e)
    return out


def _score(sc: Scenario, conv: _Conversation) -> ScoreResult:
    rubric = load_rubric(sc.rubric)
    overrides = sc.rubric_overrides
    criteria = [_score_criterion(c, rubric, conv, sc, overrides.get(c.id.value, 1.0))
                for c in rubric.criteria if overrides.get(c.id.value, 1.0) > 0]
    notes = [f"{c.id}({c.label}): {c.tip}" for c in criteria if not c.applicable]
    if any(t.signals.injection for t in conv.turns):
        notes.append(rubric.tips.injection)
    subs = [t.signals.substance for t in conv.turns]
    return ScoreResult(
        total=round(sum(c.points for c in criteria), 2),
        max=round(sum(c.max for c in criteria), 2),
        criteria=criteria,
        scenario=sc.id,
        rubric=rubric.id,
        substance=round(sum(subs) / len(subs), 3) if subs else 0.0,
        notes=notes,
    )


def score_reply(scenario: Scenario | str, reply: str, buyer: str = "", latency_s: float | None = None,
                history: tuple[str, ...] = (), reader: Reader | None = None) -> ScoreResult:
    """One reply to one buyer message. Without latency_s, timeliness is left out of the maximum.
    `reader` reads the reply (default: shifu.reading.readers.active(), the rules reader unless configured)."""
    sc = _scenario(scenario)
    text = reply if isinstance(reply, str) else ("" if reply is None else str(reply))
    sig = (reader or readers.active())(text, ReplyContext(sc, buyer_message=buyer or "", history=tuple(history), latency_s=latency_s))
    return _score(sc, _Conversation((_Turn(1, text, sig, latency_s),), transcript=False))


def score_transcript(source: str | Path | Transcript, scenario: Scenario | str | None = None,
                     reader: Reader | None = None) -> ScoreResult:
    """A whole role-play: every trainee turn read in context, facts uncovered, consensus reached, outcome.

    The facts told, the outcome and the resolution are the engine's, replayed from the trainee's turns
    (grader/engine.yaml), never the file's own claims: a transcript is evidence to replay, not a record to
    believe. The file's buyer lines only supply the wording quoted as evidence for a fact the replay told."""
    read = reader or readers.active()
    tr = as_transcript(source)
    sc = _scenario(scenario if scenario is not None else tr.scenario)
    state = initial_state(sc)
    turns: list[_Turn] = []
    # replies after the conversation ended were never part of it (check_transcript rejects them)
    for said, sig, state, _ in replay_turns(replies_in_context(tr, sc), sc, load_rules(), read):
        turns.append(_Turn(said.record.turn, said.record.text, sig, said.record.latency_s))
    revealed = frozenset(state.revealed)
    reveal_lines = [(fid, rec.turn, rec.text) for rec in tr.buyer_turns() for fid in rec.revealed if fid in revealed]
    conv = _Conversation(tuple(turns), transcript=True, revealed=revealed, reveal_lines=tuple(reveal_lines),
                         resolved=state.outcome == "resolved", resolution=state.resolution)
    result = _score(sc, conv)
    if not turns:
        result.notes.append("no trainee turns in the transcript")
    return result
