"""Replies in traditional script read the same as in simplified script (shifu.reading.traditional,
grader/traditional.yaml): the same Signals, the same points, the evidence quoted as the trainee wrote it.

Character by character, 回覆/答覆, 著急, 盯著 and the Taiwanese 連結/影片/聯絡/資訊 never meet the simplified
word lists; the replies below were written by hand in Taiwanese and Hong Kong usage, across scenarios.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shifu.content.errors import ShifuError
from shifu.reading.phrases import normalize_map, to_simplified
from shifu.reading.rubric import score_reply
from shifu.reading.signals import ReplyContext, Signals, read_reply
from shifu.roleplay.scenario import load_scenario

# (id, scenario, buyer, simplified reply, the same reply written in traditional script)
PAIRS = [
    ("tw-late-parcel", "late-parcel-wrong-station", "你们这什么快递啊?三天了物流一动不动!我周六要用的!",
     "王女士,三天没动静确实让您着急了,是我们没跟好。我这就联系网点改派,今天18点前答复您;您是周六几点要用?",
     "王女士,三天沒動靜確實讓您著急了,是我們沒跟好。我這就聯絡網點改派,今天18點前答覆您;您是週六幾點要用?"),
    ("tw-demo-video", "unpaid-order-follow-up", "别催了,我还在看,没想好呢。",
     "不着急,您慢慢看。家里是养猫还是养狗?我把地毯上吸猫毛的实测视频发您,看完再决定,这样可以吗?",
     "不著急,您慢慢看。家裡是養貓還是養狗?我把地毯上吸貓毛的實測影片發您,看完再決定,這樣可以嗎?"),
    ("hk-refund-stuck", "refund-stuck-warehouse", "我第三次来问了!衣服都寄回去多少天了,钱呢?",
     "问了三次还没到账,换谁都着急。我刚让仓库组长今天加急拆包,拆包后钱原路退回,今晚8点前我回复您进度。您是等着这笔钱重拍吗?",
     "問了三次還沒到賬,換誰都着急。我剛讓倉庫組長今天加急拆包,拆包後錢原路退回,今晚8點前我回覆您進度。您是等着這筆錢重拍嗎?"),
    ("tw-platform-only", "off-platform-payment", "你好,我们公司年会要50个保温杯,能便宜点吗?加个微信聊吧,我直接转账给你们。",
     "周经理您好,为了您的资金安全,我们只在天猫平台内完成交易。50个我给您改价到95折,合计5985,在天猫拍下就行;需要开增值税专用发票吗?",
     "周經理您好,為了您的資金安全,我們只在天貓平臺內完成交易。50個我給您改價到95折,合計5985,在天貓拍下就行;需要開增值稅專用發票嗎?"),
    ("tw-food-complaint", "double11-food-complaint", "排了半小时终于有人了!你们饼干里有塑料片,我女儿差点吃下去!",
     "孩子差点吃下去,您一定吓坏了。塑料片和包装袋请先留着,我今天把同批次排查提给品控,3个工作日内把调查结果回复您;孩子现在没事吧?",
     "孩子差點吃下去,您一定嚇壞了。塑膠片和包裝袋請先留著,我今天把同批次排查提給品控,3個工作日內把調查結果回覆您;孩子現在沒事吧?"),
    ("tw-privacy", "privacy-other-order", "客服,这个订单寄到哪了?把收件人电话给我一下,我联系快递。",
     "温女士,您这么着急,心里一定压着事。这个订单的收件信息我不能透露,这是个人信息。您最想了解的是什么?",
     "溫女士,您這麼著急,心裡一定壓著事。這個訂單的收件資訊我不能透露,這是個人資訊。您最想瞭解的是什麼?"),
]


def _reading(sig: Signals) -> tuple:
    return ({sp.signal.value for sp in sig.spans}, sig.resolutions, sig.probed_facts, sig.policies_correct,
            sig.policies_wrong, sig.forbidden_offers, sig.substance)


def _read(scenario: str, buyer: str, text: str) -> Signals:
    return read_reply(text, ReplyContext(load_scenario(scenario), buyer_message=buyer))


@pytest.mark.parametrize("scenario,buyer,simplified,traditional", [pytest.param(*p[1:], id=p[0]) for p in PAIRS])
def test_a_reply_in_traditional_script_reads_like_the_simplified_one(scenario, buyer, simplified, traditional):
    assert _reading(_read(scenario, buyer, traditional)) == _reading(_read(scenario, buyer, simplified))
    assert score_reply(scenario, traditional, buyer=buyer).total == score_reply(scenario, simplified, buyer=buyer).total


@pytest.mark.parametrize("config", ["s2t", "s2tw", "s2hk", "s2twp"])
def test_the_replies_converted_by_opencc_read_the_same(config):
    """The same replies as OpenCC writes them for Taiwan (with its phrases: 視訊, 資訊) and Hong Kong."""
    opencc = pytest.importorskip("opencc")
    convert = opencc.OpenCC(config).convert
    for _, scenario, buyer, simplified, _ in PAIRS:
        assert _reading(_read(scenario, buyer, convert(simplified))) == _reading(_read(scenario, buyer, simplified)), \
            convert(simplified)


@pytest.mark.parametrize("text,signal", [
    ("這是快遞的問題,跟我們沒關係。", "blame_shifting"),
    ("週五前保證送到,您放一百個心。", "over_promise"),
    ("加個微信吧,我私下轉您紅包。", "off_platform_payment"),
    ("我也不知道,您自己去問快遞。", "forbidden_phrase"),
], ids=["blame", "over-promise", "off-platform", "forbidden"])
def test_bad_replies_in_traditional_script_are_still_caught(text, signal):
    sig = _read("late-parcel-wrong-station", "你们这什么快递啊?三天了物流一动不动!我周六要用的!", text)
    assert signal in {sp.signal.value for sp in sig.spans}


def test_evidence_is_quoted_as_the_trainee_wrote_it():
    text = "您重新整理一下頁面,連結已經發您了,今天18點前回覆您。"
    sig = _read("late-parcel-wrong-station", "你们这什么快递啊?三天了物流一动不动!我周六要用的!", text)
    follow = [sp for sp in sig.spans if sp.signal.value == "follow_up"]
    assert follow and "回覆您" in follow[0].quote and text[follow[0].start:follow[0].end] == "回覆您"
    norm, where = normalize_map(text)
    assert norm.startswith("您刷新一下页面,链接")
    # a phrase that changed length (重新整理 → 刷新) quotes all of what it replaced
    assert text[where[1]:where[2] + 1] == "重新整理"
    assert where == sorted(where)


def test_a_variant_spelling_in_a_simplified_reply_is_read_too():
    """'回覆' is typed in otherwise simplified replies: OpenCC runs on every reply with Chinese in it."""
    buyer = "你们这什么快递啊?三天了物流一动不动!我周六要用的!"
    variant = _read("late-parcel-wrong-station", buyer, "我这就联系网点改派,今天18点前回覆您,您别著急。")
    plain = _read("late-parcel-wrong-station", buyer, "我这就联系网点改派,今天18点前回复您,您别着急。")
    assert _reading(variant) == _reading(plain)
    assert {"follow_up", "time_commitment"} <= _reading(variant)[0]


def test_a_text_in_simplified_script_is_left_as_written():
    """Taiwan words are only replaced in a reply with a traditional character in it: 影片 and 联络 are simplified
    words too; and the Taiwan converter, which reads a lone 么 as 幺, is not run on simplified text."""
    assert normalize_map("我把影片发您,再联络网点")[0] == "我把影片发您,再联络网点"
    assert normalize_map("今天能到么?您看行么")[0] == "今天能到么?您看行么"
    assert to_simplified("什\u200b么") == "什\u200b么"
    assert normalize_map("我把影片發您,再聯絡網點")[0] == "我把视频发您,再联系网点"


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "grader", tmp_path / "grader")
    monkeypatch.setenv("SHIFU_HOME", str(tmp_path))
    return tmp_path / "grader" / "traditional.yaml"


def test_a_missing_conversion_table_is_reported(tmp_path, monkeypatch):
    _home(tmp_path, monkeypatch).unlink()
    with pytest.raises(ShifuError) as exc:
        normalize_map("今天18點前回覆您")
    assert "traditional.yaml" in str(exc.value) and "fix:" in str(exc.value)


def test_an_unknown_converter_is_reported(tmp_path, monkeypatch):
    pytest.importorskip("opencc")
    path = _home(tmp_path, monkeypatch)
    path.write_text(path.read_text(encoding="utf-8").replace("traditional_converter: tw2s", "traditional_converter: tw2x"), encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        normalize_map("今天18點前回覆您")
    msg = str(exc.value)
    assert "traditional.yaml" in msg and "converter" in msg and "tw2x" in msg
