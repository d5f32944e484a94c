"""The engine's rules: how a reply's Signals move the buyer's mood, patience and the outcome.

Everything here is a pure function of (state, signals, scenario, rules), so an outcome can be
recomputed from a transcript at any time. The numbers come from grader/engine.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Callable, Iterable, Iterator, Literal

from pydantic import Field, field_validator, model_validator

from shifu.content import paths
from shifu.roleplay.scenario import Scenario, Slug
from shifu.reading.signals import ReplyContext, Signals
from shifu.roleplay.transcript.context import ReplyInContext
from shifu.reading.vocab import BuyerState, Escalation, Signal
from shifu.content.yamlio import Strict, load_model_cached, require_shipped

Outcome = Literal["ongoing", "resolved", "escalated"]


class Effect(Strict):
    mood: float = Field(default=0.0, allow_inf_nan=False, description="mood points, + calms and − angers")
    patience: int = Field(default=0, ge=0)
    only_without_substance: bool = Field(default=False, description="counts only when the reply as a whole has no substance")


class MoodRange(Strict):
    min: int = Field(default=0, ge=0, le=100, strict=True)
    max: int = Field(default=100, ge=0, le=100, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> "MoodRange":
        if self.min >= self.max:
            raise ValueError(f"min {self.min} is not below max {self.max}: write min < max (0 and 100)")
        return self


class AcceptRule(Strict):
    min_mood: int = Field(ge=0, le=100)
    needs_time_commitment: bool = True
    needs_consensus_check: bool = True
    consensus_carries: int = Field(default=0, ge=0, description="turns an agreement question asked about an offer still counts")
    facts_needed: Literal["all"] | Annotated[int, Field(ge=0, strict=True)] = "all"
    time_carries_over: bool = Field(default=False, description="a time already committed to still holds when the offer changes")


class HollowRule(Strict):
    """A turn that brings nothing the buyer can hold on to (see grader/engine.yaml `hollow`)."""

    substantive: list[Signal] = Field(min_length=1)
    free_turns: int = Field(ge=0)
    effect: Effect
    reused_calming: float = Field(ge=0.0, le=1.0)
    unforgiven_calming: float = Field(ge=0.0, le=1.0)
    # substance only once unless a plan is on the table: a second "今天18点前给您答复" with nothing offered is hollow
    plan_bound: list[Signal] = Field(default_factory=list)


class LineRule(Strict):
    angry_below: int = Field(default=30, ge=0, le=100)
    probing_from: int = Field(default=50, ge=0, le=100)
    calm_gain: float = Field(default=3, ge=0, allow_inf_nan=False)


class DemandCondition(Strict):
    """When the buyer asks for this: every key given must hold in the engine state after a turn."""

    offer: bool | None = Field(default=None, description="an offer from the scenario's accepts is on the table (true) or not (false)")
    committed: bool | None = Field(default=None, description="the offer on the table came with a time commitment")
    from_turn: int = Field(default=1, ge=1, strict=True, description="only once the agent has sent at least this many replies")


class DemandAnswer(Strict):
    """What in the next reply answers the demand: any one of these is enough."""

    offer: bool = Field(default=False, description="the reply offers a resolution (accepts or never_offer; a forbidden one pays its own cost)")
    new_offer: bool = Field(default=False, description="the reply offers a resolution not offered before (a changed plan she weighs first)")
    fact_asked: bool = Field(default=False, description="the reply asks for a hidden fact it had not asked for before (tracing the cause)")
    signals: list[Signal] = Field(default_factory=list, description="the reply shows one of these signals")

    @model_validator(mode="after")
    def _something_answers(self) -> "DemandAnswer":
        if not (self.offer or self.new_offer or self.fact_asked or self.signals):
            raise ValueError("nothing would answer this demand: give offer: true, new_offer: true, fact_asked: true or signals")
        return self


class Demand(Strict):
    """Something the buyer asks for and waits to hear in the next reply (grader/engine.yaml `demands`)."""

    id: Slug
    when: DemandCondition
    answered_by: DemandAnswer
    unanswered: Effect = Field(description="the cost when the next reply leaves it unanswered")

    @field_validator("unanswered")
    @classmethod
    def _a_cost(cls, v: Effect) -> Effect:
        if v.mood > 0:
            raise ValueError(f"mood {v.mood:g} would reward leaving her question unanswered: write a cost (0 or less)")
        return v


class EngineRules(Strict):
    mood: MoodRange = MoodRange()
    signals: dict[Signal, Effect]
    trigger_multiplier: float = Field(ge=1.0, allow_inf_nan=False)
    repeat_decay: float = Field(ge=0.0, le=1.0)
    forbidden_offer: dict[Literal["over_promise", "breach"], Effect]
    fact_revealed: Effect = Effect()
    min_substance: float = Field(ge=0.0, le=1.0)
    injection: Effect
    no_progress: Effect
    slow_reply_after_s: float = Field(gt=0, allow_inf_nan=False)
    floor_mood: int = Field(ge=0, le=100)
    floor_patience: int = Field(ge=0)
    max_turns: int = Field(ge=1)
    max_reply_chars: int = Field(default=5000, ge=100, description="the longest reply the engine reads")
    accept: AcceptRule
    hollow: HollowRule
    lines: LineRule = LineRule()
    demands: list[Demand] = Field(default_factory=list, description="what the buyer asks for after a turn; the first that holds wins")

    @field_validator("demands")
    @classmethod
    def _demand_ids_unique(cls, v: list[Demand]) -> list[Demand]:
        ids = [d.id for d in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"demand id {dup[0]!r} is used twice: give each demand its own id")
        return v

    def demand(self, demand_id: str) -> Demand:
        for d in self.demands:
            if d.id == demand_id:
                return d
        raise KeyError(demand_id)


def rules_path() -> Path:
    return paths.grader_dir() / "engine.yaml"


def load_rules(path: Path | None = None) -> EngineRules:
    """The engine rules from grader/engine.yaml (re-read when the file changes)."""
    p = require_shipped(Path(path) if path else rules_path())
    return load_model_cached(p, EngineRules, guide="the comments in grader/engine.yaml")


@dataclass(frozen=True)
class EngineState:
    """Where the conversation stands. Everything the outcome depends on is here."""

    mood: int
    patience_left: int
    turn: int = 0
    revealed: tuple[str, ...] = ()  # hidden-fact ids, in the order the buyer told them
    proposed: str | None = None  # the scenario.accepts id most recently offered
    committed: bool = False  # the offer came with a time commitment
    accepted: bool = False
    outcome: Outcome = "ongoing"
    escalation: Escalation | None = None
    used: tuple[tuple[str, int], ...] = ()  # calming signals already used, with counts
    offers: tuple[str, ...] = ()  # accepts and never_offer ids the agent has offered so far, first offer first
    asked: tuple[str, ...] = ()  # hidden-fact ids the agent has asked for so far (told or not), first first
    hollow_turns: int = 0  # turns that brought nothing (see EngineRules.hollow)
    agreement_asked_at: int | None = None  # the turn that last asked whether she agrees to the offer on the table
    demand: str | None = None  # the EngineRules.demands id she asked for after the last turn: the next reply should answer it

    @property
    def resolution(self) -> str | None:
        return self.proposed if self.accepted else None

    @property
    def ended(self) -> bool:
        return self.outcome != "ongoing"

    def uses(self, signal: Signal) -> int:
        return dict(self.used).get(signal.value, 0)


@dataclass(frozen=True)
class Decision:
    """What one trainee reply did, and why: the inspectable record of a turn."""

    signals: tuple[str, ...]  # signal names that counted (after gating), in vocabulary order
    effects: tuple[tuple[str, float, int], ...]  # (cause, mood delta, patience cost)
    mood_before: int
    mood_after: int
    revealed: tuple[str, ...]  # hidden facts newly told this turn
    offered: tuple[str, ...]  # scenario.accepts ids offered this turn
    forbidden: tuple[str, ...]  # scenario.never_offer ids offered this turn
    buyer_state: BuyerState
    gated: bool  # calming ignored: no substance or an injection attempt
    notes: tuple[str, ...] = field(default_factory=tuple)
    asked: tuple[str, ...] = ()  # hidden-fact ids this reply asked for, including ones already told
    question: bool = False  # the reply asks the buyer something besides whether she agrees
    hollow: bool = False  # the reply brought nothing the buyer can hold on to
    demand: str | None = None  # what she was waiting for when this reply came (EngineRules.demands id)
    unanswered: bool = False  # the reply did not answer `demand` (its cost is the effect "unanswered:<id>")


def initial_state(scenario: Scenario) -> EngineState:
    return EngineState(mood=scenario.persona.starting_mood, patience_left=scenario.persona.patience)


def _signal_order(names: set[str]) -> tuple[str, ...]:
    order = [s.value for s in Signal]
    return tuple(sorted(names, key=order.index))


def effective_signals(sig: Signals, latency_s: float | None, rules: EngineRules) -> set[Signal]:
    """The signals in the reply, plus slow_reply when the reply took longer than the benchmark."""
    out = {s.signal for s in sig.spans}
    if latency_s is not None and latency_s > rules.slow_reply_after_s:
        out.add(Signal.slow_reply)
    return out


def asks_question(sig: Signals, present: set[Signal]) -> bool:
    """Whether the reply asks the buyer something besides "do you agree?" (a probe, or a question
    that is not just the consensus check)."""
    if Signal.probe in present:
        return True
    checks = [(s.start, s.end) for s in sig.of(Signal.consensus_check)]
    return any(not any(s.start < b and a < s.end for a, b in checks) for s in sig.of(Signal.question))


def facts_needed(scenario: Scenario, rules: EngineRules) -> int:
    n = len(scenario.hidden_facts)
    return n if rules.accept.facts_needed == "all" else min(n, int(rules.accept.facts_needed))


Effects = tuple[tuple[str, float, int], ...]  # (cause, mood delta, patience cost), in the order they were counted


@dataclass(frozen=True)
class Reading:
    """What one reply brought, before any effect on the buyer (the first stage of `step`)."""

    present: frozenset[Signal]  # signals in the reply, slow_reply included
    gated: bool  # no substance or an injection attempt: calming, questions and offers are ignored
    asked: tuple[str, ...]  # hidden-fact ids the reply asked for, told or not
    question: bool  # it asks something besides "do you agree?"
    offered_any: tuple[str, ...]  # accepts and never_offer ids offered
    hollow: bool  # nothing the buyer can hold on to
    hollow_turns: int  # hollow turns so far, this one included
    unforgiven: bool  # hollow, and past the free hollow turns (or stalling)


def read_turn(state: EngineState, sig: Signals, scenario: Scenario, rules: EngineRules,
              latency_s: float | None) -> Reading:
    """What the reply brought: gating, questions asked, offers made, and whether it was hollow
    (grader/engine.yaml `min_substance` and `hollow`)."""
    present = frozenset(effective_signals(sig, latency_s, rules))
    gated = sig.substance < rules.min_substance or sig.injection
    asked = () if gated else tuple(f.id for f in scenario.hidden_facts if f.id in sig.probed_facts)
    question = not gated and asks_question(sig, set(present))
    offered_any = () if gated else tuple(r.id for r in (*scenario.accepts, *scenario.never_offer)
                                         if r.id in sig.resolutions or r.id in sig.forbidden_offers)
    used = dict(state.used)
    plan = bool(offered_any) or state.proposed is not None

    def holds(s: Signal) -> bool:
        return s not in rules.hollow.plan_bound or plan or used.get(s.value, 0) == 0

    substantive = not gated and (bool(asked) or bool(offered_any)
                                 or (question and Signal.question in rules.hollow.substantive)
                                 or any(s in present and holds(s) for s in rules.hollow.substantive
                                        if s is not Signal.question))
    hollow = not substantive
    hollow_turns = state.hollow_turns + (1 if hollow else 0)
    unforgiven = hollow and (hollow_turns > rules.hollow.free_turns or Signal.stalling in present)
    return Reading(present, gated, asked, question, offered_any, hollow, hollow_turns, unforgiven)


def signal_effects(reading: Reading, used: tuple[tuple[str, int], ...], scenario: Scenario,
                   rules: EngineRules) -> tuple[Effects, tuple[tuple[str, int], ...], frozenset[str]]:
    """Each counted signal's (cause, mood delta, patience cost), in vocabulary order; the calming signals'
    use counts after this turn (sorted); and the names that counted.

    Calming wears off with use (`repeat_decay` per earlier use) and with hollow turns; a signal the
    persona reacts to (calms_on / escalates_on) is multiplied by `trigger_multiplier`."""
    calms = {t.signal for t in scenario.persona.calms_on}
    angers = {t.signal for t in scenario.persona.escalates_on}
    counts = dict(used)
    effects: list[tuple[str, float, int]] = []
    for s in Signal:
        if s not in reading.present or s not in rules.signals:
            continue
        eff = rules.signals[s]
        if eff.only_without_substance and not reading.gated:
            continue
        if eff.mood > 0:
            if reading.gated:
                continue
            n = counts.get(s.value, 0)
            delta = eff.mood * (rules.trigger_multiplier if s in calms else 1.0) * rules.repeat_decay ** n
            if reading.unforgiven:
                delta *= rules.hollow.unforgiven_calming  # kind words again, and still nothing behind them
            elif reading.hollow and n:
                delta *= rules.hollow.reused_calming  # the same stock phrase again, with nothing behind it
            counts[s.value] = n + 1
        else:
            delta = eff.mood * (rules.trigger_multiplier if s in angers else 1.0)
        effects.append((s.value, delta, eff.patience))
    return tuple(effects), tuple(sorted(counts.items())), frozenset(c for c, _, _ in effects)


def penalty_effects(reading: Reading, sig: Signals, scenario: Scenario, rules: EngineRules) -> Effects:
    """Costs beyond the signals' own: an injection attempt, an unforgiven hollow turn, and each
    never_offer the reader found that its signal class did not already count."""
    angers = {t.signal for t in scenario.persona.escalates_on}
    effects: list[tuple[str, float, int]] = []
    if sig.injection:
        effects.append(("injection", rules.injection.mood, rules.injection.patience))
    if reading.unforgiven:
        eff = rules.hollow.effect
        # a buyer who hates stalling hates every empty turn, whatever words it is made of
        effects.append(("hollow", eff.mood * (rules.trigger_multiplier if Signal.stalling in angers else 1.0),
                        eff.patience))
    for f in scenario.never_offer:
        # the reader may already report the offer as its signal class; count it once
        if f.id in sig.forbidden_offers and Signal(f.kind) not in reading.present:
            eff = rules.forbidden_offer[f.kind]  # type: ignore[index]
            effects.append((f"never_offer:{f.id}", eff.mood * (rules.trigger_multiplier if Signal(f.kind) in angers else 1.0),
                            eff.patience))
    return tuple(effects)


def answers(demand: Demand, reading: Reading, state: EngineState) -> bool:
    """Whether the reply gives what the demand waits for: an offer (a new one), a question for a hidden
    fact or one of its signals (a gated reply answers nothing). state: before the reply."""
    if reading.gated:
        return False
    ans = demand.answered_by
    return ((ans.offer and bool(reading.offered_any))
            or (ans.new_offer and any(i not in state.offers for i in reading.offered_any))
            or (ans.fact_asked and any(f not in state.asked for f in reading.asked))
            or any(s in reading.present for s in ans.signals))


def demand_effects(state: EngineState, reading: Reading, charged: Effects,
                   rules: EngineRules) -> tuple[Effects, bool]:
    """(the cost of leaving her pending demand unanswered, whether it was left unanswered).

    charged: the turn's other effects so far. Charged once: a turn that already pays as an unforgiven
    hollow turn or as stalling pays nothing more here (it is still recorded as unanswered), and a turn
    whose harm already cost patience pays only the mood (as with no_progress)."""
    if state.demand is None:
        return (), False
    demand = rules.demand(state.demand)  # set by next_demand from these same rules (replay re-derives it)
    if answers(demand, reading, state):
        return (), False
    if reading.unforgiven or Signal.stalling in reading.present:
        return (), True
    paid = any(p > 0 for _, _, p in charged)
    return ((f"unanswered:{demand.id}", demand.unanswered.mood, 0 if paid else demand.unanswered.patience),), True


def next_demand(state: EngineState, rules: EngineRules) -> str | None:
    """The first demand whose condition holds in `state` (the state after a turn), or None: what the
    buyer asks for in her next line. An ended conversation waits for nothing."""
    if state.ended:
        return None
    for d in rules.demands:
        c = d.when
        if c.offer is not None and c.offer != (state.proposed is not None):
            continue
        if c.committed is not None and c.committed != state.committed:
            continue
        if state.turn < c.from_turn:
            continue
        return d.id
    return None


def told_and_offered(reading: Reading, state: EngineState, sig: Signals,
                     scenario: Scenario) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(hidden facts the buyer tells because this reply asked for them, accepts ids offered); both
    empty for a gated reply."""
    if reading.gated:
        return (), ()
    newly = tuple(f.id for f in scenario.hidden_facts if f.id in sig.probed_facts and f.id not in state.revealed)
    offered = tuple(a.id for a in scenario.accepts if a.id in sig.resolutions)
    return newly, offered


