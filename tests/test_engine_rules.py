"""The engine's rules on hand-built Signals: mood, patience, reveals, acceptance, escalation."""
from __future__ import annotations

from pathlib import Path

import pytest

from shifu.roleplay.engine import Engine
from shifu.roleplay.engine_rules import EngineRules, initial_state, load_rules, step
from shifu.content.errors import ShifuError
from shifu.reading.signals import Signals, Span
from shifu.reading.vocab import BuyerState, Escalation, Signal as S

from engine_helpers import scenario

SCENARIO = scenario("late-parcel-wrong-station")


def sig(*names: S, probed=(), offers=(), forbidden=(), substance=0.9, injection=False) -> Signals:
    return Signals(spans=tuple(Span(n, n.value, 0, 1) for n in names), probed_facts=frozenset(probed),
                   resolutions=frozenset(offers), forbidden_offers=frozenset(forbidden), substance=substance,
                   injection=injection)


@pytest.fixture(scope="module")
def sc():
    return SCENARIO


@pytest.fixture(scope="module")
def rules() -> EngineRules:
    return load_rules()


def run(sc, rules, *signals: Signals, latency=None, until_end=False):
    """Apply the turns; with until_end, stop quietly when the conversation ends before they are all used."""
    state = initial_state(sc)
    decisions = []
    for s in signals:
        if until_end and state.ended:
            break
        state, d = step(state, s, sc, rules, latency)
        decisions.append(d)
    return state, decisions


ASK_STATION = sig(S.greeting, S.empathy, S.apology, S.probe, probed={"wrong_station"})
ASK_DATE = sig(S.probe, S.summary, probed={"race_saturday"})
OFFER = sig(S.solution, S.time_commitment, S.consensus_check, S.policy_correct, offers={"reroute_today"})


def test_a_good_conversation_resolves(sc, rules):
    state, ds = run(sc, rules, ASK_STATION, ASK_DATE, OFFER)
    assert state.outcome == "resolved" and state.accepted and state.resolution == "reroute_today"
    assert state.revealed == ("wrong_station", "race_saturday")
    assert [d.buyer_state for d in ds][-1] is BuyerState.accepting
    assert ds[0].revealed == ("wrong_station",) and ds[1].revealed == ("race_saturday",)
    assert ds[0].mood_after > ds[0].mood_before


def test_no_acceptance_before_the_cause_is_traced(sc, rules):
    state, ds = run(sc, rules, OFFER)
    assert state.outcome == "ongoing" and not state.accepted
    assert any("wrong_station" in n and "race_saturday" in n for n in ds[-1].notes)
    assert ds[-1].buyer_state is BuyerState.probing


def test_facts_needed_all_waits_for_every_hidden_fact(sc, rules):
    strict = rules.model_copy(update={"accept": rules.accept.model_copy(update={"facts_needed": "all"})})
    state, ds = run(sc, strict, ASK_STATION, OFFER)
    assert state.outcome == "ongoing" and not state.accepted
    assert any("race_saturday" in n for n in ds[-1].notes)
    assert ds[-1].buyer_state is BuyerState.probing
    assert run(sc, rules, ASK_STATION, OFFER)[0].outcome == "resolved"  # one traced reason is enough by default


def test_a_time_already_committed_holds_when_the_offer_changes(sc, rules):
    first = sig(S.solution, S.time_commitment, offers={"reship_express"})
    switch = sig(S.solution, S.consensus_check, offers={"reroute_today"})
    state, _ = run(sc, rules, ASK_STATION, ASK_DATE, first, switch)
    assert state.outcome == "resolved" and state.resolution == "reroute_today"
    fresh = rules.model_copy(update={"accept": rules.accept.model_copy(update={"time_carries_over": False})})
    assert run(sc, fresh, ASK_STATION, ASK_DATE, first, switch)[0].outcome == "ongoing"


@pytest.mark.parametrize("missing", [S.time_commitment, S.consensus_check])
def test_acceptance_needs_a_time_and_a_consensus_check(sc, rules, missing):
    names = [n for n in (S.solution, S.time_commitment, S.consensus_check, S.policy_correct) if n is not missing]
    state, _ = run(sc, rules, ASK_STATION, ASK_DATE, sig(*names, offers={"reroute_today"}))
    assert state.outcome == "ongoing"


