"""The notebook chat widget, driven from Python the way the buttons drive it."""
from __future__ import annotations

import json

import pytest

from engine_helpers import scenario
from shifu.roleplay import widget as widget_mod
from shifu.roleplay.engine import Engine
from shifu.reading.signals import Signals, Span, read_reply
from shifu.roleplay.transcript import read_transcript
from shifu.reading.vocab import Signal
from shifu.roleplay.widget import RoleplayWidget, roleplay

SID = "late-parcel-wrong-station"
GOOD = [
    "亲,您好,我是跑者之家的客服小林。特别理解您的着急,实在抱歉让您久等了。我马上帮您查,想先确认一下:您有没有接到快递员的电话,或者驿站的取件通知?",
    "原来是被错分到城东驿站了,这是我们没跟进好,真的很抱歉。我想再问一下,您最晚哪天需要拿到这双鞋?我按您的时间来安排。",
    "明白了,您周六一早比赛,周五晚上前必须拿到。我现在就联系快递网点,让城东驿站改派送到您家,今天下午3点前给您回复改派结果;如果改派不成,今天就用顺丰加急给您补发一双。另外给您发一张10元无门槛优惠券表示歉意。您看这样处理可以吗?",
]


@pytest.fixture(autouse=True)
def schema_only_scenarios(monkeypatch):
    """Widget tests exercise the widget, not the rubric files the full scenario check also reads."""
    monkeypatch.setattr(widget_mod, "load_scenario", scenario)
    monkeypatch.setattr("shifu.roleplay.engine.load_scenario", scenario)


def bubbles(w: RoleplayWidget) -> list[str]:
    return [c.value for c in w.chat.children]


def test_send_clicks_play_a_whole_conversation(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path), trainee="xiaolin")
    assert len(w.chat.children) == 1 and "shifu-buyer" in bubbles(w)[0]
    mood0 = w.mood.value
    for reply in GOOD:
        w.box.value = reply
        w.send_button.click()
        assert w.box.value == ""
    assert len(w.chat.children) == 1 + 2 * len(GOOD)
    assert w.mood.value > mood0 and w.engine.state.outcome == "resolved"
    assert w.send_button.disabled and w.box.disabled, "a finished conversation takes no more replies"
    assert "✓ 问出了" in w.debrief_view.value and "✗" not in w.debrief_view.value
    assert "方案:" in w.debrief_view.value and "reroute_today" not in w.debrief_view.value, "the remedy in words, not its id"
    t = read_transcript(tmp_path / f"{SID}.jsonl")
    assert t.session.trainee == "xiaolin" and t.replies == GOOD and t.end.outcome == "resolved"
    assert all(r.latency_s is not None and r.latency_s >= 0 for r in t.trainee_turns()), "latency measured in the kernel"