def with_no_progress(effects: Effects, rules: EngineRules) -> Effects:
    """`effects` plus the cost of a turn that moved nothing forward (no positive delta): its mood,
    and its patience unless a harmful effect has already paid for the turn."""
    if any(delta > 0 for _, delta, _ in effects):
        return effects
    already = any(p > 0 for _, _, p in effects)
    return effects + (("no_progress", rules.no_progress.mood, 0 if already else rules.no_progress.patience),)


def settle_mood(mood_before: int, effects: Effects, rules: EngineRules) -> tuple[float, int, int, bool]:
    """(net mood delta, mood after — rounded and kept in range, patience cost, at the floor).

    A turn that lowers the mood costs at least one patience; a mood at `floor_mood` costs
    `floor_patience` more."""
    net = sum(d for _, d, _ in effects)
    cost = sum(p for _, _, p in effects)
    if net < 0 and cost == 0:
        cost = 1
    mood = max(rules.mood.min, min(rules.mood.max, round(mood_before + net)))
    floor = mood <= rules.floor_mood
    if floor:
        cost += rules.floor_patience
    return net, mood, cost, floor


def offer_on_table(state: EngineState, offered: tuple[str, ...], has_time: bool,
                   rules: EngineRules) -> tuple[str | None, bool]:
    """(the accepts id now on the table, whether it comes with a time commitment).

    A new offer replaces the old one unless the old one is offered again; a time already committed
    holds for the same offer (or any offer with accept.time_carries_over)."""
    proposed, committed = state.proposed, state.committed
    if offered:
        proposed = state.proposed if state.proposed in offered else offered[0]
        committed = has_time or (state.committed and (proposed == state.proposed or rules.accept.time_carries_over))
    elif proposed and has_time:
        committed = True
    return proposed, committed


