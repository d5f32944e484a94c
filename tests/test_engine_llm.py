"""The LLM buyer voice against a real HTTP server on 127.0.0.1 that misbehaves on demand."""
from __future__ import annotations

import json
import logging

import pytest

from engine_fake_llm import FakeLLM
from shifu.roleplay.voices import VoiceRequest
from shifu.roleplay.voices.llm import OpenAIVoice
from shifu.roleplay.engine import Engine
from shifu.content.errors import ShifuError
from shifu.llm.client import forget_endpoints
from shifu.llm.config import LLMConfig, load_llm_config
from engine_helpers import scenario as load_scenario
from shifu.reading.signals import Signals, Span
from shifu.reading.vocab import BuyerState, Signal

SCENARIO = load_scenario("late-parcel-wrong-station")
KEY = "sk-test-Q9x7SECRETkey0042abcdef"
GOOD = "我都等了三天了,你们到底什么时候能给我个准话?"


@pytest.fixture(autouse=True)
def fresh_endpoints():
    """What an endpoint accepts is remembered per process; a test's server may reuse an earlier port."""
    forget_endpoints()
    yield
    forget_endpoints()


@pytest.fixture
def server():
    with FakeLLM() as s:
        yield s


def config(server: FakeLLM, **kw) -> LLMConfig:
    base = dict(model="fake-buyer", base_url=server.base_url, api_key=KEY, timeout_s=0.5, total_timeout_s=2.0,
                max_retries=2, backoff_s=0.01)
    base.update(kw)
    return LLMConfig(**base)


def request(state: BuyerState | None = BuyerState.angry, reveal=(), revealed=(), turn=1) -> VoiceRequest:
    return VoiceRequest(scenario=SCENARIO, state=state, mood=20, turn=turn, seed=7, reveal=tuple(reveal),
                        revealed=tuple(revealed), reply="亲,您好,请问有什么可以帮您?")


def test_streams_the_line_in_chunks(server):
    server.default = ("ok", GOOD)
    voice = OpenAIVoice(config(server))
    first: list[str] = []
    utt = voice.speak(request(), on_text=first.append)
    assert utt.text == GOOD and utt.backend == "openai" and utt.notice is None
    # where this endpoint puts its reasoning is not known yet: the first line is shown when complete
    assert first == [GOOD]
    seen: list[str] = []
    assert voice.speak(request(turn=2), on_text=seen.append).text == GOOD
    assert len(seen) >= 3, "once the endpoint is known to answer plainly, lines arrive in several pieces"
    assert all(GOOD.startswith(s) for s in seen) and seen[-1] == GOOD
    assert server.requests[0]["stream"] is True


def test_rate_limit_is_retried(server):
    server.actions = [("status", 429), ("status", 503)]
    server.default = ("ok", GOOD)
    utt = OpenAIVoice(config(server)).speak(request())
    assert utt.text == GOOD and utt.backend == "openai"
    assert len(server.requests) == 3


def test_server_errors_fall_back_to_the_scripted_voice_with_a_notice(server):
    server.default = ("status", 500)
    sc = SCENARIO
    utt = OpenAIVoice(config(server)).speak(request())
    assert utt.backend == "scripted-fallback"
    assert utt.text in sc.lines.for_state(BuyerState.angry)
    assert utt.notice and "HTTP 500" in utt.notice
    assert len(server.requests) == 3  # one try and two retries


def test_client_errors_are_not_retried(server):
    server.default = ("status", 404)
    utt = OpenAIVoice(config(server)).speak(request())
    assert utt.backend == "scripted-fallback" and "HTTP 404" in utt.notice
    assert len(server.requests) == 1


def test_a_server_that_never_answers_times_out(server):
    server.default = ("hang", 1.0)
    utt = OpenAIVoice(config(server, timeout_s=0.15, total_timeout_s=0.6, max_retries=1)).speak(request())
    assert utt.backend == "scripted-fallback"
    assert "timed out" in utt.notice


def test_a_line_that_dribbles_past_the_deadline_is_abandoned(server):
    server.default = ("slow", 1.5, GOOD * 3)
    utt = OpenAIVoice(config(server, timeout_s=0.5, total_timeout_s=0.3, max_retries=0)).speak(request())
    assert utt.backend == "scripted-fallback"