def test_finish_shows_what_was_missed_and_saves(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    w.box.value = GOOD[0]
    w.send_button.click()
    w.finish_button.click()
    assert "✓ 问出了" in w.debrief_view.value and "✗ 没问出" in w.debrief_view.value
    assert SID + ".jsonl" in w.debrief_view.value
    last = json.loads((tmp_path / f"{SID}.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["type"] == "end" and last["outcome"] == "abandoned" and last["facts_revealed"] == ["wrong_station"]


def test_a_failed_send_keeps_the_text(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))

    def broken(reply, ctx):
        raise RuntimeError("reader down")

    w.engine._read = broken
    w.box.value = "这句话不能丢"
    w.send_button.click()
    assert w.box.value == "这句话不能丢" and "发送失败" in w.status.value
    assert len(w.chat.children) == 1 and not w.send_button.disabled
    w.engine._read = read_reply
    w.send_button.click()
    assert w.box.value == "" and read_transcript(tmp_path / f"{SID}.jsonl").replies == ["这句话不能丢"]


def test_an_empty_send_does_nothing(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    w.box.value = "   "
    w.send_button.click()
    assert len(w.chat.children) == 1 and w.engine.state.turn == 0


def test_reopening_resumes_an_unfinished_conversation(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    w.send(GOOD[0])
    again = roleplay(SID, transcript_dir=str(tmp_path))
    assert again.engine.state.turn == 1 and bubbles(again)[:-1] == bubbles(w) and "还没聊完" in bubbles(again)[-1]
    again.send(GOOD[1])
    assert read_transcript(tmp_path / f"{SID}.jsonl").replies == GOOD[:2]


def test_running_the_cell_again_shows_a_finished_conversation_untouched(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    for reply in GOOD:
        w.send(reply)
    assert w.engine.state.outcome == "resolved"
    before = (tmp_path / f"{SID}.jsonl").read_bytes()
    again = roleplay(SID, transcript_dir=str(tmp_path))  # Restart Kernel and Run All
    assert (tmp_path / f"{SID}.jsonl").read_bytes() == before and not (tmp_path / f"{SID}.1.jsonl").exists()
    shown = bubbles(again)
    assert all(any(reply in b for b in shown) for reply in GOOD) and "之前的对话" in shown[-1]
    assert again.send_button.disabled and again.box.disabled and "问题解决" in again.debrief_view.value
    assert again.send("还能再发吗") is None and (tmp_path / f"{SID}.jsonl").read_bytes() == before


def test_a_new_attempt_keeps_the_old_one_and_the_trainee_picks_what_to_hand_in(tmp_path):
    from shifu.roleplay.attempts import hand_in

    w = roleplay(SID, transcript_dir=str(tmp_path))
    assert w.new_button.layout.display == "none", "nothing to keep before the first reply"
    for reply in GOOD:
        w.send(reply)
    w.new_button.click()
    assert w.engine.state.turn == 0 and len(w.chat.children) == 1 and not w.send_button.disabled
    kept = read_transcript(tmp_path / f"{SID}.1.jsonl")
    assert kept.replies == GOOD and kept.end.outcome == "resolved"
    w.send(GOOD[0])
    # default: the newest finished attempt is handed in, not the unfinished new one
    assert hand_in(tmp_path, f"{SID}.jsonl").name == f"{SID}.1.jsonl"
    assert [v for _, v in w.hand_in.options] == [f"{SID}.1.jsonl", f"{SID}.jsonl"] and w.hand_in.value == f"{SID}.1.jsonl"
    w.hand_in.value = f"{SID}.jsonl"
    assert hand_in(tmp_path, f"{SID}.jsonl").name == f"{SID}.jsonl"
    # re-running the cell resumes the unfinished attempt and keeps the choice
    again = roleplay(SID, transcript_dir=str(tmp_path))
    assert again.engine.state.turn == 1 and again.hand_in.value == f"{SID}.jsonl"
    again.new_button.click()  # the choice follows the file it named
    assert hand_in(tmp_path, f"{SID}.jsonl").name == f"{SID}.2.jsonl"
    second = read_transcript(tmp_path / f"{SID}.2.jsonl")
    assert second.replies == [GOOD[0]] and second.end is None, "set aside as it was, not closed"
    (tmp_path / f"{SID}.handin.json").unlink()
    assert hand_in(tmp_path, f"{SID}.jsonl").name == f"{SID}.1.jsonl", "default: the newest finished attempt"


def test_an_unreadable_transcript_is_kept_and_said(tmp_path):
    (tmp_path / f"{SID}.jsonl").write_text("not json at all\n", encoding="utf-8")
    w = roleplay(SID, transcript_dir=str(tmp_path))
    assert (tmp_path / f"{SID}.1.jsonl").read_text(encoding="utf-8") == "not json at all\n"
    assert any(f"{SID}.1.jsonl" in b for b in bubbles(w)) and w.engine.state.turn == 0


def test_enter_in_the_box_sends(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    w.box._message(w.box, {"event": "send", "text": GOOD[0]}, [])  # what the browser sends on Enter
    assert w.engine.state.turn == 1 and w.box.value == ""


def test_the_first_reply_does_not_count_the_time_to_read_the_order_card(tmp_path):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    assert 10 <= w.reading_s <= 45 and w.timer.running and w.timer.delay_ms == round(w.reading_s * 1000)
    w.engine._buyer_done_at -= w.reading_s + 3  # the trainee read the card, then took 3 s to reply
    w.send(GOOD[0])
    latency = read_transcript(tmp_path / f"{SID}.jsonl").trainee_turns()[0].latency_s
    assert 3 <= latency < 10
    assert w.timer.running and w.timer.delay_ms == 0, "later replies are timed from the buyer's line"


def test_streamed_text_updates_the_buyer_bubble(tmp_path):
    class Typing:
        name = "scripted"

        def speak(self, request, on_text=None):
            from shifu.roleplay.voices import Utterance

            text = "你们到底什么时候发?"
            seen = []
            for i in range(1, len(text) + 1):
                if on_text:
                    on_text(text[:i])
                seen.append(bubble_now())
            Typing.seen = seen
            return Utterance(text=text, backend="scripted")

    def reader(reply, ctx):
        return Signals(spans=(Span(Signal.empathy, "x", 0, 1),), substance=0.9)

    eng = Engine(scenario(SID), backend=Typing(), transcript_path=tmp_path / "t.jsonl", reader=reader)
    holder = {}

    def bubble_now():
        return holder["w"].chat.children[-1].value if "w" in holder else ""

    w = RoleplayWidget.__new__(RoleplayWidget)
    holder["w"] = w
    RoleplayWidget.__init__(w, eng, tmp_path / "t.jsonl")
    w.send("理解您着急")
    partial = [s for s in Typing.seen if "你们到底" in s]
    assert len(partial) >= 2 and any("你们到底什么时候发?" not in s for s in partial), "the bubble grew while the line streamed"


def test_broken_llm_settings_still_let_the_trainee_practise(tmp_path, monkeypatch):
    for name in ("SHIFU_LLM_MODEL", "SHIFU_LLM_BASE_URL", "SHIFU_LLM_API_KEY", "OPENAI_API_KEY", "SHIFU_LLM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("shifu.llm.config.course_config_path", lambda: tmp_path / "none.yaml")
    w = roleplay(SID, transcript_dir=str(tmp_path), backend="openai")
    assert w.engine.backend_name == "scripted"
    assert any("离线剧本" in b and "SHIFU_LLM_MODEL" in b for b in bubbles(w))
    w.send(GOOD[0])
    assert w.engine.state.turn == 1
