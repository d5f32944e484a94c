"""engine_rules.step's named stages, each on its own: what it returns and that it changes nothing it is given."""
from __future__ import annotations

from dataclasses import replace

import pytest

from shifu.roleplay.engine_rules import (EngineRules, agreement, initial_state, load_rules, offer_on_table, read_turn,
                                settle_mood, signal_effects, step, turn_outcome, with_no_progress)
from shifu.reading.signals import Signals, Span
from shifu.reading.vocab import Signal as S

from engine_helpers import scenario

SC = scenario("late-parcel-wrong-station")


def sig(*names: S, probed=(), offers=(), substance=0.9, injection=False) -> Signals:
    return Signals(spans=tuple(Span(n, n.value, 0, 1) for n in names), probed_facts=frozenset(probed),
                   resolutions=frozenset(offers), forbidden_offers=frozenset(), substance=substance,
                   injection=injection)


@pytest.fixture(scope="module")
def rules() -> EngineRules:
    return load_rules()


def test_a_reply_without_substance_is_gated_and_hollow(rules):
    state = initial_state(SC)
    reading = read_turn(state, sig(S.empathy, S.probe, probed={"wrong_station"}, offers={"reroute_today"},
                                   substance=rules.min_substance / 2), SC, rules, None)
    assert reading.gated and reading.hollow and reading.asked == () and reading.offered_any == ()
    assert reading.hollow_turns == state.hollow_turns + 1


def test_a_slow_reply_is_read_as_slow(rules):
    reading = read_turn(initial_state(SC), sig(S.probe), SC, rules, rules.slow_reply_after_s + 1)
    assert S.slow_reply in reading.present and S.slow_reply not in read_turn(
        initial_state(SC), sig(S.probe), SC, rules, rules.slow_reply_after_s).present


def test_calming_wears_off_with_use_and_the_counts_are_returned_not_changed_in_place(rules):
    state = initial_state(SC)
    reading = read_turn(state, sig(S.empathy, S.probe, probed={"wrong_station"}), SC, rules, None)
    first, used, counted = signal_effects(reading, state.used, SC, rules)
    again, used2, _ = signal_effects(reading, used, SC, rules)
    assert state.used == () and dict(used)["empathy"] == 1 and dict(used2)["empathy"] == 2
    assert "empathy" in counted
    d1, d2 = dict((c, d) for c, d, _ in first)["empathy"], dict((c, d) for c, d, _ in again)["empathy"]
    assert d2 == pytest.approx(d1 * rules.repeat_decay)


def test_an_empty_turn_costs_patience_once(rules):
    costs = with_no_progress((), rules)
    assert costs == (("no_progress", rules.no_progress.mood, rules.no_progress.patience),)
    harmful = (("blame", -5.0, 1),)
    assert with_no_progress(harmful, rules)[-1] == ("no_progress", rules.no_progress.mood, 0)
    helpful = (("empathy", 4.0, 0),)
    assert with_no_progress(helpful, rules) == helpful


def test_mood_stays_in_range_and_a_drop_costs_at_least_one_patience(rules):
    net, mood, cost, floor = settle_mood(rules.mood.min + 1, (("blame", -1000.0, 0),), rules)
    assert mood == rules.mood.min and floor and net == -1000.0
    assert cost == 1 + rules.floor_patience
    _, mood, cost, floor = settle_mood(rules.mood.max - 1, (("empathy", 1000.0, 0),), rules)
    assert mood == rules.mood.max and cost == 0 and not floor


def test_a_time_commitment_stays_with_its_offer(rules):
    state = replace(initial_state(SC), proposed="reroute_today", committed=True)
    assert offer_on_table(state, (), False, rules) == ("reroute_today", True)
    assert offer_on_table(state, ("reroute_today",), False, rules) == ("reroute_today", True)
    other = next(a.id for a in SC.accepts if a.id != "reroute_today")
    assert offer_on_table(state, (other,), False, rules) == (other, rules.accept.time_carries_over)
    assert offer_on_table(state, (other,), True, rules) == (other, True)


def test_an_agreement_question_needs_an_offer_on_the_table(rules):
    state = initial_state(SC)
    assert agreement(state, frozenset({"consensus_check"}), None, rules) == (None, False)
    assert agreement(state, frozenset({"consensus_check"}), "reroute_today", rules) == (state.turn + 1, True)


def test_the_turn_ends_by_acceptance_patience_or_the_turn_limit(rules):
    assert turn_outcome(True, 0, rules.max_turns, SC, rules) == ("resolved", None, None)
    assert turn_outcome(False, 0, 1, SC, rules) == ("escalated", SC.persona.escalation, "patience ran out")
    outcome, escalation, why = turn_outcome(False, 3, rules.max_turns, SC, rules)
    assert (outcome, escalation) == ("escalated", SC.persona.escalation) and str(rules.max_turns) in why
    assert turn_outcome(False, 3, 1, SC, rules) == ("ongoing", None, None)


def test_step_is_its_stages(rules):
    """step's decision carries the stages' results unchanged (the orchestration adds nothing of its own)."""
    state = initial_state(SC)
    s = sig(S.empathy, S.probe, S.solution, S.time_commitment, S.consensus_check, probed={"wrong_station"},
            offers={"reroute_today"})
    reading = read_turn(state, s, SC, rules, None)
    after, decision = step(state, s, SC, rules)
    assert decision.gated == reading.gated and decision.hollow == reading.hollow and decision.asked == reading.asked
    assert after.hollow_turns == reading.hollow_turns
    _, mood, _, _ = settle_mood(state.mood, decision.effects, rules)
    assert decision.mood_after == mood == after.mood
