"""`shifu llm check` against the fake OpenAI-compatible server on 127.0.0.1, one mode at a time."""
from __future__ import annotations

import pytest

from engine_fake_llm import FakeLLM
from shifu import cli
from shifu.llm.check import check_endpoint
from shifu.llm.client import forget_endpoints
from shifu.llm.config import LLMConfig

KEY = "sk-test-CHECK-7f3e9a1b2c4d5e6f"


@pytest.fixture(autouse=True)
def fresh_endpoints():
    forget_endpoints()
    yield
    forget_endpoints()


def run_cli(monkeypatch, capsys, tmp_path, **env) -> tuple[int, str]:
    """`shifu llm check` as a user runs it: settings from the environment, output and exit code."""
    for var in ("SHIFU_LLM_BASE_URL", "SHIFU_LLM_API_KEY", "SHIFU_LLM_MODEL", "SHIFU_LLM_CONFIG", "OPENAI_API_KEY",
                "SHIFU_LLM_EXAM", "SHIFU_LLM_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr("shifu.llm.config.course_config_path", lambda: tmp_path / "none.yaml")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.argv", ["shifu", "llm", "check"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out + out.err


def cfg(server: FakeLLM, **kw) -> LLMConfig:
    base = dict(model="fake-buyer", base_url=server.base_url, api_key=KEY, timeout_s=5, max_retries=0)
    base.update(kw)
    return LLMConfig(**base)


def test_a_working_endpoint(monkeypatch, capsys, tmp_path):
    with FakeLLM(default=("ok", "Hello there.")) as server:
        code, out = run_cli(monkeypatch, capsys, tmp_path, SHIFU_LLM_BASE_URL=server.base_url,
                            SHIFU_LLM_MODEL="fake-buyer", SHIFU_LLM_API_KEY=KEY)
    assert code == 0, out
    assert "1 available, 'fake-buyer' among them" in out
    assert "JSON mode accepted" in out and "first token after" in out and "tokens/s" in out
    assert "the same answer twice" in out and "works for Shifu" in out and "adapted" not in out
    assert KEY not in out and "key: set" in out


def test_a_base_url_without_v1(monkeypatch, capsys, tmp_path):
    with FakeLLM() as server:
        code, out = run_cli(monkeypatch, capsys, tmp_path, SHIFU_LLM_BASE_URL=server.root_url, SHIFU_LLM_MODEL="fake-buyer")
    assert code == 1
    assert f"set base_url (SHIFU_LLM_BASE_URL) to {server.base_url}" in out and "FAIL" in out


def test_a_full_endpoint_url(monkeypatch, capsys, tmp_path):
    with FakeLLM() as server:
        code, out = run_cli(monkeypatch, capsys, tmp_path, SHIFU_LLM_BASE_URL=server.base_url + "/chat/completions",
                            SHIFU_LLM_MODEL="fake-buyer")
    assert code == 2 and "full endpoint URL" in out and f"e.g. {server.base_url}" in out
    assert "Traceback" not in out


def test_an_unknown_model_lists_the_available_ones():
    with FakeLLM(models=["qwen3:8b", "deepseek-r1:7b"]) as server:
        report = check_endpoint(cfg(server, model="qwen3-8b"))
    text = report.render()
    assert not report.ok and "no model 'qwen3-8b'" in text and "deepseek-r1:7b, qwen3:8b" in text


def test_a_refused_key_is_not_echoed(monkeypatch, capsys, tmp_path):
    with FakeLLM(key="sk-the-right-key-0000") as server:
        code, out = run_cli(monkeypatch, capsys, tmp_path, SHIFU_LLM_BASE_URL=server.base_url,
                            SHIFU_LLM_MODEL="fake-buyer", SHIFU_LLM_API_KEY=KEY)
    assert code == 1 and "refused the key" in out and "SHIFU_LLM_API_KEY" in out
    assert KEY not in out and KEY[:12] not in out and KEY[-12:] not in out


def test_a_server_that_is_not_running():
    with FakeLLM() as server:
        url = server.base_url
    report = check_endpoint(LLMConfig(model="m", base_url=url, timeout_s=2, max_retries=0))
    assert not report.ok and "cannot connect" in report.render() and "is the server running" in report.render()


def test_refusals_are_adapted_and_the_settings_named():
    quirks = {"max_completion_tokens", "default_temperature", "no_seed", "no_system"}
    with FakeLLM(default=("ok", "Blue."), quirks=quirks) as server:
        report = check_endpoint(cfg(server))
    text = report.render()
    assert report.ok, text
    assert 'token_param = "max_completion_tokens"' in text and 'temperature = "omit"' in text
    assert "send_seed = false" in text and 'system_role = "fold"' in text
    assert "Use 'max_completion_tokens' instead" in text, "the server's words are kept"
    assert "refuses a seed" in text and "with the adaptations above" in text


def test_reasoning_in_content_is_reported():
    with FakeLLM(default=("ok", "Hello."), think="close_only") as server:
        report = check_endpoint(cfg(server))
    text = report.render()
    assert report.ok and "<think> tags: removed" in text and "enable_thinking" in text
    assert "用户让我" not in text


def test_a_reasoning_model_that_runs_out_of_budget():
    with FakeLLM(default=("ok", "Hello."), think="full", reasoning="嗯" * 9000) as server:
        report = check_endpoint(cfg(server, max_tokens=200))
    text = report.render()
    assert not report.ok and "token budget" in text and "max_tokens" in text


@pytest.mark.parametrize("quirks", [{"alternate"}, {"alternate_500"}])
def test_templates_with_alternating_roles_need_no_adaptation(quirks):
    with FakeLLM(default=("ok", "Hello."), quirks=quirks) as server:
        report = check_endpoint(cfg(server))
    assert report.ok and "adapted" not in report.render() and not server.refused


def test_extra_body_fields_and_json_mode_the_server_refuses():
    with FakeLLM(default=("ok", '{"ok": true}'), quirks={"strict_fields", "no_response_format"}) as server:
        report = check_endpoint(cfg(server, extra_body={"enable_thinking": False}))
    text = report.render()
    assert report.ok and "remove enable_thinking from extra_body" in text
    assert "JSON mode refused" in text and "nothing to set" in text


def test_a_raised_budget_is_named():
    with FakeLLM(default=("ok", "Hello."), think="full", reasoning="嗯" * 700) as server:
        report = check_endpoint(cfg(server, max_tokens=300))
    assert report.ok and "max_tokens = 2048" in report.render()
