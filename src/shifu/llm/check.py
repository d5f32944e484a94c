"""`shifu llm check`: probe the configured endpoint the way the buyer voice and the judge will use it.

Steps (each a `Finding`): the settings in use (never the key), the model list (diagnosing a base URL
without /v1, a refused key, a model the server does not have), one short chat the judge's way
(temperature 0, JSON mode), one streamed chat the buyer's way (time to first token, tokens per
second, where the model puts its reasoning), and exam mode's parameters (temperature 0 and a seed,
asked twice to see whether the answer repeats). What the server refused and how Shifu adapted is
listed with the setting that makes it explicit. Nothing here prints or logs the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal
from urllib.parse import urlparse

import openai

from shifu.llm import client as llm_client
from shifu.llm.client import LLMError
from shifu.llm.config import LLMConfig

Status = Literal["ok", "adapted", "fail", "note"]
MARK = {"ok": "ok     ", "adapted": "adapted", "fail": "FAIL   ", "note": "note   "}

# The probe prompts: not trainee-facing; short so a slow local model answers quickly.
_SYSTEM = "You are a terse assistant."
_JUDGE_ASK = 'Answer with the JSON object {"ok": true} and nothing else.'
_BUYER_ASK = "Say one short friendly sentence."
_EXAM_ASK = "Name one colour, in one word."
# How each adaptation is made explicit in the settings file.
_SETTING = {
    "max_tokens": 'token_param = "max_completion_tokens"',
    "max_completion_tokens": 'token_param = "max_tokens"',
    "temperature": 'temperature = "omit"',
    "seed": "send_seed = false",
}


@dataclass(frozen=True)
class Finding:
    status: Status
    step: str
    text: str


@dataclass
class CheckReport:
    """What `check_endpoint` found. `ok`: the buyer voice and the judge can use the endpoint (perhaps adapted)."""

    findings: list[Finding] = field(default_factory=list)
    ok: bool = False

    def add(self, status: Status, step: str, text: str) -> None:
        self.findings.append(Finding(status, step, text))

    def render(self) -> str:
        lines = [f"{MARK[f.status]}  {f.step:<9} {f.text}" for f in self.findings]
        lines.append("the endpoint works for Shifu" + (" (with the adaptations above)" if any(
            f.status == "adapted" for f in self.findings) else "") if self.ok else
            "the endpoint does not work for Shifu yet: fix the FAIL lines above")
        return "\n".join(lines)


def check_endpoint(config: LLMConfig, client_for: Callable[[LLMConfig], Any] | None = None) -> CheckReport:
    """Probe `config`'s endpoint from scratch (learnt adaptations are forgotten first). Never raises on
    network or server trouble: each problem is a "fail" finding with the server's words and the fix."""
    make = client_for or llm_client.make_client
    report = CheckReport()
    llm_client.forget_endpoints()
    url = config.base_url or "https://api.openai.com/v1"
    key = "set" if config.api_key else "none"
    report.add("note", "settings", f"model {config.model!r} at {url} (key: {key}; from {config.source or 'arguments'})")

    if not _models(config, make, report):
        return report
    api = make(config)
    judge_ok = _judge_way(config, api, report)
    buyer_ok = _buyer_way(config, api, report)
    if judge_ok or buyer_ok:
        _exam_way(config, api, report)
    ep = llm_client.endpoint(config)
    for a in ep.adaptations:
        report.add("adapted", "adapted", config.redact(f"{a} — {_setting(a, config, ep)}"))
    report.ok = judge_ok and buyer_ok
    return report


def _setting(a: llm_client.Adaptation, config: LLMConfig, ep: llm_client.Endpoint) -> str:
    """The settings line that makes an adaptation explicit (or that none is needed)."""
    if a.param in _SETTING:
        return f"to say so in the settings: {_SETTING[a.param]}"
    if "folded" in a.what:
        return 'to say so in the settings: system_role = "fold"'
    if a.param in config.extra_body:
        return f"remove {a.param} from extra_body"
    if a.param:
        return "nothing to set: Shifu leaves it out (the judge's prompt asks for JSON anyway)"
    return f"to say so in the settings: max_tokens = {ep.budget}"