def volunteered_facts(state: EngineState, scenario: Scenario, net: float, mood: int,
                      newly: tuple[str, ...]) -> tuple[str, ...]:
    """Facts the buyer tells unasked (hidden_facts[].volunteers_at_mood) once a helpful turn warms her up."""
    return tuple(f.id for f in scenario.hidden_facts
                 if f.volunteers_at_mood is not None and net > 0 and mood >= f.volunteers_at_mood
                 and f.id not in state.revealed and f.id not in newly)


def agreement(state: EngineState, counted: frozenset[str], proposed: str | None,
              rules: EngineRules) -> tuple[int | None, bool]:
    """(the turn that last asked whether she agrees to the offer on the table, whether that question
    still counts now). It counts in its own turn and for accept.consensus_carries turns after, as long
    as the offer is the same."""
    asked_now = Signal.consensus_check.value in counted and proposed is not None
    agreement_at = state.turn + 1 if asked_now else (state.agreement_asked_at if proposed == state.proposed else None)
    consensus = asked_now or (agreement_at is not None and state.turn + 1 - agreement_at <= rules.accept.consensus_carries)
    return agreement_at, consensus


def did_harm(effects: Effects, forbidden: tuple[str, ...]) -> bool:
    """Whether the turn did something wrong (a cost that is not soft, or a never_offer): it blocks an
    acceptance in the same turn."""
    return any(cost > 0 and not _is_soft(cause) for cause, _d, cost in effects) or bool(forbidden)