def test_time_commitment_and_agreement_may_come_in_later_turns(sc, rules):
    state, _ = run(sc, rules, ASK_STATION, ASK_DATE, sig(S.solution, offers={"reship_express"}),
                   sig(S.time_commitment, S.consensus_check))
    assert state.outcome == "resolved" and state.resolution == "reship_express"


def test_acceptance_needs_the_mood(sc, rules):
    cold = sc.model_copy(update={"persona": sc.persona.model_copy(update={"starting_mood": 0})})
    state, ds = run(cold, rules, sig(S.probe, probed={"wrong_station", "race_saturday"}), OFFER)
    assert ds[-1].mood_after < rules.accept.min_mood and state.outcome == "ongoing"


def test_harm_in_the_same_reply_blocks_acceptance(sc, rules):
    state, ds = run(sc, rules, ASK_STATION, ASK_DATE,
                    sig(S.solution, S.time_commitment, S.consensus_check, S.over_promise, offers={"reroute_today"},
                        forbidden={"guarantee_unknown"}))
    assert state.outcome == "ongoing"
    assert ("over_promise", -20.0, 2) in [(c, m, p) for c, m, p in ds[-1].effects]
    assert not any(c.startswith("never_offer:") for c, _, _ in ds[-1].effects), "over_promise counted once, not twice"


def test_a_breach_offer_hits_hard(sc, rules):
    calm = sc.persona.model_copy(update={"starting_mood": 60})
    breach = sc.model_copy(update={"persona": calm, "never_offer": [sc.never_offer[0].model_copy(update={"kind": "breach"})]})
    state, ds = run(breach, rules, sig(S.empathy, forbidden={"refund_keep_goods"}))
    assert ("never_offer:refund_keep_goods", -30.0, 3) in ds[0].effects
    assert state.patience_left == breach.persona.patience - 3 and ds[0].buyer_state is BuyerState.angry


def test_keyword_stuffing_and_injection_calm_nobody(sc, rules):
    start = initial_state(sc)
    stuffed = sig(S.empathy, S.apology, S.stuffing, substance=0.1)
    state, ds = run(sc, rules, stuffed)
    assert state.mood < start.mood and state.patience_left < start.patience_left
    assert ds[0].gated and "empathy" not in ds[0].signals
    state, ds = run(sc, rules, sig(S.empathy, S.probe, probed={"wrong_station"}, offers={"reroute_today"}, injection=True))
    assert state.mood < start.mood and state.revealed == () and state.proposed is None
    assert ("injection", rules.injection.mood, rules.injection.patience) in ds[0].effects


def test_a_little_stuffing_in_a_genuine_reply_only_does_not_count(sc, rules):
    state, ds = run(sc, rules, sig(S.empathy, S.stuffing, substance=0.8))
    assert state.mood > initial_state(sc).mood and "stuffing" not in ds[0].signals


def test_the_same_comfort_calms_less_each_time(sc, rules):
    _, ds = run(sc, rules, sig(S.empathy, S.probe), sig(S.empathy, S.probe), sig(S.empathy, S.probe))
    gains = [d.mood_after - d.mood_before for d in ds]
    assert gains[0] > gains[1] > gains[2] > 0


def test_the_same_comfort_with_nothing_behind_it_calms_once_then_costs(sc, rules):
    state, ds = run(sc, rules, sig(S.empathy), sig(S.empathy), sig(S.empathy))
    gains = [d.mood_after - d.mood_before for d in ds]
    assert gains[0] > 0 > gains[1] and gains[2] < 0, "the first comfort is fine; repeating it with nothing else is hollow"
    assert [d.hollow for d in ds] == [True, True, True]
    assert "empathy" not in dict((c, m) for c, m, _ in ds[1].effects if m > 0)
    assert state.patience_left < sc.persona.patience


def test_persona_triggers_weigh_more(sc, rules):
    _, (blame,) = run(sc, rules, sig(S.blame_shifting))
    _, (argue,) = run(sc, rules, sig(S.arguing))
    assert dict((c, m) for c, m, _ in blame.effects)["blame_shifting"] == rules.signals[S.blame_shifting].mood * rules.trigger_multiplier
    assert dict((c, m) for c, m, _ in argue.effects)["arguing"] == rules.signals[S.arguing].mood


