"""Where the LLM endpoint is configured: files, environment, and clear errors."""
from __future__ import annotations

import pytest

from shifu.content.errors import ShifuError
from shifu.llm.config import load_llm_config


def env_for(tmp_path, **kw) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), **kw}


def test_environment_only(tmp_path):
    cfg = load_llm_config(env=env_for(tmp_path, SHIFU_LLM_BASE_URL="http://127.0.0.1:11434/v1", SHIFU_LLM_MODEL="qwen2.5:7b",
                                      SHIFU_LLM_TEMPERATURE="0.3", SHIFU_LLM_SEED="11"))
    assert (cfg.base_url, cfg.model, cfg.temperature, cfg.seed, cfg.api_key) == ("http://127.0.0.1:11434/v1", "qwen2.5:7b", 0.3, 11, None)
    assert cfg.effective_seed(5) == 11


def test_user_file_then_explicit_file_then_environment(tmp_path, monkeypatch):
    user = tmp_path / "xdg" / "shifu" / "llm.toml"
    user.parent.mkdir(parents=True)
    user.write_text('base_url = "https://api.deepseek.com/v1"\nmodel = "deepseek-chat"\napi_key_env = "MY_DS_KEY"\ntemperature = 0.7\n',
                    encoding="utf-8")
    monkeypatch.setenv("MY_DS_KEY", "sk-from-env-var")
    cfg = load_llm_config(env=env_for(tmp_path))
    assert cfg.model == "deepseek-chat" and cfg.api_key.get_secret_value() == "sk-from-env-var"
    exam = tmp_path / "exam.yaml"
    exam.write_text("llm:\n  model: deepseek-reasoner\n  exam: true\n", encoding="utf-8")
    cfg = load_llm_config(exam, env=env_for(tmp_path))
    assert cfg.model == "deepseek-reasoner" and cfg.exam and cfg.effective_temperature() == 0.0
    assert cfg.base_url == "https://api.deepseek.com/v1", "settings merge field by field"
    cfg = load_llm_config(exam, env=env_for(tmp_path, SHIFU_LLM_MODEL="deepseek-chat", SHIFU_LLM_EXAM="0"))
    assert cfg.model == "deepseek-chat" and not cfg.exam


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ShifuError, match="SHIFU_LLM_MODEL"):
        load_llm_config(env=env_for(tmp_path, SHIFU_LLM_BASE_URL="http://127.0.0.1:8000/v1"))


def test_nowhere_to_send_is_a_clear_error(tmp_path):
    with pytest.raises(ShifuError, match="SHIFU_LLM_BASE_URL"):
        load_llm_config(env=env_for(tmp_path, SHIFU_LLM_MODEL="m"))


def test_unknown_setting_names_file_and_field(tmp_path):
    bad = tmp_path / "llm.toml"
    bad.write_text('model = "m"\nbase_url = "http://x/v1"\ntemprature = 0.2\n', encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        load_llm_config(bad, env=env_for(tmp_path))
    assert "llm.toml" in str(exc.value) and "temprature" in str(exc.value)


def test_bad_value_names_the_variable(tmp_path):
    with pytest.raises(ShifuError) as exc:
        load_llm_config(env=env_for(tmp_path, SHIFU_LLM_MODEL="m", SHIFU_LLM_BASE_URL="http://x/v1", SHIFU_LLM_TEMPERATURE="hot"))
    assert "SHIFU_LLM_TEMPERATURE" in str(exc.value) and "hot" not in str(exc.value)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ShifuError, match="does not exist"):
        load_llm_config(tmp_path / "nope.toml", env=env_for(tmp_path))


def test_request_settings_from_a_file_and_the_environment(tmp_path):
    f = tmp_path / "llm.toml"
    f.write_text('model = "o4-mini"\nbase_url = "http://127.0.0.1:8000/v1/"\ntemperature = "omit"\nmax_tokens = 4096\n'
                 'token_param = "max_completion_tokens"\nsend_seed = false\nsystem_role = "fold"\n'
                 "extra_body = {chat_template_kwargs = {enable_thinking = false}}\n", encoding="utf-8")
    cfg = load_llm_config(f, env=env_for(tmp_path))
    assert cfg.base_url == "http://127.0.0.1:8000/v1" and cfg.temperature is None and cfg.effective_temperature() is None
    assert (cfg.max_tokens, cfg.token_param, cfg.system_role) == (4096, "max_completion_tokens", "fold")
    assert cfg.extra_body == {"chat_template_kwargs": {"enable_thinking": False}}
    assert cfg.effective_seed(5) is None, "send_seed = false: never a seed"
    cfg = load_llm_config(f, env=env_for(tmp_path, SHIFU_LLM_MAX_TOKENS="512", SHIFU_LLM_EXTRA_BODY='{"enable_thinking": false}'))
    assert cfg.max_tokens == 512 and cfg.extra_body == {"enable_thinking": False}


@pytest.mark.parametrize("var, value, said", [
    ("SHIFU_LLM_EXTRA_BODY", "{enable_thinking: false", "not valid JSON"),
    ("SHIFU_LLM_EXTRA_BODY", '{"messages": []}', "set by Shifu itself"),
    ("SHIFU_LLM_BASE_URL", "127.0.0.1:11434/v1", "http://"),
    ("SHIFU_LLM_BASE_URL", "http://127.0.0.1:11434/v1/chat/completions", "e.g. http://127.0.0.1:11434/v1"),
    ("SHIFU_LLM_MAX_TOKENS", "5", "SHIFU_LLM_MAX_TOKENS"),
])
def test_bad_request_settings_say_what_to_fix(tmp_path, var, value, said):
    env = env_for(tmp_path, SHIFU_LLM_MODEL="m", SHIFU_LLM_BASE_URL="http://127.0.0.1:11434/v1")
    env[var] = value
    with pytest.raises(ShifuError) as exc:
        load_llm_config(env=env)
    assert var in str(exc.value) and said in str(exc.value) and "Traceback" not in str(exc.value)
