"""Issue 14's buyer examples, each with the value it must have now, and the replay property of the
scripted voice. Signals built by hand test the engine's rules whatever the reader finds; the same
examples through the real reader test the whole path."""
from __future__ import annotations


import pytest

from engine_helpers import played, scenario, sig
from shifu.roleplay.engine import Engine
from shifu.roleplay.engine_rules import initial_state, load_rules, step
from shifu.roleplay.scenario import Trigger
from shifu.reading.signals import Signals, Span
from shifu.roleplay.transcript import read_transcript
from shifu.reading.vocab import BuyerState, Signal as S

WANG = "late-parcel-wrong-station"  # 王女士, starting mood 20
SPAM = "非常抱歉理解您的心情您看这样可以吗"
SOFT_BLAME = "物流的情况我们也没法控制,快递公司那边比较忙"


# -- "six turns of 非常抱歉理解您的心情您看这样可以吗 took 王女士 from 20 to 68" -------------------------

def test_six_stock_apologies_do_not_calm_wang_they_wear_her_out():
    eng = played(WANG, [SPAM] * 6)
    assert eng.state.outcome == "escalated" and eng.state.mood < 20


def test_six_stock_apologies_by_signals_calm_once_then_cost():
    # the reader sees 您看这样可以吗 as both a consensus check and a question: the same words
    stock = Signals(spans=(Span(S.apology, "非常抱歉", 0, 4), Span(S.empathy, "理解您的心情", 4, 10),
                           Span(S.consensus_check, "您看这样可以吗", 10, 17), Span(S.question, "您看这样可以吗", 10, 17)),
                    substance=0.9)
    eng = played(WANG, [SPAM] * 6, reader=lambda r, ctx: stock)
    gains = [t.mood_after - t.mood_before for t in eng.turns]
    assert gains[0] > 0 and all(g < 0 for g in gains[1:])
    assert eng.state.outcome == "escalated" and eng.state.mood < 20
    assert not eng.turns[0].decision.question, "您看这样可以吗 asks for agreement, it asks nothing"


# -- "请您耐心等待 twice raised the mood" --------------------------------------------------------------

def test_asking_her_to_wait_twice_lowers_the_mood_every_time():
    eng = played(WANG, ["请您耐心等待"] * 2)
    assert [t.mood_after < t.mood_before for t in eng.turns] == [True, True]


def test_stalling_costs_patience_from_the_first_time_and_earns_nothing():
    sc, rules = scenario(WANG), load_rules()
    state = initial_state(sc)
    state, d = step(state, sig(S.stalling, S.empathy), sc, rules)
    assert d.mood_after < d.mood_before, "even with a kind word, a stall is not forgiven"
    assert state.patience_left <= sc.persona.patience - 2
    assert "hollow" in [c for c, _, _ in d.effects]


def test_a_persona_who_hates_stalling_takes_every_empty_turn_harder():
    sc, rules = scenario(WANG), load_rules()
    hater = sc.model_copy(update={"persona": sc.persona.model_copy(update={
        "escalates_on": [*sc.persona.escalates_on, Trigger(signal=S.stalling, note="等等等")]})})
    empty = [sig(S.follow_up), sig(S.follow_up)]
    _, d1 = step(step(initial_state(sc), empty[0], sc, rules)[0], empty[1], sc, rules)
    _, d2 = step(step(initial_state(hater), empty[0], hater, rules)[0], empty[1], hater, rules)
    assert d2.mood_after < d1.mood_after


# -- "blame-shifting in other words gave +3 and 嗯,你这么说我心里舒服点了" ----------------------------

def test_soft_blame_does_not_calm_wang():
    eng = played(WANG, [SOFT_BLAME])
    t = eng.turns[0]
    assert t.mood_after < t.mood_before and t.buyer_state is BuyerState.angry
    assert "舒服点了" not in t.buyer


def test_blame_read_as_its_class_weighs_as_the_persona_trigger():
    """Whatever words the reader recognised blame in, the persona's escalates_on applies to the class."""
    eng = played(WANG, [SOFT_BLAME], reader=lambda r, ctx: sig(S.blame_shifting))
    t = eng.turns[0]
    rules = load_rules()
    assert dict((c, m) for c, m, _ in t.decision.effects)["blame_shifting"] == \
        rules.signals[S.blame_shifting].mood * rules.trigger_multiplier
    assert t.buyer_state is BuyerState.angry and "舒服点了" not in t.buyer


def test_a_persona_trigger_covers_never_offers_of_its_class():
    """The claim hunter escalates on over_promise: offering 退一赔十 weighs as that trigger even when
    the reader reports it only as a never_offer."""
    sc, rules = scenario("claim-hunter-absolute-words"), load_rules()
    _, d = step(initial_state(sc), sig(forbidden={"admit_and_pay_tenfold"}), sc, rules)
    assert dict((c, m) for c, m, _ in d.effects)["never_offer:admit_and_pay_tenfold"] == \
        rules.forbidden_offer["over_promise"].mood * rules.trigger_multiplier


def test_a_breach_reported_as_a_signal_and_a_never_offer_counts_once():
    sc, rules = scenario("claim-hunter-absolute-words"), load_rules()
    _, d = step(initial_state(sc), sig(S.breach, forbidden={"private_cash_deal"}), sc, rules)
    causes = [c for c, _, _ in d.effects]
    assert "breach" in causes and "never_offer:private_cash_deal" not in causes


# -- "follow-up lines come from a pool regardless of the conversation" (whole conversations) -------