def test_slow_replies_use_the_benchmark(sc, rules):
    _, (fast,) = run(sc, rules, sig(S.empathy), latency=rules.slow_reply_after_s)
    _, (slow,) = run(sc, rules, sig(S.empathy), latency=rules.slow_reply_after_s + 0.5)
    assert "slow_reply" not in fast.signals and "slow_reply" in slow.signals
    assert slow.mood_after < fast.mood_after


def test_empty_turns_wear_patience_out_and_the_persona_decides_how_it_ends(sc, rules):
    state, ds = run(sc, rules, *[sig(substance=0.5)] * sc.persona.patience, until_end=True)
    assert state.outcome == "escalated" and state.escalation is Escalation.platform_complaint
    assert ds[-1].buyer_state is BuyerState.escalating
    leaver = sc.model_copy(update={"persona": sc.persona.model_copy(update={"escalation": Escalation.leaves})})
    state, ds = run(leaver, rules, *[sig(substance=0.5)] * sc.persona.patience, until_end=True)
    assert state.escalation is Escalation.leaves and ds[-1].buyer_state is BuyerState.leaving


def test_a_conversation_that_drags_on_ends(sc, rules):
    # with no demands: a string of questions that uncover nothing would otherwise run her patience out first
    patient = rules.model_copy(update={"demands": []})
    state, ds = run(sc, patient, *[sig(S.probe)] * rules.max_turns)
    assert state.outcome == "escalated" and len(ds) == rules.max_turns
    assert "no resolution after" in " ".join(ds[-1].notes)


def test_no_fact_is_told_when_the_buyer_escalates(sc, rules):
    state, ds = run(sc, rules, sig(S.forbidden_phrase, S.blame_shifting, S.probe, probed={"wrong_station"}))
    assert state.outcome == "escalated" and state.revealed == () and ds[0].revealed == ()


def test_engine_refuses_empty_replies_and_replies_after_the_end(tmp_path):
    replies = {"a": ASK_STATION, "b": ASK_DATE, "c": OFFER}
    eng = Engine(SCENARIO, reader=lambda r, ctx: replies[r])
    with pytest.raises(ShifuError, match="empty"):
        eng.respond("   ")
    for r in "abc":
        eng.respond(r)
    with pytest.raises(ShifuError, match="ended"):
        eng.respond("a")


def test_engine_state_is_what_the_interface_promises():
    eng = Engine(SCENARIO, reader=lambda r, ctx: ASK_STATION)
    eng.opening()
    eng.respond("你好")
    s = eng.state
    assert (s.turn, s.revealed, s.proposed, s.accepted, s.outcome) == (1, ("wrong_station",), None, False, "ongoing")
    assert 0 <= s.mood <= 100 and s.patience_left == 4


def test_rules_file_errors_name_the_field(tmp_path: Path):
    bad = tmp_path / "engine.yaml"
    text = (Path(__file__).parents[1] / "grader" / "engine.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("trigger_multiplier: 1.5", "trigger_multiplier: lots"), encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        load_rules(bad)
    assert "trigger_multiplier" in str(exc.value) and "engine.yaml" in str(exc.value)


def test_an_agreement_question_can_carry_to_the_next_turn_when_the_rules_say_so(sc, rules):
    ask_first = sig(S.solution, S.consensus_check, offers={"reroute_today"})
    time_next = sig(S.time_commitment)
    strict = rules.model_copy(update={"accept": rules.accept.model_copy(update={"consensus_carries": 0})})
    state, _ = run(sc, strict, ASK_STATION, ASK_DATE, ask_first, time_next)
    assert state.outcome == "ongoing", "with 0 she is asked again once the offer is complete"
    carrying = rules.model_copy(update={"accept": rules.accept.model_copy(update={"consensus_carries": 1})})
    state, _ = run(sc, carrying, ASK_STATION, ASK_DATE, ask_first, time_next)
    assert state.outcome == "resolved" and state.resolution == "reroute_today"
    other = sig(S.solution, S.time_commitment, offers={"reship_express"})
    state, _ = run(sc, carrying, ASK_STATION, ASK_DATE, ask_first, other)
    assert state.outcome == "ongoing", "agreeing to one offer is not agreeing to another"