def turn_outcome(accepted: bool, patience: int, turn: int, scenario: Scenario,
                 rules: EngineRules) -> tuple[Outcome, Escalation | None, str | None]:
    """(outcome, escalation, the note saying why the buyer escalated or None)."""
    if accepted:
        return "resolved", None, None
    if patience <= 0:
        return "escalated", scenario.persona.escalation, "patience ran out"
    if turn >= rules.max_turns:
        return "escalated", scenario.persona.escalation, f"no resolution after {rules.max_turns} turns"
    return "ongoing", None, None


def step(state: EngineState, sig: Signals, scenario: Scenario, rules: EngineRules,
         latency_s: float | None = None) -> tuple[EngineState, Decision]:
    """Apply one trainee reply. Pure and deterministic.

    The stages, each a function above: read_turn → signal_effects, penalty_effects, told_and_offered
    (fact effects) → with_no_progress → settle_mood → offer_on_table, volunteered_facts → agreement →
    _accepts → turn_outcome → _buyer_state; demand_effects charges a demand left unanswered and next_demand
    sets what she asks for next. Raises ValueError when the conversation has already ended."""
    if state.ended:
        raise ValueError("the conversation has already ended")
    reading = read_turn(state, sig, scenario, rules, latency_s)
    notes: list[str] = []
    if reading.gated:
        notes.append("no substance or injection: calming, questions and offers ignored")
    if reading.unforgiven:
        notes.append("nothing the buyer can hold on to: no question, offer, time or fact")

    counted_effects, used, counted = signal_effects(reading, state.used, scenario, rules)
    forbidden = tuple(f.id for f in scenario.never_offer if f.id in sig.forbidden_offers)
    newly, offered = told_and_offered(reading, state, sig, scenario)
    charged = counted_effects + penalty_effects(reading, sig, scenario, rules)
    unanswered_effects, unanswered = demand_effects(state, reading, charged, rules)
    if unanswered:
        notes.append(f"unanswered:{state.demand}: the reply does not answer what the buyer asked")
    effects = with_no_progress(
        charged + unanswered_effects
        + tuple((f"fact:{fid}", rules.fact_revealed.mood, rules.fact_revealed.patience) for fid in newly), rules)
    net, mood, cost, floor = settle_mood(state.mood, effects, rules)
    if floor:
        notes.append("mood at the floor")
    patience = state.patience_left - cost

    proposed, committed = offer_on_table(state, offered, Signal.time_commitment.value in counted, rules)
    volunteered = volunteered_facts(state, scenario, net, mood, newly)
    if volunteered:
        newly += volunteered
        notes.append("volunteered: " + ", ".join(volunteered))
    revealed = state.revealed + newly

    agreement_at, consensus = agreement(state, counted, proposed, rules)
    accepted, why_not = _accepts(scenario, rules, proposed, committed, consensus, mood, revealed,
                                 did_harm(effects, forbidden))
    if why_not and (offered or Signal.consensus_check.value in counted):
        notes.append("not accepted yet: " + "; ".join(why_not))

    turn = state.turn + 1
    outcome, escalation, why_ended = turn_outcome(accepted, patience, turn, scenario, rules)
    if why_ended:
        notes.append(why_ended)
    if outcome == "escalated":
        revealed, newly = state.revealed, ()

    buyer_state = _buyer_state(outcome, escalation, net, mood, bool(offered) or Signal.consensus_check.value in counted,
                               proposed is not None, rules)
    new_state = replace(state, mood=mood, patience_left=max(0, patience), turn=turn, revealed=revealed,
                        proposed=proposed, committed=committed, accepted=accepted, outcome=outcome,
                        escalation=escalation, used=used,
                        offers=state.offers + tuple(i for i in reading.offered_any if i not in state.offers),
                        asked=state.asked + tuple(i for i in reading.asked if i not in state.asked),
                        hollow_turns=reading.hollow_turns, agreement_asked_at=agreement_at)
    new_state = replace(new_state, demand=next_demand(new_state, rules))
    decision = Decision(signals=_signal_order(set(counted)), effects=effects, mood_before=state.mood, mood_after=mood,
                        revealed=newly, offered=offered, forbidden=forbidden, buyer_state=buyer_state,
                        gated=reading.gated, notes=tuple(notes), asked=reading.asked, question=reading.question,
                        hollow=reading.hollow, demand=state.demand, unanswered=unanswered)
    return new_state, decision


