"""shifu.llm.client's pieces: reasoning split, the streaming filter at every chunk boundary, messages
for strict templates, and the server's words from every error body shape real servers send."""
from __future__ import annotations

import pytest

from engine_fake_llm import FakeLLM
from shifu.llm import client as llm_client
from shifu.llm.client import ReasoningFilter, conform_messages, split_reasoning
from shifu.llm.config import LLMConfig

ANSWER = "我的包裹到底在哪?"
THOUGHT = "好的,用户让我扮演买家…包裹其实在错误的驿站…"
FORMS = {
    "full": f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}",
    "empty": f"<think>\n\n</think>\n\n{ANSWER}",
    "close_only": f"{THOUGHT}\n</think>\n\n{ANSWER}",
    "thinking": f"<thinking>{THOUGHT}</thinking>{ANSWER}",
    "plain": ANSWER,
}


@pytest.fixture(autouse=True)
def fresh_endpoints():
    llm_client.forget_endpoints()
    yield
    llm_client.forget_endpoints()


@pytest.mark.parametrize("form", FORMS)
def test_split_reasoning(form):
    split = split_reasoning(FORMS[form])
    assert split.answer == ANSWER and not split.open
    assert split.tagged == (form != "plain")
    assert (THOUGHT in split.reasoning) == (form in ("full", "close_only", "thinking"))


def test_an_unclosed_block_is_all_reasoning():
    split = split_reasoning(f"<think>{THOUGHT}")
    assert split.answer == "" and split.open and THOUGHT in split.reasoning


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize("hold", [True, False])
def test_the_stream_filter_never_shows_reasoning_at_any_chunk_boundary(form, size, hold):
    if form == "close_only" and not hold:
        pytest.skip("a lone </think> can only be caught by holding untagged text (the endpoint's learnt habit)")
    raw = FORMS[form]
    f = ReasoningFilter(hold_untagged=hold)
    shown = [f.feed(raw[i:i + size]) for i in range(0, len(raw), size)]
    assert all(ANSWER.startswith(s) for s in shown), shown
    assert not any("<" in s or "用户" in s for s in shown)
    assert f.visible(final=True) == ANSWER


def test_messages_alternate_and_start_with_the_user():
    msgs = [{"role": "system", "content": "S"}, {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "U1"}, {"role": "user", "content": "U2"}]
    assert conform_messages(msgs, opener="O") == [
        {"role": "system", "content": "S"}, {"role": "user", "content": "O"}, {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "U1\n\nU2"}]
    folded = conform_messages(msgs, fold_system=True, opener="O")
    assert folded[0] == {"role": "user", "content": "S\n\nO"} and len(folded) == 3
    with pytest.raises(ValueError):
        conform_messages(msgs)


@pytest.mark.parametrize("quirk, said", [
    ("max_completion_tokens", "Use 'max_completion_tokens' instead"),
    ("no_seed", "body.seed: Extra inputs are not permitted"),
    ("no_system", "System role not supported"),
    ("alternate_500", "Conversation roles must alternate"),
])
def test_the_servers_words_from_every_body_shape(quirk, said):
    import openai

    with FakeLLM(quirks={quirk}) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as exc:
            client.chat.completions.create(model="fake-buyer", max_tokens=10, seed=1,
                                           messages=[{"role": "system", "content": "S"},
                                                     {"role": "assistant", "content": "A"}])
    assert said in llm_client.server_message(exc.value)


def test_a_template_error_said_with_http_500_is_not_retried_as_a_server_failure():
    with FakeLLM(quirks={"alternate_500"}) as server:
        cfg = LLMConfig(model="fake-buyer", base_url=server.base_url, timeout_s=5)
        import openai

        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as exc:
            client.chat.completions.create(model="fake-buyer", messages=[{"role": "assistant", "content": "A"}])
    err = llm_client._error(exc.value, cfg)
    assert not err.retryable and "roles must alternate" in err.reason


def test_non_streamed_answers_are_cleaned_too():
    with FakeLLM(default=("ok", ANSWER), think="close_only") as server:
        cfg = LLMConfig(model="fake-buyer", base_url=server.base_url, timeout_s=5)
        done = llm_client.chat(cfg, [{"role": "user", "content": "hi"}], temperature=0.0)
    assert done.text == ANSWER and "用户让我" in done.reasoning and done.tagged
    assert llm_client.endpoint(cfg).reasoning == "content"
