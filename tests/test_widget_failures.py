"""Every button of the chat widget reports its failure in the status line and can be clicked again."""
from __future__ import annotations

import json

import pytest

from engine_helpers import scenario
from shifu.roleplay import widget as widget_mod
from shifu.roleplay.widget import roleplay

SID = "late-parcel-wrong-station"
REPLY = "亲,您好,特别理解您的着急,请问您有没有接到驿站的取件通知?"


@pytest.fixture(autouse=True)
def schema_only_scenarios(monkeypatch):
    monkeypatch.setattr(widget_mod, "load_scenario", scenario)
    monkeypatch.setattr("shifu.roleplay.engine.load_scenario", scenario)


def test_a_failed_save_is_shown_and_can_be_retried(tmp_path, monkeypatch):
    w = roleplay(SID, transcript_dir=str(tmp_path))
    w.box.value = REPLY
    w.send_button.click()
    real_finish = w.engine.finish
    calls = []

    def disk_full():
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_finish()

    monkeypatch.setattr(w.engine, "finish", disk_full)
    w.box.value = "还没发出去的话"
    w.finish_button.click()
    assert "保存失败" in w.status.value and "No space left on device" in w.status.value
    assert not w.finish_button.disabled and not w.send_button.disabled, "the trainee can try again"
    assert w.box.value == "还没发出去的话", "what was typed is kept"
    assert w.debrief_view.value == ""
    w.finish_button.click()
    assert w.status.value == "" and "✓ 问出了" in w.debrief_view.value and w.finish_button.disabled
    last = json.loads((tmp_path / f"{SID}.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["type"] == "end"


def test_any_failure_in_a_send_click_is_shown(tmp_path, monkeypatch):
    w = roleplay(SID, transcript_dir=str(tmp_path))

    def broken(*a, **kw):
        raise RuntimeError("kernel trouble")

    monkeypatch.setattr(w.engine, "elapsed_since_buyer", broken)  # fails before send()'s own guard
    w.box.value = REPLY
    w.send_button.click()
    assert "发送失败" in w.status.value and "kernel trouble" in w.status.value
    assert w.box.value == REPLY and not w.send_button.disabled
