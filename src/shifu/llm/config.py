"""Where an LLM endpoint is configured: one loader for every part of Shifu that calls a model.

Any OpenAI-compatible server works (OpenAI, DeepSeek, Qwen compatible mode, vLLM, Ollama,
llama.cpp server): a base URL, a model and, where the server wants one, a key.

Sources, later ones winning field by field:
  1. ~/.config/shifu/llm.toml (or $XDG_CONFIG_HOME/shifu/llm.toml) — a person's own endpoint
  2. course/shifu-config.yaml, section `llm:` — what a mentor sets for the course (e.g. exam mode)
  3. the file named by `path` or $SHIFU_LLM_CONFIG (.toml or .yaml; a `llm:` section or top level)
  4. environment: SHIFU_LLM_BASE_URL, SHIFU_LLM_API_KEY, SHIFU_LLM_MODEL, SHIFU_LLM_TEMPERATURE,
     SHIFU_LLM_SEED, SHIFU_LLM_TIMEOUT, SHIFU_LLM_EXAM, SHIFU_LLM_MAX_TOKENS,
     SHIFU_LLM_EXTRA_BODY (a JSON object)
A file may name the environment variable holding the key (`api_key_env = "DEEPSEEK_API_KEY"`)
instead of the key itself. The key is a SecretStr: it never appears in a repr, a message or a log.

How requests fit the server (see shifu.llm.client, which adapts at run time too):
  max_tokens     the token budget of one answer, reasoning included (reasoning models need room)
  token_param    "max_tokens" or "max_completion_tokens" (OpenAI o-series / gpt-5); adapted on a 400
  temperature    a number, or the string "omit" / "none" to send none (models that only take the default)
  send_seed      false: never send a seed (servers that refuse it; exam mode is then not reproducible)
  extra_body     fields merged into every request body, e.g. {enable_thinking = false} (Qwen3 on
                 DashScope) or {chat_template_kwargs = {enable_thinking = false}} (vLLM, SGLang)
  system_role    "auto" (fold on the server's 400), "system", or "fold" (the system prompt goes into the
                 first user message: templates without a system role, e.g. Gemma)
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import Field, SecretStr, ValidationError, field_validator

from shifu.content import paths
from shifu.content.yamlio import Strict
from shifu.content.errors import Problem, ShifuError, display_path

ENV = {
    "base_url": "SHIFU_LLM_BASE_URL",
    "api_key": "SHIFU_LLM_API_KEY",
    "model": "SHIFU_LLM_MODEL",
    "temperature": "SHIFU_LLM_TEMPERATURE",
    "seed": "SHIFU_LLM_SEED",
    "timeout_s": "SHIFU_LLM_TIMEOUT",
    "exam": "SHIFU_LLM_EXAM",
    "max_tokens": "SHIFU_LLM_MAX_TOKENS",
    "extra_body": "SHIFU_LLM_EXTRA_BODY",
}
FILE_KEYS = {"base_url", "api_key", "api_key_env", "model", "temperature", "seed", "timeout_s", "total_timeout_s",
             "max_retries", "backoff_s", "exam", "max_tokens", "token_param", "send_seed", "extra_body", "system_role"}
# Body fields Shifu itself sets: extra_body may not override them (the engine, not a config file, owns them).
RESERVED_BODY = {"model", "messages", "stream", "stream_options"}


class LLMConfig(Strict):
    """One endpoint and how to call it."""


    model: str = Field(min_length=1, description="model name as the server knows it")
    base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:11434/v1; None: api.openai.com")
    api_key: SecretStr | None = Field(default=None, description="optional for local servers")
    temperature: float | None = Field(default=0.8, ge=0.0, le=2.0, description="None: send no temperature")
    seed: int | None = Field(default=None, description="sent to the server when set (exam mode sets it)")
    send_seed: bool = Field(default=True, description="False: never send a seed (servers that refuse one)")
    max_tokens: int = Field(default=1024, ge=16, le=200_000,
                            description="token budget of one answer, reasoning included")
    token_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens", description="the name the budget is sent under; renamed at run time on the server's 400")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="merged into every request body")
    system_role: Literal["auto", "system", "fold"] = Field(
        default="auto", description="fold: the system prompt goes into the first user message")
    timeout_s: float = Field(default=20.0, gt=0, description="connect/read timeout of one request")
    total_timeout_s: float = Field(default=45.0, gt=0, description="the most one buyer line may take, retries included")
    max_retries: int = Field(default=2, ge=0, le=10, description="retries on 429, 5xx, timeouts and connection errors")
    backoff_s: float = Field(default=0.5, ge=0, description="first retry delay; doubles each retry")
    exam: bool = Field(default=False, description="fixed model, temperature 0 and a seed: the same buyer for everyone")
    source: str = Field(default="", description="where the settings came from, for messages")

    @field_validator("temperature", mode="before")
    @classmethod
    def _omit_temperature(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("omit", "none", "default", ""):
            return None
        return value

    @field_validator("extra_body", mode="before")
    @classmethod
    def _extra_body(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: a JSON object
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg}); write a JSON object such as "
                                 '{"enable_thinking": false}') from None
        if isinstance(value, dict):
            clash = sorted(RESERVED_BODY & set(value))
            if clash:
                raise ValueError(f"{clash[0]!r} is set by Shifu itself and cannot be overridden")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError("must start with http:// or https:// and name a host, e.g. http://127.0.0.1:11434/v1")
        for tail in ("/chat/completions", "/completions", "/models"):
            if url.endswith(tail):
                raise ValueError(f"is a full endpoint URL (ends with {tail}); give only the part before it, "
                                 f"e.g. {url[: -len(tail)]}")
        return url

    @property
    def secrets(self) -> tuple[str, ...]:
        key = self.api_key.get_secret_value() if self.api_key else ""
        return (key,) if len(key) >= 4 else ()

    def redact(self, text: str) -> str:
        """The text with the key (and any long piece of it) masked: safe for notices, logs and errors."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
            if len(secret) > 12:
                text = text.replace(secret[:12], "***").replace(secret[-12:], "***")
        return text

    def effective_temperature(self) -> float | None:
        """0 in exam mode; otherwise the configured temperature, None meaning "send none"."""
        return 0.0 if self.exam else self.temperature

    def effective_seed(self, session_seed: int) -> int | None:
        if not self.send_seed:
            return None
        if self.seed is not None:
            return self.seed
        return session_seed if self.exam else None


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shifu" / "llm.toml"