def _models(config: LLMConfig, make: Callable[[LLMConfig], Any], report: CheckReport) -> bool:
    """List the server's models. False when nothing further can work (wrong URL, refused key)."""
    try:
        ids = [m.id for m in make(config).models.list()]
    except openai.NotFoundError as exc:
        path = urlparse(config.base_url or "").path.rstrip("/")
        if config.base_url and not path.endswith("/v1"):
            alt = config.model_copy(update={"base_url": config.base_url.rstrip("/") + "/v1"})
            try:
                list(make(alt).models.list())
            except openai.OpenAIError:
                pass
            else:
                report.add("fail", "base URL", f"{config.base_url} answers 404 but {alt.base_url} works — fix: set "
                                               f"base_url (SHIFU_LLM_BASE_URL) to {alt.base_url}")
                return False
        report.add("note", "models", config.redact(f"the server has no model list ({llm_client.explain(exc, config)})"))
        return True
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        report.add("fail", "key", config.redact(f"the server refused the key (HTTP {exc.status_code}: "
                                                f"{llm_client.server_message(exc)}) — fix: check SHIFU_LLM_API_KEY "
                                                "or api_key / api_key_env in the settings"))
        return False
    except openai.APIStatusError as exc:
        report.add("note", "models", llm_client.explain(exc, config))
        return True
    except openai.OpenAIError as exc:
        report.add("fail", "connect", llm_client.explain(exc, config) + " — fix: is the server running, and is the "
                                                                        "host and port in base_url right?")
        return False
    if not ids:
        report.add("note", "models", "the server lists no models")
    elif config.model in ids:
        report.add("ok", "models", f"{len(ids)} available, {config.model!r} among them")
    else:
        shown = ", ".join(sorted(ids)[:20]) + (" …" if len(ids) > 20 else "")
        report.add("fail", "model", f"the server has no model {config.model!r} — fix: set model (SHIFU_LLM_MODEL) "
                                    f"to one of: {shown}")
        return False
    return True


def _judge_way(config: LLMConfig, api: Any, report: CheckReport) -> bool:
    try:
        done = llm_client.chat(config, [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": _JUDGE_ASK}],
                               client=api, temperature=0.0, extra={"response_format": {"type": "json_object"}})
    except LLMError as exc:
        report.add("fail", "chat", f"the judge's request failed: {exc.reason}")
        return False
    json_mode = "response_format" not in llm_client.endpoint(config).dropped
    report.add("ok", "chat", f"answered in {done.elapsed_s:.2f} s (temperature 0, JSON mode "
                             f"{'accepted' if json_mode else 'refused: the prompt asks for JSON instead'})")
    return True


def _buyer_way(config: LLMConfig, api: Any, report: CheckReport) -> bool:
    try:
        done = llm_client.chat(config, [{"role": "system", "content": _SYSTEM}, {"role": "assistant", "content": "Hi."},
                                        {"role": "user", "content": _BUYER_ASK}],
                               client=api, stream=True, temperature=config.effective_temperature(),
                               opener="Hello.", extra={"stream_options": {"include_usage": True}})
    except LLMError as exc:
        report.add("fail", "stream", f"the buyer's streamed request failed: {exc.reason}")
        return False
    ttft = f"{done.first_token_s:.2f} s" if done.first_token_s is not None else "n/a"
    gen = max(done.elapsed_s - (done.first_token_s or 0.0), 1e-6)
    if done.completion_tokens:
        rate = f"{done.completion_tokens / gen:.1f} tokens/s ({done.completion_tokens} tokens)"
    else:
        rate = f"≈{done.chunks / gen:.1f} chunks/s (the server reports no token usage)"
    report.add("ok", "stream", f"first token after {ttft}, {rate}, finish_reason {done.finish_reason or 'not sent'}")
    where = llm_client.endpoint(config).reasoning
    text = {"content": "inside the answer as <think> tags: removed before anything is shown or stored",
            "separate": "in a separate reasoning field: never shown",
            "none": "none seen", "unknown": "not seen (the answer was empty)"}[where]
    report.add("note", "reasoning", text)
    if where == "content" and not config.extra_body:
        report.add("note", "tip", "reasoning costs time on every buyer line; to turn it off try extra_body = "
                                        "{enable_thinking = false} or {chat_template_kwargs = {enable_thinking = false}}")
    return True


def _exam_way(config: LLMConfig, api: Any, report: CheckReport) -> None:
    answers = []
    for _ in range(2):
        try:
            done = llm_client.chat(config, [{"role": "user", "content": _EXAM_ASK}], client=api, temperature=0.0, seed=7)
        except LLMError as exc:
            report.add("fail", "exam", f"temperature 0 with a seed failed: {exc.reason}")
            return
        answers.append(done.text)
    dropped = llm_client.endpoint(config).dropped
    if "seed" in dropped:
        report.add("note", "exam", "the server refuses a seed: exam mode runs, but the buyer may differ between trainees")
    elif answers[0] == answers[1]:
        report.add("ok", "exam", "temperature 0 and a seed accepted; the same answer twice")
    else:
        report.add("note", "exam", "temperature 0 and a seed accepted, but the answer changed between two calls: "
                                   "this server is not deterministic")
