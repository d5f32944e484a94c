"""Formulaic fluff is stock (issue 14: "a stock-phrase-only reply earns at most 10% of any criterion's points").

Each class of formula (grader/phrases.yaml `stock_patterns`) is tested both ways with replies written for this
file: the formula alone earns at most 10% of every criterion (shifu.reading.rubric.score_reply), and a genuine
reply that wears the same surface (a welcome, a cute address, "已经记录下来了") still earns for what it does.
"""
from __future__ import annotations

import pytest

from shifu.reading.rubric import score_reply
from shifu.reading.signals import ReplyContext, Signals, read_reply
from shifu.roleplay.scenario import load_scenario

LATE = "late-parcel-wrong-station"
SIZE = "apparel-size"
LIVE = "live-stream-coupon"
BUYER = {
    LATE: "你们这什么快递啊?三天了物流一动不动!我周六要用的!",
    SIZE: "在吗,M码勒腰,能换大一码不?",
    LIVE: "券根本没用上!",
}
STOCK_SHARE = 0.10  # issue 14: the most of any criterion a stock-only reply may earn


def read(scenario: str, text: str) -> Signals:
    return read_reply(text, ReplyContext(load_scenario(scenario), buyer_message=BUYER[scenario]))


def shares(scenario: str, text: str) -> dict[str, float]:
    """Share of each applicable criterion's points the reply earns, by criterion id."""
    result = score_reply(scenario, text, buyer=BUYER[scenario])
    return {c.id: c.points / c.max for c in result.criteria if c.applicable and c.max > 0}


FLUFF = [
    # cute-speak: address, self-reference, affection, particles — nothing about her coupon
    ("cute-affection", LIVE, "宝子们别难过呀~小二超心疼你们哒~抱抱~么么~"),
    ("cute-wait", LIVE, "亲亲宝子~小主播爱你哟~比心比心~宝子耐心等一下哦~"),
    # a welcome, thanks for choosing us, the shop's slogans
    ("welcome-slogans", LIVE, "欢迎来到织夏女装旗舰店~感谢亲选择织夏~我们家卫衣精工细作品质有保障哦~领券下单超划算~"),
    # made-up urgency
    ("urgency", SIZE, "亲~这款库存告急~明天就恢复原价~手慢无~赶紧拍下哦~"),
    # corporate boilerplate
    ("corporate", LATE, "您好,对于您提出的问题我们高度重视,我们一直致力于提升服务品质,会认真对待您的意见,积极处理,"
                        "还请您多多谅解,欢迎随时咨询。"),
    ("corporate-follow-up", LATE, "感谢您的宝贵意见,给您造成的困扰深表歉意,我们会第一时间处理,积极跟进,"
                                  "努力为您提供满意的处理结果,您的满意是我们最大的动力。"),
    # received / recorded / applying for a plan / please wait, with no step and no time
    ("recorded-applying", LATE, "亲,您的情况我这边已经登记下来了,会为您争取一个处理方案,请稍候片刻~"),
    # a vague remedy inside a stalling sentence, then "many factors" and "please forgive us"
    ("vague-remedy", LATE, "正常情况下我们会尽快安排补发的,到货时间受快递运力等多种因素影响,请您谅解。"),
    # the law-abiding company, the department it will report to, news "in due course", the process takes time
    ("compliance-boilerplate", LATE, "您好,我们一直严格遵守国家相关法律法规,每个环节都有严格把关,您的情况会向相关部门反映,"
                                     "后续有最新进展会第一时间通知您,感谢您的监督,处理需要一定的流程和时间。"),
    # the payment nag, said twice
    ("payment-nag", SIZE, "亲,订单还没付款哦~亲,记得付款哦~感谢亲的支持~"),
    # the same formulas in English
    ("english-boilerplate", LATE, "We apologize for any inconvenience. Your satisfaction is our top priority, "
                                  "please rest assured we will do our best. Have a nice day!"),
]


@pytest.mark.parametrize("scenario,text", [pytest.param(s, t, id=i) for i, s, t in FLUFF])
def test_formulaic_fluff_earns_at_most_a_tenth_of_any_criterion(scenario, text):
    got = shares(scenario, text)
    assert got and all(v <= STOCK_SHARE for v in got.values()), got
    assert read(scenario, text).substance == 0


@pytest.mark.parametrize("scenario,text", [pytest.param(s, t, id=i) for i, s, t in FLUFF[:5]])
def test_formulaic_fluff_is_read_as_stock_phrases_only(scenario, text):
    assert "stock phrases only" in read(scenario, text).notes


def test_cute_speak_carries_no_empathy():
    for text in ("宝子们别难过呀~小二超心疼你们哒~抱抱~么么~", "呜呜宝宝心疼死了~超爱你们~么么哒~"):
        assert "empathy" not in {sp.signal.value for sp in read(LIVE, text).spans}