def _is_soft(cause: str) -> bool:
    """Costs that do not block an acceptance in the same turn (a slow or empty turn is not a wrong one)."""
    return cause in ("no_progress", "hollow", Signal.slow_reply.value) or cause.startswith(("fact:", "unanswered:"))


def _accepts(scenario: Scenario, rules: EngineRules, proposed: str | None, committed: bool, consensus: bool,
             mood: int, revealed: tuple[str, ...], bad_this_turn: bool) -> tuple[bool, list[str]]:
    why: list[str] = []
    rule = rules.accept
    if proposed is None:
        why.append("no acceptable resolution offered")
    if rule.needs_time_commitment and not committed:
        why.append("the offer has no time commitment")
    if rule.needs_consensus_check and not consensus:
        why.append("the buyer was not asked to agree")
    if mood < rule.min_mood:
        why.append(f"mood {mood} below {rule.min_mood}")
    missing = [f.id for f in scenario.hidden_facts if f.id not in revealed]
    if len(scenario.hidden_facts) - len(missing) < facts_needed(scenario, rules):
        why.append("hidden facts not uncovered: " + ", ".join(missing))
    if bad_this_turn:
        why.append("this reply also did harm")
    return not why, why


def _buyer_state(outcome: Outcome, escalation: Escalation | None, net: float, mood: int, asked: bool,
                 has_offer: bool, rules: EngineRules) -> BuyerState:
    if outcome == "resolved":
        return BuyerState.accepting
    if outcome == "escalated":
        return BuyerState.leaving if escalation is Escalation.leaves else BuyerState.escalating
    if net < 0:
        return BuyerState.angry
    if asked and has_offer:
        return BuyerState.probing
    if net > 0 and net >= rules.lines.calm_gain:
        return BuyerState.calming if mood < rules.lines.probing_from else BuyerState.probing
    return BuyerState.angry if mood < rules.lines.angry_below else BuyerState.probing


def replay_turns(said: Iterable[ReplyInContext], scenario: Scenario, rules: EngineRules,
                 read: Callable[[str, ReplyContext], Signals]
                 ) -> Iterator[tuple[ReplyInContext, Signals, EngineState, Decision]]:
    """Each trainee turn of a recorded conversation, read as the engine reads it — with the facts the rules
    have told so far, not the file's — and stepped: (turn, its signals, the state after it, its decision), up to
    the turn that ends the conversation. The one replay that engine.replay and rubric.score_transcript share."""
    state = initial_state(scenario)
    for turn in said:
        if state.ended:
            return
        sig = read(turn.record.text, replace(turn.context, revealed=frozenset(state.revealed)))
        state, decision = step(state, sig, scenario, rules, turn.record.latency_s)
        yield turn, sig, state, decision