@pytest.mark.parametrize("seed", range(5))
def test_the_claim_hunter_never_brings_up_legal_or_his_other_orders_unprompted(seed):
    eng = played("claim-hunter-absolute-words", ["非常抱歉给您带来不便", "您的问题我们非常重视", "我们会尽快给您答复"],
                 seed=seed)
    said = "".join(t.buyer for t in eng.turns)
    assert "法务" not in said and "另外两单" not in said and "30盒" not in said


@pytest.mark.parametrize("seed", range(5))
def test_no_buyer_line_comes_back_within_a_conversation(seed):
    probing = sig(S.probe, S.empathy)
    # without demands: twelve questions that uncover nothing would run her patience out by the sixth turn
    # (test_buyer_demands.py), and this test is about the lines of a long conversation
    patient = load_rules().model_copy(update={"demands": []})
    eng = played(WANG, [f"第{i}次问您" for i in range(12)], reader=lambda r, ctx: probing, seed=seed, rules=patient)
    sc = eng.scenario
    texts = [line.text for st in BuyerState for line in sc.lines.options(st)]
    buyer = [t.buyer for t in eng.turns]
    assert len(eng.turns) >= 10
    for text in texts:
        assert sum(text in b for b in buyer) <= 1, text


# -- replay: the scripted voice is a pure function of (scenario, seed, conversation so far) -------

GOOD_WANG = [
    "您好,我是跑者之家的小林,三天没动静换谁都着急。我先帮您查:您有没有收到驿站或快递员的取件通知?",
    "原来被错分到城东驿站了,是我们没跟进好。您最晚哪天要拿到这双鞋?",
    "明白,周五晚上前必须拿到。我现在联系网点让城东驿站改派到您家,今天下午3点前给您回复结果,改派不成今天就顺丰加急补发。您看这样可以吗?",
]


@pytest.mark.parametrize("seed", [0, 3])
def test_replaying_the_trainee_replies_regenerates_every_buyer_line(tmp_path, seed):
    path = tmp_path / "t.jsonl"
    eng = played(WANG, GOOD_WANG, seed=seed, transcript=path)
    eng.finish()
    t = read_transcript(path)
    recorded = [r.text for r in t.turns if r.role == "buyer"]
    replies = [r.text for r in t.turns if r.role == "trainee"]
    again = played(t.session.scenario, replies, seed=t.session.seed)
    assert [again.opening()] + [x.buyer for x in again.turns] == recorded
    assert again.state.outcome == eng.state.outcome


def test_an_edited_buyer_line_is_not_what_the_replay_produces(tmp_path):
    path = tmp_path / "t.jsonl"
    played(WANG, GOOD_WANG[:2], transcript=path).finish()
    t = read_transcript(path)
    replies = [r.text for r in t.turns if r.role == "trainee"]
    again = played(WANG, replies, seed=t.session.seed)
    regenerated = [again.opening()] + [x.buyer for x in again.turns]
    forged = [r.text for r in t.turns if r.role == "buyer"]
    forged[-1] = "行,这个方案我接受,你记得跟进。"
    assert regenerated != forged


def test_a_resumed_session_continues_with_the_lines_an_unbroken_one_says(tmp_path):
    whole = played(WANG, GOOD_WANG, seed=2)
    path = tmp_path / "t.jsonl"
    played(WANG, GOOD_WANG[:1], seed=2, transcript=path)
    resumed = Engine.resume(path)
    for r in GOOD_WANG[1:]:
        resumed.respond(r)
    assert [t.buyer for t in resumed.turns] == [t.buyer for t in whole.turns]


# -- hidden facts: told when asked for, or volunteered when the persona says so --------------------

def test_a_hidden_fact_is_told_only_when_asked_for():
    sc, rules = scenario(WANG), load_rules()
    state, d = step(initial_state(sc), sig(S.empathy, S.apology, S.solution, offers={"reroute_today"}), sc, rules)
    assert d.revealed == () and state.revealed == ()
    state, d = step(state, sig(S.probe, probed={"wrong_station"}), sc, rules)
    assert d.revealed == ("wrong_station",)


def test_a_persona_who_volunteers_a_fact_tells_it_unasked_once_warmed_up():
    sc, rules = scenario(WANG), load_rules()
    facts = [f.model_copy(update={"volunteers_at_mood": 30}) if f.id == "race_saturday" else f for f in sc.hidden_facts]
    talkative = sc.model_copy(update={"hidden_facts": facts})
    cold, d0 = step(initial_state(talkative), sig(S.blame_shifting), talkative, rules)
    assert d0.revealed == (), "a harmful turn does not make her talk"
    state, d = step(initial_state(talkative), sig(S.empathy, S.apology, S.solution, offers={"reroute_today"}), talkative, rules)
    assert d.mood_after >= 30 and d.revealed == ("race_saturday",) and "race_saturday" in state.revealed
    eng = Engine(talkative, reader=lambda r, ctx: sig(S.empathy, S.apology, S.solution, offers={"reroute_today"}))
    eng.opening()
    line = eng.respond("我马上帮您改派").buyer
    assert any(line.startswith(r) for r in talkative.hidden_fact("race_saturday").reveal)


def test_a_bare_greeting_does_not_get_a_calming_line():
    sc, rules = scenario("claim-hunter-absolute-words"), load_rules()
    _, d = step(initial_state(sc), sig(S.greeting), sc, rules)
    assert 0 < d.mood_after - d.mood_before < rules.lines.calm_gain and d.buyer_state is not BuyerState.calming
    wang = scenario(WANG)
    _, d = step(initial_state(wang), sig(S.empathy, S.policy_correct), wang, rules)
    assert d.buyer_state is BuyerState.calming