@pytest.mark.parametrize("text", [
    # "积极跟进" reads as follow-up, but here it is part of the formula, around a restated problem
    "关于您反馈的物流三天没更新的问题,我们高度重视,会认真对待您的反馈,积极跟进,也希望您能够理解和支持我们的工作。",
    # passing the problem on is an act that changes nothing for her
    "亲,已经帮您反馈给网点了,我们一直非常注重服务体验,感谢您的理解和支持~",
], ids=["follow-up-in-a-formula", "passing-it-on"])
def test_a_mostly_stock_reply_is_not_lifted_by_a_formula_or_an_empty_act(text):
    s = read(LATE, text)
    assert "stock phrases only" in s.notes
    assert all(v <= STOCK_SHARE for v in shares(LATE, text).values())


def test_urgency_made_up_is_stock_and_still_an_over_promise():
    """A stock-only reply keeps its negative signals: the made-up urgency still costs what it costs."""
    s = read(SIZE, "亲~这款库存告急~明天就恢复原价~手慢无~赶紧拍下哦~")
    assert "stock phrases only" in s.notes
    assert "over_promise" in {sp.signal.value for sp in s.spans}


def test_a_vague_remedy_in_a_stalling_sentence_is_no_solution():
    s = read(LATE, "正常情况下我们会尽快安排补发的,到货时间受快递运力等多种因素影响,请您谅解。")
    assert not s.resolutions and "solution" not in {sp.signal.value for sp in s.spans}
    assert "stalling" in {sp.signal.value for sp in s.spans}


# The same surfaces around a real step: each still earns (criterion id -> least share it must earn).
GENUINE = [
    ("cute-address-real-refund", LIVE,
     "亲亲,蹲了一晚上券没用上确实气人~我这就给您申请退款,您重新拍下用券,今天18点前帮您盯着到账,您看可以吗?",
     {"de_escalation": 0.3, "consensus_solution": 0.5}),
    ("cute-words-real-reroute", LATE, "宝子别急,周六要穿的鞋我心里有数:我这就打给网点改派到家,今天18点前给您准信,抱抱~",
     {"consensus_solution": 0.5}),
    ("welcome-real-exchange", SIZE,
     "欢迎光临简行男装旗舰店~M码勒腰的话换L码正合适,我这就给您登记换成L码,今天下午发出,您看可以吗?",
     {"consensus_solution": 0.5}),
    ("scarce-stock-real-hold", SIZE, "L码现在只剩最后两件了,我先给您留一件,今天下午发顺丰,您看行吗?",
     {"consensus_solution": 0.5}),
    ("high-priority-real-step", LATE,
     "三天没更新确实让您着急,这事我们高度重视:我这就联系网点改派到您家,今天18点前回复您结果,您看可以吗?",
     {"de_escalation": 0.3, "consensus_solution": 0.5}),
    ("recorded-real-step", LATE, "您的问题我已经记录下来了,我这就联系网点改派,今天18点前给您回电话,您看可以吗?",
     {"consensus_solution": 0.5}),
    ("soon-with-a-real-reship", LATE, "我会尽快给您补发一双新的,今天下午顺丰发出,单号晚上发您。",
     {"consensus_solution": 0.5}),
    ("plain-words", LATE, "三天没动确实急人。我现在打给网点,让他们今天改派到您家,18点前告诉您结果。",
     {"de_escalation": 0.3, "consensus_solution": 0.5}),
    ("hurry-up-a-photo", LATE, "您赶紧拍张面单照片发我,我这就联系网点改派到您家,今天18点前回复您。",
     {"consensus_solution": 0.5}),
    ("dont-worry-real-exchange", SIZE, "不用担心退货运费,我这就给您登记换成L码,今天下午上门取件,您看可以吗?",
     {"consensus_solution": 0.5}),
    ("usually-then-a-real-step", LATE,
     "关于您说的周六要穿这个事,我心里有数:一般情况下网点当天能改派,我这就打电话让他们今天送到您家,18点前给您准信。",
     {"consensus_solution": 0.5}),
    ("news-in-due-course-real-step", LATE,
     "我现在就打给网点,让他们今天把鞋改派到您家,有进展第一时间通知您,最晚18点前给您准信。",
     {"consensus_solution": 0.5}),
    ("unpaid-then-a-real-question", SIZE, "看到您订单还没付款,是M码和L码拿不准吗?您身高体重大概多少,我帮您对一下尺码表。",
     {"need_tracing": 0.15, "compliance": 0.9}),
    ("english-plain", LATE, "Sorry about the wait. I'll call the depot now to have it rerouted to your home and "
                            "update you by 6 pm today. Does that work?",
     {"de_escalation": 0.3, "consensus_solution": 0.5}),
]


@pytest.mark.parametrize("scenario,text,earns", [pytest.param(s, t, e, id=i) for i, s, t, e in GENUINE])
def test_a_genuine_reply_with_the_same_surface_still_earns(scenario, text, earns):
    s = read(scenario, text)
    assert "stock phrases only" not in s.notes and s.substance > 0.5
    got = shares(scenario, text)
    for cid, least in earns.items():
        assert got[cid] >= least, (cid, got)