def course_config_path() -> Path:
    return paths.course_dir() / "shifu-config.yaml"


def _read_file(path: Path) -> dict[str, Any]:
    shown = display_path(path)
    try:
        if path.suffix == ".toml":
            with open(path, "rb") as fh:
                data: Any = tomllib.load(fh)
        else:
            from shifu.content.yamlio import load_yaml

            data, _ = load_yaml(path)
    except tomllib.TOMLDecodeError as exc:
        raise ShifuError([Problem(shown, "(TOML syntax)", str(exc), "fix the line it names")]) from None
    except OSError as exc:
        raise ShifuError([Problem(shown, "(file)", f"cannot read: {exc.strerror}", "check the path and permissions")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ShifuError([Problem(shown, "(top level)", "must be a mapping of settings", "write `model = ...` lines")])
    section = data.get("llm", data if "llm" not in data and path.suffix == ".toml" else None)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ShifuError([Problem(shown, "llm", "must be a mapping of settings", "write `llm:` followed by indented settings")])
    unknown = sorted(set(section) - FILE_KEYS)
    if unknown:
        raise ShifuError([Problem(shown, f"llm.{unknown[0]}", "unknown setting", f"use one of: {', '.join(sorted(FILE_KEYS))}")])
    out = dict(section)
    key_env = out.pop("api_key_env", None)
    if key_env:
        value = os.environ.get(str(key_env))
        if not value:
            raise ShifuError([Problem(shown, "llm.api_key_env", f"environment variable {key_env} is not set",
                                      f"export {key_env}=... or remove api_key_env")])
        out["api_key"] = value
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, var in ENV.items():
        value = env.get(var)
        if value is None or value == "":
            continue
        if field == "exam":
            out[field] = value.strip().lower() in ("1", "true", "yes", "on")
        else:
            out[field] = value
    return out


def load_llm_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> LLMConfig:
    """The LLM settings from files and environment; a clear error when something needed is missing."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    sources: list[str] = []
    explicit = Path(path) if path else (Path(env["SHIFU_LLM_CONFIG"]) if env.get("SHIFU_LLM_CONFIG") else None)
    if explicit is not None and not explicit.exists():
        raise ShifuError([Problem(display_path(explicit), "(file)", "does not exist", "check the path given for the LLM settings")])
    for candidate in (user_config_path(env), course_config_path(), explicit):
        if candidate is not None and candidate.exists():
            found = _read_file(candidate)
            if found:
                merged.update(found)
                sources.append(display_path(candidate))
    from_env = _from_env(env)
    if from_env:
        merged.update(from_env)
        sources.append("environment")
    if not merged.get("api_key") and env.get("OPENAI_API_KEY"):
        merged["api_key"] = env["OPENAI_API_KEY"]
    where = ", ".join(sources) or "no settings found"
    if not merged.get("model"):
        raise ShifuError(f"LLM backend: no model configured ({where}) — fix: set SHIFU_LLM_MODEL "
                         f"or `model` in {display_path(user_config_path(env))}")
    if not merged.get("base_url") and not merged.get("api_key"):
        raise ShifuError(f"LLM backend: neither a base URL nor an API key is set ({where}) — fix: set SHIFU_LLM_BASE_URL "
                         "(e.g. http://127.0.0.1:11434/v1 for Ollama) or SHIFU_LLM_API_KEY for api.openai.com")
    try:
        return LLMConfig.model_validate({**merged, "source": where})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "(settings)"
        var = ENV.get(name, "")
        shown = f"{name} (or {var})" if var else name
        # never echo the input: it could be the key
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ShifuError(f"LLM backend: setting {shown}: {msg} ({where}) — fix: correct the value") from None