def test_malformed_output_is_regenerated_then_falls_back(server):
    server.actions = [("malformed",)]
    server.default = ("ok", GOOD)
    utt = OpenAIVoice(config(server)).speak(request())
    assert utt.text == GOOD and len(server.requests) == 2
    server.actions = [("malformed",), ("malformed",)]
    utt = OpenAIVoice(config(server)).speak(request())
    assert utt.backend == "scripted-fallback"


@pytest.mark.parametrize("bad", [
    "亲,您好,我是跑者之家客服小王,请问有什么可以帮您?",
    "有什么可以帮您的吗?我这边马上为您查询。",
    "我是一个AI语言模型,无法扮演买家。",
    "Sorry, I cannot help with that request.",
])
def test_a_line_out_of_character_is_regenerated_once(server, bad):
    server.actions = [("ok", bad)]
    server.default = ("ok", GOOD)
    seen: list[str] = []
    utt = OpenAIVoice(config(server)).speak(request(), on_text=seen.append)
    assert utt.text == GOOD and utt.backend == "openai"
    assert len(server.requests) == 2
    assert not any("客服小王" in s for s in seen), "an agent-like line must not reach the trainee"


def test_two_role_reversals_fall_back(server):
    server.default = ("ok", "亲,您好,我是客服,很高兴为您服务!")
    utt = OpenAIVoice(config(server)).speak(request())
    assert utt.backend == "scripted-fallback" and "模型输出不合格" in utt.notice


def test_speaker_labels_and_quotes_are_removed(server):
    server.default = ("ok", f"王女士:“{GOOD}”")
    assert OpenAIVoice(config(server)).speak(request()).text == GOOD


def test_the_prompt_holds_only_the_facts_already_earned(server):
    sc = SCENARIO
    OpenAIVoice(config(server)).speak(request(revealed=("wrong_station",)))
    OpenAIVoice(config(server)).speak(request(reveal=("race_saturday",), revealed=("wrong_station",)))
    first, second = (json.dumps(r["messages"], ensure_ascii=False) for r in server.requests)
    station, race = sc.hidden_fact("wrong_station").fact, sc.hidden_fact("race_saturday").fact
    assert station in first and race not in first
    assert race in second, "the fact the engine decided to reveal this turn is in the instruction"
    assert "angry" not in first and "不接受任何方案" in first


def test_exam_mode_fixes_temperature_and_seed(server):
    OpenAIVoice(config(server, exam=True, temperature=1.2)).speak(request())
    body = server.requests[0]
    assert body["temperature"] == 0 and body["seed"] == 7 and body["model"] == "fake-buyer"
    OpenAIVoice(config(server, temperature=0.9)).speak(request())
    assert server.requests[1]["temperature"] == 0.9 and "seed" not in server.requests[1]


def test_local_server_without_a_key(server):
    voice = OpenAIVoice(config(server, api_key=None))
    assert voice.speak(request()).backend == "openai"


class _Reader:
    """Hand-built signals: the first reply probes the station, the rest only empathise."""

    def __call__(self, reply: str, ctx) -> Signals:
        spans = (Span(Signal.empathy, reply[:4], 0, 4),)
        probed = frozenset({"wrong_station"}) if "站点" in reply else frozenset()
        return Signals(spans=spans + ((Span(Signal.probe, "站点", 0, 2),) if probed else ()), probed_facts=probed,
                       substance=0.9)


def test_engine_with_the_llm_voice_writes_openai_turns_and_the_network_never_stops_it(server, tmp_path):
    server.default = ("ok", GOOD)
    path = tmp_path / "t.jsonl"
    eng = Engine(SCENARIO, backend=OpenAIVoice(config(server)), seed=3, transcript_path=path, reader=_Reader())
    eng.opening()
    eng.respond("理解您,请问快递站点是哪个?")
    server.default = ("status", 502)
    turn = eng.respond("理解您着急,我马上查。")
    assert turn.backend == "scripted-fallback" and turn.notice
    server.default = ("ok", GOOD)
    assert eng.respond("理解您,我这边继续跟进。").backend == "openai"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert records[0]["backend"] == "openai"
    buyer_backends = [r["backend"] for r in records if r.get("role") == "buyer"]
    assert buyer_backends == ["openai", "openai", "scripted-fallback", "openai"]
    assert eng.state.revealed == ("wrong_station",)


