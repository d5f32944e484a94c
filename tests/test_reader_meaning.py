"""Issue 14: every example of the issue, read for its meaning, with the right value; and the LLM reader
against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import json

import pytest

from engine_fake_llm import FakeLLM
from shifu.llm.config import LLMConfig
from shifu.reading.readers import reader_named
from shifu.reading.readers.llm import LLMReader
from shifu.reading.rubric import score_reply
from shifu.roleplay.scenario import load_scenario
from shifu.reading.signals import ReplyContext, read_reply
from shifu.reading.vocab import Signal


def names(sc_id: str, reply: str, buyer: str = "", history: tuple[str, ...] = ()) -> set[str]:
    sig = read_reply(reply, ReplyContext(load_scenario(sc_id), buyer_message=buyer, history=history))
    return {s.signal.value for s in sig.spans}


def share(result, cid: str) -> float:
    c = result.criterion(cid)
    return c.points / c.max if c.max else 0.0


def test_empathy_in_own_words_earns_de_escalation():
    reply = "当着一屋子人被那样说,搁谁都咽不下这口气,这是店员做错了,我替门店给您赔个不是"
    assert "empathy" in names("fruit-store-phone-complaint", reply)
    assert share(score_reply("fruit-store-phone-complaint", reply), "de_escalation") >= 0.4


def test_stock_phrase_spam_earns_at_most_a_tenth_of_any_criterion():
    reply = "非常抱歉!理解您的心情…您看这样可以吗?" * 3
    result = score_reply("late-parcel-wrong-station", reply)
    for c in result.criteria:
        if c.applicable:
            assert c.points <= 0.1 * c.max, (c.id, c.points)
    assert "empathy" not in names("late-parcel-wrong-station", "非常抱歉!理解您的心情…您看这样可以吗?")


@pytest.mark.parametrize("sc_id, reply", [
    # a perspective-taking formula piled on apologies names nothing of this buyer's problem
    ("refund-stuck-warehouse", "陈小姐,我特别特别理解您,换成是我我也会很着急很生气,真的,您的心情我完全能感同身受,"
                               "非常非常抱歉,真的非常抱歉,再次向您表示最诚挚的歉意。"),
    # a chanted keyword ("价保价保价保") earns nothing, said twice it counts once
    ("double11-price-protection", "价保价保价保!退差退差!亲亲我们最讲诚信啦~双11快乐~⭐⭐⭐⭐⭐"),
])
def test_stock_formulas_and_chants_earn_at_most_a_tenth(sc_id, reply):
    for c in score_reply(sc_id, reply).criteria:
        if c.applicable:
            assert c.points <= 0.1 * c.max, (c.id, c.points)


def test_the_perspective_formula_with_the_buyers_situation_is_still_empathy():
    reply = "衣服寄回去四天了钱还没到,换成是我也会着急,我现在就让仓库加急拆包,今天18点前给您退款。"
    assert "empathy" in names("refund-stuck-warehouse", reply)


@pytest.mark.parametrize("sc_id, reply", [
    ("refund-no-return-asset-loss", "私下转账这个真不行,钱只能走平台。"),
    ("refund-no-return-asset-loss", "我们不会让您往任何银行卡、微信、支付宝转钱。"),
    ("off-platform-payment", "不能加微信,也不能私下转账。"),
])
def test_a_refusal_of_a_forbidden_act_is_compliance(sc_id, reply):
    found = names(sc_id, reply)
    assert not found & {"breach", "privacy_breach", "off_platform_payment"}, found
    assert share(score_reply(sc_id, reply), "compliance") == 1.0


@pytest.mark.parametrize("sc_id, reply, signal", [
    ("privacy-other-order", "确实不是寄到您家,是寄到上海的一位女士。", "privacy_breach"),
    ("bad-review-threat", "您别发小红书、删掉帖子,我们私下赔您十倍。", "breach"),
    ("claim-hunter-absolute-words", "我们承认违法,按十倍赔偿给您。", "breach"),
])
def test_real_breaches_lose_compliance(sc_id, reply, signal):
    assert signal in names(sc_id, reply)
    assert share(score_reply(sc_id, reply), "compliance") == 0.0


def test_an_over_promise_in_other_words_is_caught_and_is_no_time_commitment():
    found = names("late-parcel-wrong-station", "我保证明天一定送到…直接全额退款给您,鞋也不用退啦。")
    assert "over_promise" in found and "time_commitment" not in found


@pytest.mark.parametrize("reply", ["赔您十 倍。", "赔您十\u200b倍。", "賠您十倍。"])
def test_an_inserted_character_does_not_defeat_a_cue(reply):
    assert "over_promise" in names("claim-hunter-absolute-words", reply)


def test_amounts_are_compared_with_the_scenario_limit():
    assert "over_promise" in names("refund-stuck-warehouse", "我直接给您补偿一百元现金。")
    assert "over_promise" not in names("refund-stuck-warehouse", "给您申请一张10元无门槛券作为补偿。")


def test_a_statement_is_not_a_probe_and_a_polite_imperative_is_a_question():
    stall = "核实完了会有专人联系您处理的"
    assert "probe" not in names("late-parcel-wrong-station", stall)
    assert "stalling" in names("late-parcel-wrong-station", stall)
    assert score_reply("late-parcel-wrong-station", stall).criterion("need_tracing").points == 0
    asked = names("bot-handoff-angry", "您说下车型和年份,我帮您对一下。")
    assert {"question", "probe"} <= asked


def test_a_choice_between_plans_is_a_consensus_check():
    assert "consensus_check" in names("claim-hunter-absolute-words", "您看是先把退货给您开起来,还是等法务答复后一起处理?")


@pytest.mark.parametrize("sc_id, reply", [
    ("apparel-size", "两条路:今天安排上门取件换L码,或者您留着这条、我补一张15元券。您想选哪种?"),
    ("late-parcel-wrong-station", "我可以让网点今天改派到家,也可以改放到您公司楼下的驿站,您看哪个方便?"),
    ("bad-review-threat", "补发一只新杯子配新礼盒,或者在权限内补您20元再寄个新礼盒,您比较倾向哪个?"),
])
def test_asking_which_of_the_offered_plans_she_wants_is_a_consensus_check(sc_id, reply):
    assert "consensus_check" in names(sc_id, reply)


@pytest.mark.parametrize("sc_id, reply", [
    # which-questions about her facts, not a pick between plans
    ("late-parcel-wrong-station", "我这就联系网点改派。您收货地址是城西哪个小区?"),
    ("apparel-size", "您平时穿哪个码?"),
])
def test_a_which_question_about_her_facts_is_no_consensus_check(sc_id, reply):
    assert "consensus_check" not in names(sc_id, reply)


@pytest.mark.parametrize("sc_id, reply", [
    ("late-parcel-wrong-station", "包裹卡了三天没人管,这是我们跟进不到位。"),
    ("fruit-store-phone-complaint", "这事本来就该我们来管,店员当众那样说是她错了。"),
    ("bad-review-threat", "给妈妈的寿礼出了这种状况,实在对不住。"),
    ("bot-handoff-angry", "Sorry, that was totally our fault — the bot should have handed you over."),
    ("off-platform-payment", "知道您是好意,想给双方都省点手续费。"),
])
def test_ownership_and_validation_in_other_words_are_empathy(sc_id, reply):
    assert "empathy" in names(sc_id, reply)


def test_telling_her_she_is_not_unreasonable_is_no_arguing():
    got = names("privacy-other-order", "我听得出来您心里很难受,您不是在无理取闹。")
    assert "arguing" not in got and "empathy" in got
    assert "arguing" in names("privacy-other-order", "您这就有点无理取闹了。")


@pytest.mark.parametrize("sc_id, reply", [
    ("off-platform-payment", "您想私下转账,主要是为了价格,还是公司报销开票有要求?"),
    ("privacy-other-order", "您是想知道收件人是谁,还是担心别的事?"),
])
def test_asking_why_she_wants_a_forbidden_thing_is_no_breach(sc_id, reply):
    assert not names(sc_id, reply) & {"breach", "off_platform_payment", "privacy_breach"}


@pytest.mark.parametrize("reply", ["您想加微信吗?我加您。", "您想私下转账的话也可以,我发您卡号。"])
def test_offering_a_forbidden_thing_as_a_question_or_a_condition_is_still_a_breach(reply):
    assert names("off-platform-payment", reply) & {"breach", "off_platform_payment"}


def test_qin_greets_once():
    assert "greeting" in names("late-parcel-wrong-station", "亲,我马上帮您查。")
    assert "greeting" not in names("late-parcel-wrong-station", "亲,我马上帮您查。", history=("亲,您好。",))


def test_the_same_stock_phrase_earns_once_per_conversation():
    first = "非常抱歉让您久等了,我马上联系网点改派。"
    assert "apology" in names("late-parcel-wrong-station", first)
    assert "apology" not in names("late-parcel-wrong-station", "非常抱歉让您久等了,我再催一下网点。", history=(first,))


def test_blame_and_stalling_in_other_words():
    assert "blame_shifting" in names("late-parcel-wrong-station", "物流的情况我们也没法控制,快递公司那边比较忙。")
    found = names("late-parcel-wrong-station", "请您耐心等待。")
    assert "stalling" in found and not found & {"empathy", "solution", "follow_up"}
    # a wait with a concrete action and a time is not stalling
    assert "stalling" not in names("late-parcel-wrong-station", "请稍等,我现在就打给网点,十分钟内回复您。")


def test_traditional_characters_read_like_simplified():
    assert {"question", "probe"} <= names("late-parcel-wrong-station", "請問快遞員之前有沒有給您打過電話?")


def test_evidence_quotes_the_original_text():
    sig = read_reply("我们认\u200b赔,按十 倍赔您。", ReplyContext(load_scenario("claim-hunter-absolute-words")))
    for span in sig.spans:
        assert span.quote in "我们认\u200b赔,按十 倍赔您。"


# -- the LLM reader, against a real server on 127.0.0.1 -------------------------------------------
def _config(url: str, exam: bool = True) -> LLMConfig:
    return LLMConfig(model="fake-reader", base_url=url, exam=exam, max_retries=0, timeout_s=10)


def _answer(signals: list[dict], facts: list[str] = ()) -> tuple:
    return ("ok", json.dumps({"signals": signals, "probed_facts": list(facts)}, ensure_ascii=False))


def test_llm_reader_reads_the_same_signals_and_checks_quotes():
    sc = load_scenario("late-parcel-wrong-station")
    reply = "三天没动静确实急人,我现在联系网点改派,今天下午四点前回复您,这样行吗?"
    with FakeLLM() as fake:
        fake.actions.append(_answer([
            {"signal": "empathy", "quote": "三天没动静确实急人"},
            {"signal": "solution", "quote": "我现在联系网点改派", "detail": "reroute_today"},
            {"signal": "time_commitment", "quote": "今天下午四点前回复您"},
            {"signal": "consensus_check", "quote": "这样行吗"},
            {"signal": "breach", "quote": "加我微信"},  # not in the reply: dropped
        ]))
        reader = LLMReader(_config(fake.base_url))
        ctx = ReplyContext(sc, buyer_message="东西呢?")
        sig = reader(reply, ctx)
        again = reader(reply, ctx)  # cached by content: no second request
        assert len(fake.requests) == 1
        body = fake.requests[0]
        assert body["temperature"] == 0 and "seed" in body  # exam mode is deterministic
    got = {s.signal.value for s in sig.spans}
    assert {"empathy", "solution", "time_commitment", "consensus_check"} <= got and "breach" not in got
    assert sig.resolutions == {"reroute_today"} and again == sig
    assert any("quote is not in the reply" in n for n in sig.notes)
    # the rubric takes the reader and does not know which one spoke
    assert score_reply(sc, reply, reader=lambda r, c: sig).criterion("consensus_solution").points > 0


@pytest.mark.parametrize("action", [("status", 500), ("malformed",), ("ok", "我觉得这条回复不错")])
def test_llm_reader_falls_back_to_rules_on_any_failure(action):
    sc = load_scenario("late-parcel-wrong-station")
    reply = "我现在联系网点改派,今天下午四点前回复您。"
    with FakeLLM() as fake:
        fake.actions.append(action)
        sig = LLMReader(_config(fake.base_url))(reply, ReplyContext(sc))
    rules = read_reply(reply, ReplyContext(sc))
    assert sig.spans == rules.spans and sig.resolutions == rules.resolutions
    assert any("fell back to rules" in n for n in sig.notes)


def test_reader_named_rules_is_the_offline_default():
    assert reader_named("rules") is read_reply


@pytest.mark.parametrize("think", ["full", "close_only"])
def test_llm_reader_reads_past_reasoning_and_adapts_to_a_server_that_refuses_max_tokens(think):
    """The reader talks through shifu.llm.client: a model that thinks aloud in `content` (the JSON in its
    reasoning must not be taken) and a server that wants max_completion_tokens still give the model's reading."""
    sc = load_scenario("late-parcel-wrong-station")
    reply = "三天没动静确实急人,我现在联系网点改派。"
    with FakeLLM(think=think, quirks={"max_completion_tokens"},
                 reasoning='先想想 {"signals": [{"signal": "breach", "quote": "三天"}]} 不对') as fake:
        fake.actions.append(_answer([{"signal": "empathy", "quote": "三天没动静确实急人"}]))
        sig = LLMReader(_config(fake.base_url))(reply, ReplyContext(sc))
    got = {s.signal.value for s in sig.spans}
    assert "empathy" in got and "breach" not in got
    assert not any("fell back to rules" in n for n in sig.notes)


