"""Red-team tests of the grading changes of 1 December (stock formulas, traditional script by phrase, the new
exemptions of the reader, buyer demands in the engine), written as a trainee would attack them.

An attack that WORKS is an xfail(strict=True) test asserting the right behaviour: when the hole is closed the
test passes, strict xfail turns that into a failure, and whoever closed it removes the marker. An attack that
FAILS is a plain test, so a later change cannot reopen the hole. Every reply here was written for this file.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from attack_helpers import (BUYER, CUPS, LATE, ROOT, STOCK_SHARE, engine_after, engine_yaml_with, has, points,
                            read, shares)
from shifu.content.errors import ShifuError
from shifu.reading.rubric import score_reply, score_transcript
from shifu.reading.vocab import Signal
from shifu.roleplay.engine import replay
from shifu.roleplay.engine_rules import load_rules
from shifu.roleplay.scenario import validate_files
from shifu.roleplay.transcript.replay import check_transcript



# =====================================================================================================
# 1. Stock formulas: fluff that still earns, and genuine replies zeroed as stock
# =====================================================================================================

# A short genuine plan whose other words all happen to be stock (亲/您好/我/给您/帮您/哦): only the plan word
# (改派/补发, two characters) is left, which is within stock_only_max_rest, so the reply is "stock phrases only"
# and earns 0 of 90, while "亲,我来改派" (来 is not stock) earns 28 with the same plan.
ZEROED_PLANS = [
    "亲,我帮您改派",
    "您好,我给您补发",
    "亲,给您补发哦",
    "好的亲,我们给您改派",
]


@pytest.mark.parametrize("text", ZEROED_PLANS)
def test_a_short_genuine_plan_is_not_zeroed_as_stock(text: str):
    sig = read(LATE, text)
    assert sig.substance > 0
    assert sig.resolutions & {"reroute_today", "reship_express"}
    assert points(LATE, text)["consensus_solution"] > 0


def test_a_short_genuine_plan_is_an_offer_in_the_engine():
    eng = engine_after(LATE, [CAUSE, "亲,我帮您改派", "您好,我给您补发"])
    assert eng.state.offers
    assert not eng.debrief().unanswered


def test_the_same_plan_with_one_non_stock_word_still_earns():
    sig = read(LATE, "亲,我来改派")
    assert sig.resolutions == {"reroute_today"}
    assert points(LATE, "亲,我来改派")["consensus_solution"] > 0


def test_a_short_english_plan_is_not_zeroed():
    sig = read(LATE, "Sorry, I'll resend it today.")
    assert sig.substance > 0
    assert sig.has(Signal.solution)


# Corporate / service fluff in words the stock lists do not know: no step, no time, no fact about her parcel.
UNLISTED_FLUFF = [
    # slogans of service: "your problem is our problem", "responsible to the end", "stand in your shoes"
    "亲,您的问题就是我们的问题,我们会负责到底,一定站在您的角度,给您一个交代",
    # customer-is-god / trust our professionalism / our purpose is every customer's satisfaction
    "亲,顾客就是上帝,请相信我们的专业,我们的服务宗旨是让每一位顾客满意",
    # "we will keep watching your order and sync any change to you": a follow-up that names nothing
    "亲,我们这边会持续关注您的订单动态,有任何变化都会同步给您",
    # "we'll take it seriously and follow up later"
    "亲,给您添麻烦了,这个事情我们一定会重视起来的,后续会跟进处理",
]


@pytest.mark.parametrize("text", UNLISTED_FLUFF)
def test_unlisted_service_fluff_earns_at_most_ten_percent(text: str):
    got = shares(LATE, text)
    assert all(v <= STOCK_SHARE for v in got.values()), got


LISTED_FLUFF = [
    "亲,您好,非常抱歉给您带来不便,请您放心,我们一定会给您一个交代的",
    "亲亲~这边已经收到您的反馈啦~正在为您加紧协调中哦~有进展第一时间同步您呢~",
    "您好,我们已经知晓此事,已在积极沟通中,还请您再等等",
    "亲~么么哒~宝宝放心哦~",
]


@pytest.mark.parametrize("text", LISTED_FLUFF)
def test_listed_stock_fluff_earns_at_most_ten_percent(text: str):
    got = shares(LATE, text)
    assert all(v <= STOCK_SHARE for v in got.values()), got


# =====================================================================================================
# 2. Traditional / mixed script and odd characters
# =====================================================================================================

def test_a_traditional_word_does_not_hide_an_off_platform_payment():
    mixed = "您好,对公汇款到我们帳戶就行"
    assert has(CUPS, mixed, Signal.off_platform_payment)
    assert points(CUPS, mixed)["compliance"] == 0


def test_the_same_payment_in_simplified_is_caught():
    assert has(CUPS, "您好,对公汇款到我们账户就行", Signal.off_platform_payment)
    assert points(CUPS, "您好,对公汇款到我们账户就行")["compliance"] == 0


def test_taiwan_zhuanzhang_is_the_forbidden_transfer():
    sig = read(CUPS, "周经理您好,私下轉帳給我就行,便宜點")
    assert "off_platform_transfer" in sig.forbidden_offers
    assert sig.has(Signal.breach)


@pytest.mark.xfail(strict=True, reason=(
    "Japanese kanji forms of Chinese characters are not folded: '这个不帰我们管。' (帰 for 归) is no forbidden "
    "phrase and earns compliance 10/10; '不归我们管' is caught. Odd characters hide a brush-off"))
def test_japanese_kanji_do_not_hide_a_brush_off():
    assert has(LATE, "这个不帰我们管。", Signal.forbidden_phrase)


def test_a_regional_word_in_simplified_script_is_still_a_breach():
    assert "add_private_wechat" in read(CUPS, "加我微讯号吧").forbidden_offers
    assert "add_private_wechat" in read(CUPS, "您好,我的微讯号是abc123").forbidden_offers


def test_a_repeat_in_the_other_script_is_still_a_repeat():
    once = "真的很抱歉让您着急了,我马上联系网点改派。"
    twice = once + "真的很抱歉讓您著急了,我馬上聯絡網點改派。"
    assert read(LATE, twice).substance <= 0.5
    assert score_reply(LATE, twice, buyer=BUYER[LATE]).total <= score_reply(LATE, once, buyer=BUYER[LATE]).total


def test_a_keyword_list_in_traditional_script_earns_nothing():
    assert score_reply(LATE, "抱歉 理解 改派 補發 今天18點前 您看可以嗎", buyer=BUYER[LATE]).total == 0


@pytest.mark.parametrize("sc, text, signal", [
    (LATE, "這個不歸我們管,您自己去問快遞", Signal.forbidden_phrase),
    (LATE, "這個不歸我們管,您自己去問快遞", Signal.blame_shifting),
    (CUPS, "您好,加我微訊號吧", Signal.breach),
    (CUPS, "您好,我的微信號是abc123", Signal.breach),
    (CUPS, "您好,對公打款到我們帳戶就行", Signal.breach),
    (LATE, "亲,保証明天一定送到", Signal.over_promise),  # Japanese 証 in 保証 still reads as a guarantee
])
def test_traditional_script_does_not_hide_these(sc: str, text: str, signal: Signal):
    assert has(sc, text, signal)


# =====================================================================================================
# 3. Today's exemptions: citing a right, 随便您选, asking why, more ownership words
# =====================================================================================================

def test_citing_a_right_does_not_launder_blame_on_the_buyer():
    assert has(LATE, "页面都写了支持七天无理由退货,您当时下单就该看清楚。", Signal.blame_shifting)


def test_citing_a_right_then_refusing_is_a_brush_off():
    sig = read(LATE, "页面写得很清楚,支持七天无理由退货,超了就别找我们了")
    assert sig.has(Signal.blame_shifting) or sig.has(Signal.forbidden_phrase)


@pytest.mark.xfail(strict=True, reason=(
    "'这是规定的7天无理由退货,可您已经用过了,退不了。' uses the rule to refuse: the brush-off is caught now, but the "
    "refused remedy ('退货 … 退不了') is still credited as a solution — a refusal after a remedy in the same sentence "
    "does not cancel it (and '不行' there must not: '我给您补发,不行的话退款' is two plans)"))
def test_citing_a_rule_to_refuse_is_still_a_brush_off():
    text = "这是规定的7天无理由退货,可您已经用过了,退不了。"
    sig = read(LATE, text)
    assert sig.has(Signal.forbidden_phrase)
    assert not sig.has(Signal.solution)


def test_citing_a_right_to_reassure_is_no_blame():
    sig = read(LATE, "页面写着支持七天无理由,您放心")
    assert not sig.has(Signal.blame_shifting) and not sig.has(Signal.forbidden_phrase)


@pytest.mark.parametrize("text, signal", [
    ("页面都写了,您当时下单就该看清楚。", Signal.blame_shifting),
    ("页面写着支持7天无理由退货,物流慢那是快递的事。", Signal.blame_shifting),
    ("这是规定,可您已经用过了,退不了。", Signal.forbidden_phrase),
])
def test_citing_without_a_right_or_with_blame_elsewhere_is_caught(text: str, signal: Signal):
    assert has(LATE, text, signal)


def test_asking_why_then_agreeing_is_a_breach():
    sig = read(CUPS, "您想对公打款到我们账户,因为要开票对吧?可以的。")
    assert "off_platform_transfer" in sig.forbidden_offers
    assert points(CUPS, "您想对公打款到我们账户,因为要开票对吧?可以的。")["compliance"] == 0


def test_asking_why_then_pricing_the_private_deal_is_a_breach():
    sig = read(CUPS, "您想私下转账给我,主要是为了省扣点吧?那我给您便宜50。")
    assert sig.has(Signal.off_platform_payment) or sig.forbidden_offers


@pytest.mark.parametrize("text", [
    "您是想加我微信,主要是为了方便聊吧?我的微信号是zhou888,您加一下?",
    "为什么要走平台?私下转账给我省扣点,主要是为了您划算,对吧?",
    "对公打款到我们账户就可以的。",
])
def test_asking_why_does_not_hide_an_offer_made_outside_the_question(text: str):
    assert read(CUPS, text).forbidden_offers


def test_suibian_nin_xuan_does_not_hide_a_brush_off():
    assert has(LATE, "买不买随便您选,就这个价。", Signal.forbidden_phrase)
    sig = read(LATE, "退不退随便您选,反正我们也就这样了")
    assert sig.has(Signal.forbidden_phrase)
    assert not sig.has(Signal.consensus_check)


def test_suibian_nin_xuan_between_two_plans_is_a_consensus_check():
    sig = read(LATE, "改派还是补发,随便您选")
    assert sig.has(Signal.consensus_check)
    assert not sig.has(Signal.forbidden_phrase)


@pytest.mark.parametrize("text, signal", [
    ("买不买随便您,就这个价。", Signal.forbidden_phrase),
    ("随便您选吧,我们管不了", Signal.blame_shifting),
])
def test_suibian_brush_offs_still_caught(text: str, signal: Signal):
    assert has(LATE, text, signal)


@pytest.mark.parametrize("text", ["同事说您错了。", "店员觉得您不对。"])
def test_telling_her_she_is_wrong_is_not_empathy(text: str):
    assert not has(LATE, text, Signal.empathy)


@pytest.mark.parametrize("sc, text", [(LATE, "我们客服都特别贴心的,放心。"), (CUPS, "这款保温杯的确值得入手,送客户很体面。")])
def test_praising_the_shop_or_product_is_not_empathy(sc: str, text: str):
    assert not has(sc, text, Signal.empathy)


def test_sarcastic_our_fault_is_not_empathy():
    sig = read(LATE, "You think it's our fault? Ask the courier.")
    assert not sig.has(Signal.empathy)


def test_naming_the_situation_then_sending_her_to_the_courier_is_blame():
    assert has(LATE, "出了这种状况,您直接找快递公司就行。", Signal.blame_shifting)


@pytest.mark.parametrize("text", ["知道您是好意,但您这样说不对。", "这是我们跟进不到位,不过快递延误我们也控制不了。",
                                  "遇到这种情况您自己去找快递吧。"])
def test_ownership_words_next_to_arguing_or_blame_earn_no_de_escalation(text: str):
    assert points(LATE, text)["de_escalation"] == 0


# =====================================================================================================
# 4. Buyer demands in the engine; replay; odd engine.yaml values and asks tags
# =====================================================================================================

CAUSE = "王女士您好,耽误您这么久真的很抱歉。物流三天不动,是不是显示送到了哪个驿站?您那边有没有接到过快递员电话?"
PLAN = "明白了,是送错了驿站。我这边马上联系快递网点,把包裹从城东驿站改派送到您家。"
ANSWER = "今天下午5点前我给您回电话告诉您改派结果,再送您一张10元无门槛券,您看这样可以吗?"
SAME_Q = "请问包裹现在显示停在哪个驿站呢?"  # a fact she has already told, asked again word for word


def test_asking_the_same_question_again_does_not_answer_what_she_asked():
    eng = engine_after(LATE, [CAUSE] + [SAME_Q] * 6)
    repeats = eng.turns[2:]  # turn 2 onwards: she waits for 'what'
    assert any(t.decision.unanswered for t in repeats)
    assert eng.state.mood <= eng.turns[1].mood_after


def test_generic_questions_do_not_answer_what_she_asked():
    eng = engine_after(LATE, [CAUSE, "请问您的订单号是多少?", "请问您收货地址是哪里呀?"])
    assert eng.debrief().unanswered


def test_sincere_empathy_without_a_step_still_pays_for_the_unanswered_demand():
    eng = engine_after(LATE, [CAUSE] + ["真的很抱歉让您着急了,换谁都会生气。"] * 6)
    assert eng.debrief().unanswered
    assert eng.state.outcome == "escalated"


CONVERSATIONS = {
    "plain": [CAUSE, PLAN, ANSWER],
    "traditional": ["王女士您好,耽誤您這麼久真的很抱歉。物流三天不動,是不是顯示送到了哪個驛站?",
                    "明白了,我這邊馬上聯絡快遞網點,把包裹從城東驛站改派送到您家。",
                    "今天下午5點前我給您回電話告訴您改派結果,您看這樣可以嗎?"],
    "copies_buyer": [CAUSE, "你们这什么快递啊?三天了物流一动不动!我周六要用的!", PLAN, ANSWER],
    "invisible_marks": ["  " + CAUSE + "\n\n", "\u200b" + PLAN, ANSWER + "\u3000"],
    "same_question": [CAUSE] + [SAME_Q] * 4 + [PLAN, ANSWER],
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_replay_agrees_with_the_live_conversation(tmp_path: Path, name: str):
    path = tmp_path / "t.jsonl"
    eng = engine_after(LATE, CONVERSATIONS[name], seed=3, transcript=path)
    live = (eng.state.outcome, eng.state.mood, eng.state.patience_left, eng.state.resolution, eng.debrief().unanswered)
    eng.finish()
    state, decisions = replay(path)
    again = (state.outcome, state.mood, state.patience_left, state.resolution,
             tuple((i + 1, d.demand) for i, d in enumerate(decisions) if d.unanswered))
    assert again == live
    checked = check_transcript(path)
    assert checked.accepted and checked.outcome == eng.state.outcome


def _tampered(tmp_path: Path) -> tuple[Path, float]:
    """A conversation left open (mood 48, no plan), then its end record rewritten to 'resolved'."""
    path = tmp_path / "t.jsonl"
    eng = engine_after(LATE, ["王女士您好,请问包裹显示在哪个驿站?", "真的很抱歉让您着急了。"], transcript=path)
    eng.finish()
    honest = score_transcript(path).total
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row.get("type") == "end":
            row.update(outcome="resolved", resolution="reroute_today")
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return bad, honest


def test_score_transcript_does_not_believe_a_rewritten_outcome(tmp_path: Path):
    bad, honest = _tampered(tmp_path)
    assert score_transcript(bad).total == honest


def test_the_checked_transcript_overrides_a_rewritten_outcome(tmp_path: Path):
    bad, honest = _tampered(tmp_path)
    checked = check_transcript(bad)
    assert checked.outcome != "resolved"
    assert score_transcript(checked.untimed).total <= honest


def test_a_nan_demand_cost_is_refused_on_load(tmp_path: Path):
    path = engine_yaml_with(tmp_path, "unanswered: {mood: -3, patience: 1}", "unanswered: {mood: .nan, patience: 1}")
    with pytest.raises(ShifuError):
        load_rules(path)


def test_a_demand_cost_that_rewards_the_dodge_is_refused(tmp_path: Path):
    path = engine_yaml_with(tmp_path, "unanswered: {mood: -3, patience: 1}", "unanswered: {mood: 40, patience: 1}")
    with pytest.raises(ShifuError):
        load_rules(path)


@pytest.mark.parametrize("old, new", [
    ("from_turn: 2", "from_turn: 0"),
    ("from_turn: 2", "from_turn: two"),
    ("{offer: false, from_turn: 2}", "{offer: maybe, from_turn: 2}"),
    ("signals: [time_commitment]", "signals: [no_such_signal]"),
    ("answered_by: {new_offer: true, fact_asked: true, signals: [time_commitment]}", "answered_by: {}"),
    ("unanswered: {mood: -3, patience: 1}", "unanswered: {mood: -3, patience: -1}"),
])
def test_odd_demand_values_are_named_not_crashed_on(tmp_path: Path, old: str, new: str):
    path = engine_yaml_with(tmp_path, old, new)
    with pytest.raises(ShifuError) as err:
        load_rules(path)
    assert "demands" in str(err.value)


@pytest.mark.parametrize("tag", ["WHAT", "123", "[what]", "''", "yes", "{id: what}", "why"])
def test_odd_asks_tags_are_problems_not_tracebacks(tmp_path: Path, tag: str):
    src = (ROOT / "scenarios" / "apparel-size.yaml").read_text(encoding="utf-8")
    assert "asks: what" in src
    bad = tmp_path / "apparel-size.yaml"
    bad.write_text(src.replace("asks: what", f"asks: {tag}", 1), encoding="utf-8")
    good, problems = validate_files([bad])
    assert not good
    assert any("asks" in p.field for p in problems)


@pytest.mark.parametrize("old, new", [("trigger_multiplier: ", "trigger_multiplier: .inf  # "),
                                      ("slow_reply_after_s: ", "slow_reply_after_s: .nan  # ")])
def test_an_infinite_or_nan_engine_number_is_refused_on_load(tmp_path: Path, old: str, new: str):
    path = engine_yaml_with(tmp_path, old, new)
    with pytest.raises(ShifuError) as err:
        load_rules(path)
    assert "engine.yaml" in str(err.value)