def test_the_key_never_leaks(server, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    server.default = ("echo_auth", 401)
    path = tmp_path / "t.jsonl"
    cfg = config(server)
    eng = Engine(SCENARIO, backend=OpenAIVoice(cfg), transcript_path=path, reader=_Reader())
    eng.opening()
    turn = eng.respond("理解您,请问快递站点是哪个?")
    server.default = ("status", 500)
    eng.respond("理解您,我马上查。")
    eng.finish()
    assert turn.backend == "scripted-fallback"
    assert any("Bearer" in h.get("authorization", "") and KEY in h["authorization"] for h in server.headers), \
        "the fake server did receive the key (so the test could catch a leak)"
    shown = "\n".join([path.read_text(encoding="utf-8"), *eng.notices, caplog.text, *capsys.readouterr(), repr(cfg),
                       str(cfg), json.dumps(cfg.model_dump(mode="json"))])
    assert KEY not in shown and KEY[:12] not in shown and KEY[-12:] not in shown
    with pytest.raises(ShifuError) as exc:
        load_llm_config(env={"SHIFU_LLM_MODEL": "m", "SHIFU_LLM_API_KEY": KEY, "SHIFU_LLM_TEMPERATURE": KEY,
                             "HOME": str(tmp_path)})
    assert KEY not in str(exc.value)


def test_redact_masks_the_key_and_its_pieces():
    cfg = LLMConfig(model="m", api_key=KEY)
    assert cfg.redact(f"x {KEY} y") == "x *** y"
    assert KEY[:12] not in cfg.redact(f"truncated in a log: {KEY[:14]}")
    assert KEY not in cfg.redact(f"Authorization: Bearer {KEY}")


def test_an_unexpected_client_error_still_gets_an_answer():
    class Exploding:
        class chat:
            class completions:
                @staticmethod
                def create(**kw):
                    raise RuntimeError("boom " + KEY)

    utt = OpenAIVoice(LLMConfig(model="m", api_key=KEY), client=Exploding()).speak(request())
    assert utt.backend == "scripted-fallback" and "RuntimeError" in utt.notice and KEY not in utt.notice


# ---------------------------------------------------------------------------------------------
# servers as they really behave (issue 11): each quirk is reproduced by the fake server
# ---------------------------------------------------------------------------------------------
HIDDEN = "错误的驿站"  # part of the hidden fact the fake reasoning leaks


def _play(voice: OpenAIVoice, turns: int = 3) -> tuple[list, list[str]]:
    """`turns` lines from the voice; everything on_text ever received."""
    seen: list[str] = []
    lines = [voice.speak(request(turn=i + 1), on_text=seen.append) for i in range(turns)]
    return lines, seen


@pytest.mark.parametrize("think", ["full", "empty", "close_only", "field"])
def test_reasoning_never_reaches_the_trainee(think):
    with FakeLLM(default=("ok", GOOD), think=think) as server:
        lines, seen = _play(OpenAIVoice(config(server)))
    assert [u.text for u in lines] == [GOOD] * 3
    assert all(u.backend == "openai" and u.notice is None for u in lines)
    assert not any(HIDDEN in s or "think>" in s or "用户让我" in s for s in seen), "no reasoning in the bubble"
    assert seen[-1] == GOOD


@pytest.mark.parametrize("think", ["full", "close_only", "field"])
def test_long_reasoning_does_not_count_towards_the_length_check(think):
    with FakeLLM(default=("ok", GOOD), think=think, reasoning="让我想想这个买家会怎么说。" * 60) as server:
        lines, seen = _play(OpenAIVoice(config(server)), turns=2)
    assert [(u.text, u.backend) for u in lines] == [(GOOD, "openai")] * 2
    assert not any("让我想想" in s for s in seen)


def test_reasoning_is_not_in_the_transcript(tmp_path):
    path = tmp_path / "t.jsonl"
    with FakeLLM(default=("ok", GOOD), think="close_only") as server:
        eng = Engine(SCENARIO, backend=OpenAIVoice(config(server)), seed=3, transcript_path=path, reader=_Reader())
        eng.opening()
        eng.respond("理解您,请问快递站点是哪个?")
        eng.respond("理解您着急,我马上查。")
        eng.finish()
    stored = path.read_text(encoding="utf-8")
    assert HIDDEN not in stored and "</think>" not in stored and "用户让我" not in stored
    assert [json.loads(x)["backend"] for x in stored.splitlines() if json.loads(x).get("role") == "buyer"] == ["openai"] * 3


def test_the_token_budget_is_configurable(server):
    server.default = ("ok", GOOD)
    OpenAIVoice(config(server, max_tokens=512)).speak(request())
    assert server.requests[0]["max_tokens"] == 512


def test_reasoning_that_uses_the_whole_budget_gets_room_once():
    with FakeLLM(default=("ok", GOOD), think="full", reasoning="嗯" * 700) as server:
        voice = OpenAIVoice(config(server, max_tokens=300))
        first = voice.speak(request())
        second = voice.speak(request(turn=2))
    assert first.text == GOOD and first.backend == "openai"
    assert "300" in first.notice and "2048" in first.notice, "the notice says what was changed"
    assert [r["max_tokens"] for r in server.requests] == [300, 2048, 2048], "raised once, then remembered"
    assert second.notice is None


@pytest.mark.parametrize("think", ["full", "close_only"])
def test_a_budget_too_small_for_the_reasoning_is_explained(think):
    with FakeLLM(default=("ok", GOOD), think=think, reasoning="嗯" * 9000) as server:
        seen: list[str] = []
        utt = OpenAIVoice(config(server, max_tokens=300)).speak(request(), on_text=seen.append)
    assert utt.backend == "scripted-fallback"
    assert "token budget" in utt.notice and "max_tokens" in utt.notice and "enable_thinking" in utt.notice
    assert "empty reply" not in utt.notice
    assert not any("嗯" in s for s in seen), "the cut reasoning was never shown"


def _adapted(server_quirks, turns=3, **cfg):
    with FakeLLM(default=("ok", GOOD), quirks=server_quirks) as server:
        lines, _ = _play(OpenAIVoice(config(server, **cfg)), turns=turns)
    return server, lines


def test_max_tokens_is_renamed_when_the_server_wants_max_completion_tokens():
    server, lines = _adapted({"max_completion_tokens"})
    assert all(u.text == GOOD and u.backend == "openai" for u in lines)
    assert len(server.refused) == 1, "one refusal, then the endpoint remembers"
    assert all("max_completion_tokens" in r and "max_tokens" not in r for r in server.requests)
    assert "Use 'max_completion_tokens' instead" in lines[0].notice, "the server's own words are kept"
    assert lines[1].notice is None


def test_a_refused_temperature_is_left_out():
    server, lines = _adapted({"default_temperature"}, temperature=0.8)
    assert all(u.text == GOOD and u.backend == "openai" for u in lines)
    assert len(server.refused) == 1 and all("temperature" not in r for r in server.requests)
    assert "Only the default (1) value is supported" in lines[0].notice


def test_a_refused_seed_in_exam_mode_is_left_out_and_said():
    server, lines = _adapted({"no_seed"}, exam=True)
    assert all(u.text == GOOD and u.backend == "openai" for u in lines)
    assert len(server.refused) == 1 and all("seed" not in r and r["temperature"] == 0 for r in server.requests)
    assert "Extra inputs are not permitted" in lines[0].notice and "seed" in lines[0].notice
    assert "考试模式" in lines[0].notice, "exam mode is no longer reproducible: the notice says so"


def test_an_extra_body_field_the_server_does_not_know_is_left_out():
    server, lines = _adapted({"strict_fields"}, extra_body={"enable_thinking": False})
    assert all(u.text == GOOD and u.backend == "openai" for u in lines)
    assert server.refused[0]["enable_thinking"] is False and len(server.refused) == 1
    assert "Unrecognized request argument supplied: enable_thinking" in lines[0].notice


def test_every_refusal_at_once_costs_one_retry_each():
    server, lines = _adapted({"max_completion_tokens", "default_temperature", "no_seed"}, exam=True)
    assert [u.backend for u in lines] == ["openai"] * 3
    assert len(server.refused) == 3 and len(server.requests) == 3


def test_extra_body_reaches_the_server(server):
    OpenAIVoice(config(server, extra_body={"chat_template_kwargs": {"enable_thinking": False}})).speak(request())
    assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.parametrize("quirk", ["alternate", "alternate_500"])
def test_templates_that_want_alternating_roles_accept_every_turn(tmp_path, quirk):
    with FakeLLM(default=("ok", GOOD), quirks={quirk}) as server:
        eng = Engine(SCENARIO, backend=OpenAIVoice(config(server)), seed=3, transcript_path=tmp_path / "t.jsonl",
                     reader=_Reader())
        eng.opening()
        turns = [eng.respond(text) for text in ("理解您,请问快递站点是哪个?", "理解您着急,我马上查。", "我这边继续跟进。")]
    assert [t.backend for t in turns] == ["openai"] * 3 and not server.refused
    roles = [m["role"] for m in server.requests[-1]["messages"]]
    assert roles[0] == "system" and roles[1] == "user" and roles[-1] == "user"
    assert all(a != b for a, b in zip(roles[1:], roles[2:])), "user and assistant alternate"


def test_a_template_without_a_system_role_gets_it_folded_in(tmp_path):
    with FakeLLM(default=("ok", GOOD), quirks={"no_system", "alternate"}) as server:
        eng = Engine(SCENARIO, backend=OpenAIVoice(config(server)), seed=3, transcript_path=tmp_path / "t.jsonl",
                     reader=_Reader())
        eng.opening()
        turns = [eng.respond(text) for text in ("理解您,请问快递站点是哪个?", "理解您着急,我马上查。")]
    assert [t.backend for t in turns] == ["openai"] * 2
    assert len(server.refused) == 1, "one refusal, then the system prompt is folded for every turn"
    first = server.requests[-1]["messages"][0]
    assert first["role"] == "user" and SCENARIO.persona.name in first["content"]
    assert all(m["role"] != "system" for r in server.requests for m in r["messages"])


def test_system_role_fold_can_be_configured(server):
    OpenAIVoice(config(server, system_role="fold")).speak(request())
    assert server.requests[0]["messages"][0]["role"] == "user"


def test_a_base_url_without_v1_is_diagnosed(server):
    utt = OpenAIVoice(config(server, base_url=server.root_url)).speak(request())
    assert utt.backend == "scripted-fallback"
    assert "HTTP 404" in utt.notice and "/v1" in utt.notice and "404 page not found" in utt.notice
    assert len(server.paths) == 1, "a 404 is not retried"


def test_a_full_endpoint_url_is_refused_when_settings_load(server, tmp_path):
    with pytest.raises(ShifuError) as exc:
        load_llm_config(env={"SHIFU_LLM_MODEL": "m", "SHIFU_LLM_BASE_URL": server.base_url + "/chat/completions",
                             "XDG_CONFIG_HOME": str(tmp_path)})
    assert "SHIFU_LLM_BASE_URL" in str(exc.value) and f"{server.base_url}" in str(exc.value)
    assert "full endpoint URL" in str(exc.value)


def test_an_unknown_model_is_diagnosed():
    with FakeLLM(models=["qwen3:8b"]) as server:
        utt = OpenAIVoice(config(server, model="qwen3-8b")).speak(request())
    assert utt.backend == "scripted-fallback" and "not found" in utt.notice and "shifu llm check" in utt.notice


def test_a_refused_key_is_diagnosed_without_echoing_it():
    with FakeLLM(key="sk-the-right-one-000000") as server:
        utt = OpenAIVoice(config(server)).speak(request())
    assert utt.backend == "scripted-fallback" and "HTTP 401" in utt.notice and "SHIFU_LLM_API_KEY" in utt.notice
    assert KEY not in utt.notice and KEY[:12] not in utt.notice


def test_system_role_system_is_never_folded():
    with FakeLLM(default=("ok", GOOD), quirks={"no_system"}) as server:
        utt = OpenAIVoice(config(server, system_role="system")).speak(request())
    assert utt.backend == "scripted-fallback" and "System role not supported" in utt.notice
    assert 'system_role = "fold"' in utt.notice


def test_the_model_sees_only_example_lines_that_fit_the_conversation():
    from shifu.roleplay.voices.voice_style import load_style

    sc = load_scenario("claim-hunter-absolute-words")
    style = load_style()
    bare = VoiceRequest(scenario=sc, state=BuyerState.probing, mood=40, turn=1, seed=0, reply="非常抱歉给您带来不便")
    prompt = style.messages(bare)[-1]["content"]
    assert "法务什么时候联系我" not in prompt and "另外两单" not in prompt
    # the line asks for a time (`asks: when`): an example once legal was mentioned and she waits for a time
    legal = VoiceRequest(scenario=sc, state=BuyerState.probing, mood=40, turn=1, seed=0, reply="我会把您的诉求转交法务合规专员",
                         demand="when")
    assert "法务什么时候联系我" in style.messages(legal)[-1]["content"]
