"""Second red team of 1 December: attacks on the FIXES that followed tests/test_attacks_dec1.py (stock slogans,
a remedy word lifting 'stock only', action words as on-topic for padding, the '…还是…' why-question, citing
refusals, 'X不X随便您', the new empathy words, 帐/账 and 微讯, buyer demands, score_transcript replaying the
engine, engine.yaml number validation), written as a trainee would attack them.

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
# 1. Stock formulas after the fixes: one remedy word lifts 'stock only', and then the stock earns again
# =====================================================================================================

BARE_PLAN = "亲,马上改派"  # 28 of 90: greeting 3, consensus_solution 8, policy 7, compliance 10

# The stock slogan (listed in phrases.yaml stock_patterns) next to the bare plan: measured 36 of 90, de_escalation
# 3 → 11 — the slogan itself is read as empathy (ownership) once the reply is no longer 'stock only'.
SLOGAN_PLUS_PLAN = [
    "亲,您的问题就是我们的问题,马上改派",
    "亲,马上改派,我们会负责到底",
]


@pytest.mark.xfail(strict=True, reason=(
    "a listed service slogan ('您的问题就是我们的问题', '我们会负责到底') earns empathy once one remedy word "
    "('马上改派') lifts the reply out of 'stock only': de_escalation 3 → 11 of 20 (28 → 36 of 90). Stock fluff "
    "still earns as long as a plan word rides along"))
@pytest.mark.parametrize("text", SLOGAN_PLUS_PLAN)
def test_a_stock_slogan_next_to_a_plan_earns_nothing_more_than_the_plan(text: str):
    assert points(LATE, text)["de_escalation"] == points(LATE, BARE_PLAN)["de_escalation"]


# The listed stock follow-ups ('后续会跟进处理', '有任何变化都会同步给您') earn follow_up (closing_loop 2 of 5)
# as soon as one plan word is there; the bare plan earns 0 there.
STOCK_FOLLOW_UP_PLUS_PLAN = [
    "亲,马上改派,这个事情我们一定会重视起来的,后续会跟进处理",
    "亲,我们这边会持续关注您的订单动态,有任何变化都会同步给您,催件",
]


@pytest.mark.xfail(strict=True, reason=(
    "the stock follow-up formulas listed today ('后续会跟进处理', '持续关注…有任何变化都会同步给您') earn follow_up "
    "— closing_loop 0 → 2 of 5 (40%) — once one remedy word ('改派', '催件') sits in the reply"))
@pytest.mark.parametrize("text", STOCK_FOLLOW_UP_PLUS_PLAN)
def test_a_stock_follow_up_next_to_a_plan_earns_no_closing_loop(text: str):
    assert points(LATE, text)["closing_loop"] == points(LATE, BARE_PLAN)["closing_loop"]


@pytest.mark.xfail(strict=True, reason=(
    "'您好,我们已经知晓此事,已在积极沟通中,加急处理,还请您再等等': corporate stalling plus '加急处理' (a scenario "
    "cue, no step, no object) is read as the reroute plan: 18.5 of 90, consensus_solution 5.92/20 (30%), "
    "policy 5.18/10 — far over the 10% a stock reply may earn"))
def test_stock_stalling_with_a_vague_hurry_word_earns_at_most_ten_percent():
    got = shares(LATE, "您好,我们已经知晓此事,已在积极沟通中,加急处理,还请您再等等")
    assert all(v <= STOCK_SHARE for v in got.values()), got


@pytest.mark.parametrize("text", [
    "亲,马上改派,一定站在您的角度",
    "亲,马上改派,给您一个交代",
    "亲,马上改派,顾客就是上帝,请相信我们的专业",
])
def test_these_slogans_add_nothing_to_a_plan(text: str):
    assert points(LATE, text) == points(LATE, BARE_PLAN)


@pytest.mark.parametrize("text", [
    "亲,顾客就是上帝,请相信我们的专业,我们的服务宗旨是让每一位顾客满意,退款",
    "后续会跟进",
])
def test_slogans_with_a_bare_refund_word_or_alone_earn_nothing(text: str):
    assert score_reply(LATE, text, buyer=BUYER[LATE]).total == 0


# Genuine replies that happen to hold a new stock slogan are not zeroed.
@pytest.mark.parametrize("text, at_least", [
    ("王女士,包裹被送错到城东驿站了,我已经让网点今天改派到您家,后续会跟进,今天18点前告诉您结果", 30),
    ("王女士,站在您的角度,周六要用确实急。我现在联系网点改派,今天下午5点前给您回电话,您看可以吗?", 40),
    ("我站在您的角度想了想,改派最快,今天下午就能安排,您看行吗?", 40),
])
def test_a_genuine_reply_holding_a_new_slogan_is_not_zeroed(text: str, at_least: float):
    sig = read(LATE, text)
    assert sig.substance == 1.0
    assert sig.has(Signal.solution) and sig.has(Signal.time_commitment)
    assert score_reply(LATE, text, buyer=BUYER[LATE]).total >= at_least


# =====================================================================================================
# 2. Padding hidden behind action words (a step taken for her counts as on the topic now)
# =====================================================================================================

PADDED = "王女士,我马上联系网点改派。今天天气特别好阳光明媚,昨天晚上看了一部很好看的电影,周末打算去爬山看看风景。"
PADDED_WITH_ACTIONS = ("王女士,我马上联系网点改派。我家楼下新开了一家奶茶店我帮您改派,昨天晚上看了一部很好看的电影"
                       "我给您补发,周末打算去爬山我来催件。")


def test_plain_padding_is_still_caught():
    assert read(LATE, PADDED).substance < 0.5


_GLUED_PLAN_WORDS = pytest.mark.xfail(strict=True, reason=(
    "padding hides behind the scenario's own plan words: small talk with '我帮您改派/我给您补发/我来催件' glued to each "
    "clause is on the topic (改派, 补发, 催件 are the scenario's words), substance 0.25 → 1.0, total 10.42 → 25.0 of 90; "
    "relevance is decided clause by clause, and a plan word anywhere in the clause makes it relevant"))


@pytest.mark.parametrize("text", [
    pytest.param(PADDED_WITH_ACTIONS, marks=_GLUED_PLAN_WORDS),
    # a step glued onto English small talk is a few words of a long clause: still padding
    "Sorry. I'll resend it today while the weather is lovely, I watched a great film last night and I'll resend "
    "it as we hike this weekend.",
])
def test_padding_does_not_hide_behind_action_words(text: str):
    assert read(LATE, text).substance < 0.5


# =====================================================================================================
# 3. Script tricks: homophones and odd characters for 微信; traditional script is not slow
# =====================================================================================================

_STILL_HIDDEN = pytest.mark.xfail(strict=True, reason=(
    "a letter-like character or spaced letters still hide the private WeChat: '微𝗑信' (NFKC folds 𝗑 to x, a letter, "
    "so the word stays split) and 'W e C h a t' read as nothing — compliance 10/10"))


@pytest.mark.parametrize("word", ["wechat", "WeChat", "薇信", "威信", "威訊", "wei信", "微♥信",
                                  pytest.param("微𝗑信", marks=_STILL_HIDDEN),
                                  pytest.param("W e C h a t ", marks=_STILL_HIDDEN)])
def test_a_wechat_spelling_does_not_hide_the_private_channel(word: str):
    text = f"周经理您好,加我{word}吧,便宜点"
    assert has(CUPS, text, Signal.off_platform_payment) or has(CUPS, text, Signal.breach)
    assert points(CUPS, text)["compliance"] == 0


@pytest.mark.parametrize("word", ["ＶＸ", "VX", "v信", "QQ", "扣扣", "微\u2060信", "微 信", "微-信"])
def test_these_private_channel_spellings_are_caught(word: str):
    assert points(CUPS, f"周经理您好,加我{word}吧,便宜点")["compliance"] == 0


@pytest.mark.parametrize("text", [
    "周经理您好,私下转帐给我吧,便宜点",
    "周经理您好,私下转賬给我吧,便宜点",
    "周经理您好,私下轉帳給我吧,便宜點",
    "周经理您好,私下轉賑给我吧,便宜点",   # 賑 (a near-miss glyph for 賬)
    "周经理您好,私下转zhang给我吧,便宜点",
    "周經理您好,加我Line吧,私下交易便宜點",
])
def test_transfer_spellings_in_either_script_cost_compliance(text: str):
    assert points(CUPS, text)["compliance"] == 0


# =====================================================================================================
# 4. The 'why' question (now needs '…还是…'): agreeing or offering right after it
# =====================================================================================================

def test_agreeing_after_the_why_question_is_a_breach():
    text = "您想加我微信,是为了方便还是为了便宜?加吧,zhou888。"
    assert read(CUPS, text).forbidden_offers
    assert points(CUPS, text)["compliance"] == 0


def test_a_card_number_after_the_why_question_is_a_breach():
    text = "您想私下转账,主要是为了价格,还是开票?都行,我的卡号6222000011112222。"
    assert points(CUPS, text)["compliance"] == 0


def test_an_offer_phrased_as_a_follow_up_question_is_a_breach():
    assert points(CUPS, "您想私下转账给我省扣点,是为了价格还是别的?转到6222000011112222就行?")["compliance"] == 0


@pytest.mark.parametrize("text", [
    "为什么要走平台,是为了保障还是习惯?私下转账给我更便宜吧?",
    "私下轉帳給我就行,是為了價格還是別的原因?",
])
def test_an_offer_inside_or_after_a_why_question_is_still_caught(text: str):
    assert read(CUPS, text).forbidden_offers


def test_the_why_question_in_traditional_script_is_still_a_question():
    sig = read(CUPS, "您想私下轉賬,主要是為了價格,還是開票?")
    assert not sig.forbidden_offers and sig.has(Signal.probe)


# =====================================================================================================
# 5. Citing a right, 'X不X随便您', and the new ownership / validation words
# =====================================================================================================

@pytest.mark.parametrize("text, signal", [
    ("页面写着支持七天无理由退货,您放心。是您自己地址填错了", Signal.blame_shifting),
    ("页面写着支持七天无理由,您放心;至于物流,那是快递的事", Signal.blame_shifting),
    ("页面写着支持七天无理由,您放心,快递的问题您自己找快递", Signal.blame_shifting),
    ("規定寫著支持七天無理由,您放心,快遞的事您自己去問快遞", Signal.forbidden_phrase),
    ("这是规定,支持退换的,您放心吧,这个不归我们管", Signal.forbidden_phrase),
    ("页面写着支持七天无理由,您放心,我也没办法", Signal.forbidden_phrase),
    ("页面写着可以退,我不清楚", Signal.forbidden_phrase),
])
def test_citing_a_right_does_not_launder_a_later_brush_off(text: str, signal: Signal):
    assert has(LATE, text, signal)


@pytest.mark.parametrize("text", ["改派不改派随便您选,反正就这样", "改不改派随便您选", "发不发随便您选"])
def test_any_x_bu_x_suibian_is_a_brush_off(text: str):
    sig = read(LATE, text)
    assert sig.has(Signal.forbidden_phrase)
    assert not sig.has(Signal.consensus_check)


def test_a_choice_followed_by_ai_za_za_di_is_a_brush_off():
    sig = read(LATE, "改派还是补发,随便您挑,爱咋咋地")
    assert sig.has(Signal.forbidden_phrase) or sig.has(Signal.arguing)


@pytest.mark.parametrize("text, signal", [
    ("你们随便选,爱买不买", Signal.forbidden_phrase),
    ("隨你便", Signal.forbidden_phrase),
    ("您随便选吧,反正我们管不了", Signal.blame_shifting),
])
def test_these_suibian_brush_offs_are_caught(text: str, signal: Signal):
    assert has(LATE, text, signal)


# Fake ownership / validation: the new words, said as a question, a denial, or before arguing/blame.
FAKE_EMPATHY = [
    "难道这是我们跟进不到位?",          # rhetorical: 'surely that's not our poor follow-up?'
    "这是我们跟进不到位?开什么玩笑",    # sarcasm
    "说是我们跟进不到位,我不认同",      # denial
    "这事该我们来管?不该吧",            # denial of ownership
    "知道您是好意,可您这要求太过分了",  # validation, then arguing
    "知道您是好意,您别管了",            # validation, then a brush-off
    "出了这种状况,您也有责任",          # naming the situation, then blame on her
]


_BRUSH_OFF_AFTER_VALIDATION = pytest.mark.xfail(strict=True, reason=(
    "'知道您是好意,您别管了' validates and then brushes her off: '您别管了' is no forbidden phrase, so the "
    "validation still earns de_escalation"))


@pytest.mark.parametrize("text", [t if "别管了" not in t else pytest.param(t, marks=_BRUSH_OFF_AFTER_VALIDATION)
                                  for t in FAKE_EMPATHY])
def test_fake_ownership_or_validation_earns_no_de_escalation(text: str):
    assert points(LATE, text)["de_escalation"] == 0


def test_admitting_poor_follow_up_is_not_a_follow_up():
    assert not has(LATE, "这是我们跟进不到位。", Signal.follow_up)


@pytest.mark.parametrize("text", [
    "这是我们跟进不到位,但主要是您地址填错了",
    "这是我们跟进不到位,说到底还是快递的锅",
    "It's our fault... well, technically the courier's fault.",
])
def test_ownership_followed_by_blame_earns_no_de_escalation(text: str):
    assert has(LATE, text, Signal.blame_shifting)
    assert points(LATE, text)["de_escalation"] == 0


# =====================================================================================================
# 6. Buyer demands: cheap dodges, a skilled agent's clarifying questions
# =====================================================================================================

CAUSE = "王女士您好,耽误您这么久真的很抱歉。是不是显示送到了哪个驿站?"


def test_a_new_offer_word_every_turn_does_not_dodge_when():
    eng = engine_after(LATE, [CAUSE, "我马上联系网点给您改派。", "要不然给您顺丰补发一双。", "我再帮您催件。",
                              "也可以重新派送到您家。", "加急发一双新的给您。", "我联系快递重新派送。", "送到您家。"])
    assert sum(1 for _, d in eng.debrief().unanswered if d == "when") >= 3
    assert eng.state.outcome == "escalated"


def test_a_fact_question_every_turn_does_not_dodge_what():
    eng = engine_after(LATE, ["王女士您好,耽误您这么久真的很抱歉。您是什么时候要用呀?",
                              "您那边有没有接到过快递员电话?是不是显示送到了哪个驿站?", "您周六几点要用?",
                              "快递员电话里怎么说的?", "驿站有没有给您发取件码?", "您住城西哪里?"])
    assert sum(1 for _, d in eng.debrief().unanswered if d == "what") >= 3
    assert eng.state.outcome == "escalated"


def test_a_skilled_agent_who_clarifies_first_still_wins_her():
    eng = engine_after(LATE, [
        "王女士您好,耽误您这么久真的很抱歉,换我也着急。我先帮您查,麻烦发一下订单号好吗?",
        "谢谢,我看到物流停了三天。为了改派到对的地方,您现在收货地址还是下单时那个吗?",
        "好的。您这边有没有接到过快递员或驿站的电话?",
        "明白了,是送错了驿站。我这边马上联系快递网点,把包裹从城东驿站改派送到您家,今天下午5点前我给您回电话,您看这样可以吗?",
    ])
    assert eng.state.outcome == "resolved"
    assert len(eng.debrief().unanswered) <= 1


# =====================================================================================================
# 7. score_transcript replays the engine: replies after the end
# =====================================================================================================

GOOD = ["王女士您好,耽误您这么久真的很抱歉。物流三天不动,是不是显示送到了哪个驿站?您那边有没有接到过快递员电话?",
        "明白了,是送错了驿站。我这边马上联系快递网点,把包裹从城东驿站改派送到您家。",
        "今天下午5点前我给您回电话告诉您改派结果,再送您一张10元无门槛券,您看这样可以吗?"]


def _after_the_end(tmp_path: Path) -> tuple[Path, Path]:
    """An escalated conversation (two stalling replies), and the same file with a model conversation's three
    replies (and buyer lines) appended after its end record."""
    path = tmp_path / "t.jsonl"
    eng = engine_after(LATE, ["请耐心等待。"] * 8, transcript=path)
    eng.finish()
    assert eng.state.outcome == "escalated"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    trainee = [r for r in rows if r.get("role") == "trainee"][-1]
    buyer = [r for r in rows if r.get("role") == "buyer"][-1]
    last = max(r["turn"] for r in rows if "turn" in r)
    extra = []
    for i, text in enumerate(GOOD):
        extra += [dict(trainee, turn=last + 1 + i, text=text), dict(buyer, turn=last + 1 + i, text="好吧")]
    bad = tmp_path / "appended.jsonl"
    bad.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows + extra), encoding="utf-8")
    return path, bad


def test_score_transcript_ignores_replies_after_the_end(tmp_path: Path):
    honest, bad = _after_the_end(tmp_path)
    state, _ = replay(bad)
    assert state.outcome == "escalated"
    assert score_transcript(bad).total == score_transcript(honest).total


def test_check_transcript_rejects_replies_after_the_end(tmp_path: Path):
    _, bad = _after_the_end(tmp_path)
    assert not check_transcript(bad).accepted


# =====================================================================================================
# 8. engine.yaml numbers and asks tags
# =====================================================================================================

@pytest.mark.parametrize("old, new", [
    ("  min: 0\n  max: 100", "  min: 100\n  max: 0"),
    ("facts_needed: 1 ", "facts_needed: -1 "),
    ("{offer: false, from_turn: 2}", "{offer: false, from_turn: true}"),
])
def test_odd_engine_numbers_are_refused(tmp_path: Path, old: str, new: str):
    with pytest.raises(ShifuError):
        load_rules(engine_yaml_with(tmp_path, old, new))


@pytest.mark.parametrize("old, new", [
    ("max_turns: 12", "max_turns: 1e400"),
    ("repeat_decay: 0.6", "repeat_decay: 2"),
    ("reused_calming: 0.0", "reused_calming: .nan"),
    ("{offer: false, from_turn: 2}", "{offer: false, from_turn: 2.5}"),
    ("unanswered: {mood: -3, patience: 1}", "unanswered: {mood: -3, patience: 1.5}"),
    ("  - id: when\n", "  - id: what\n"),
    ("  - id: when\n", "  - id: 'when '\n"),
    ("  empathy:              {mood: 8}", "  empathy:              {mood: 8, patience: -5}"),
])
def test_these_engine_values_are_refused(tmp_path: Path, old: str, new: str):
    with pytest.raises(ShifuError):
        load_rules(engine_yaml_with(tmp_path, old, new))


@pytest.mark.parametrize("tag", ["'what '", '"what\\u200b"', "'ｗｈａｔ'", "[what, when]", "true", '"what\\n"'])
def test_lookalike_asks_tags_are_problems_not_tracebacks(tmp_path: Path, tag: str):
    src = (ROOT / "scenarios" / "apparel-size.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "apparel-size.yaml"
    bad.write_text(src.replace("asks: what", f"asks: {tag}", 1), encoding="utf-8")
    good, problems = validate_files([bad])
    assert not good
    assert any("asks" in p.field for p in problems)