def test_engine_and_rubric_read_with_the_same_active_reader(monkeypatch):
    """SHIFU_READER picks one reader for both: the buyer's mood and the points come from the same reading."""
    from shifu.reading import readers
    from shifu.roleplay.engine import Engine

    seen: list[str] = []

    def spy(reply, ctx):
        seen.append(reply)
        return read_reply(reply, ctx)

    monkeypatch.setattr(readers, "active", lambda: spy)
    eng = Engine(load_scenario("late-parcel-wrong-station"), seed=0)
    eng.opening()
    eng.respond("请问包裹显示在哪个驿站?")
    score_reply(load_scenario("late-parcel-wrong-station"), "我现在联系网点改派。")
    assert seen == ["请问包裹显示在哪个驿站?", "我现在联系网点改派。"]


def test_casual_chat_with_spaces_is_talk_not_a_keyword_list():
    reply = "姐 孩子没事吧?先别急 钱我今天全退给你 三盒一起 塑料片顺丰到付寄回来 品控3个工作日出结果 我第一时间发你"
    sig = read_reply(reply, ReplyContext(load_scenario("double11-food-complaint"), buyer_message=""))
    assert not sig.of(Signal.stuffing), sig.of(Signal.stuffing)
    listed = "顺丰加急 补发 新礼盒 周五前送到 运费我们承担 您看可以吗"
    assert read_reply(listed, ReplyContext(load_scenario("bad-review-threat"), buyer_message="")).of(Signal.stuffing)


def test_restating_the_buyers_claim_is_not_admitting_it():
    reply = ("赵先生您好,您的诉求我复述一下:您指出详情页有「最健康」的用语,要求按退一赔十处理。我理解得对吗?")
    assert "breach" not in names("claim-hunter-absolute-words", reply)
    assert "breach" in names("claim-hunter-absolute-words", "好的,我们同意按退一赔十处理。")


def test_asking_whether_the_plan_helps_is_a_consensus_check():
    reply = "如果您要走法律途径,我把需要准备的材料清单整理好,今天之内发到这个对话里。您看这样对您有帮助吗?"
    assert "consensus_check" in names("privacy-other-order", reply)


def test_an_embedded_question_is_no_question():
    statement = "网点说今天下午两点那一趟可以改到您的地址,我已经让他们改了,两点半前我再跟您确认一次有没有出车。"
    assert "question" not in names("late-parcel-wrong-station", statement)
    assert "question" in names("late-parcel-wrong-station", "您收到驿站的取件码没有?")
