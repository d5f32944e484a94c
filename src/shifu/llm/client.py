"""Talking to OpenAI-compatible chat endpoints as they really behave: one home for every caller.

The LLM buyer voice (shifu.roleplay.voices.llm), the LLM judge (shifu.reading.judge, and through it `shifu course
suggest`), the LLM reply reader and `shifu llm check` all call models through `chat()`. It takes care of
what real servers (OpenAI, DeepSeek, Qwen/DashScope, vLLM, Ollama, llama.cpp, LM Studio, Mistral) do
differently:

* Reasoning. Reasoning models put their thoughts either in a separate field (`reasoning_content`,
  `reasoning`) or inside `content` in one of three forms: a full `<think>…</think>` block, an empty
  `<think>\\n\\n</think>` (Qwen3 with thinking off), or only a closing `</think>` (the template opened
  the block). `split_reasoning()` separates answer from reasoning; `ReasoningFilter` does it while
  streaming, so no reasoning text ever reaches a caller's `on_visible`. Reasoning never counts
  towards a caller's length check, and a cut answer (`finish_reason: "length"`) that holds only
  reasoning is reported as such (`LLMError.kind == "length"`), with what to change.
* Parameters a server refuses (HTTP 400/422): `max_tokens` (OpenAI o-series/gpt-5 want
  `max_completion_tokens`), a non-default `temperature`, `seed`, `response_format`, an `extra_body`
  field. The request is sent again once without the refused parameter (or under its new name), and
  the endpoint remembers it for the rest of the process (`endpoint()`); each change is an
  `Adaptation` carrying the server's own words.
* Chat templates: roles must alternate user/assistant and start with user (Mistral, Mixtral,
  Llama-2), and some have no system role (Gemma). `conform_messages()` always makes roles alternate;
  on the server's "System role not supported" the system prompt is folded into the first user
  message and that is remembered too.
* Errors. `LLMError.reason` is the server's own message (redacted: never the key) with what to do
  (a missing `/v1`, a full endpoint URL, an unknown model, a refused key).

Public API (everything else is private):
  chat(config, messages, ...) -> Completion          one request, adapted and cleaned; raises LLMError
  make_client(config) -> openai.OpenAI                a client with the config's URL, key and timeout
  endpoint(config) -> Endpoint                        what this process has learnt about the endpoint
  forget_endpoints() -> None                          drop that memory (tests, `shifu llm check`)
  split_reasoning(text) -> Split                      answer / reasoning / whether a block was left open
  ReasoningFilter                                     the same, piece by piece while streaming
  conform_messages(messages, fold_system, opener)     alternating roles, optionally no system role
  explain(exc, config) -> str                         a redacted one-line reason with the fix
  server_message(exc) -> str                          the server's own error text, from any body shape
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal
from urllib.parse import urlparse

import openai

from shifu.llm.config import LLMConfig

__all__ = ["Adaptation", "Completion", "Endpoint", "LLMError", "ReasoningFilter", "Split", "chat", "conform_messages",
           "endpoint", "explain", "forget_endpoints", "make_client", "server_message", "split_reasoning"]

log = logging.getLogger("shifu.llm.client")

# Reasoning delimiters seen in `content`. DeepSeek-R1, Qwen3/QwQ, GLM-Z1, Kimi use <think>; some
# fine-tunes write <thinking>.
_TAGS = (("<think>", "</think>"), ("<thinking>", "</thinking>"))
# Fields that carry reasoning next to `content` (DeepSeek/vLLM/SGLang: reasoning_content; Ollama,
# OpenRouter, newer vLLM: reasoning).
_REASONING_FIELDS = ("reasoning_content", "reasoning")

# Server messages that mean "this chat template has no system role" (Gemma on vLLM/llama.cpp, and others).
_NO_SYSTEM = re.compile(r"system role (is )?not supported|system (message|prompt)s? (is |are )?not supported|"
                        r"does not support (a )?system", re.IGNORECASE)
_ALTERNATE = re.compile(r"roles must alternate", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# reasoning in content
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """`answer`: what the model said (stripped); `reasoning`: the thoughts removed from it (stripped, may
    be empty: the empty block of a no-think mode); `tagged`: a reasoning tag was found; `open`: a block
    was opened and never closed (the answer never came)."""

    answer: str
    reasoning: str
    tagged: bool = False
    open: bool = False


def split_reasoning(text: str) -> Split:
    """Separate reasoning from the answer in a model's `content`.

    Handles a full `<think>…</think>` block (anywhere, any number), an empty one, a lone closing
    `</think>` (everything before it is reasoning: the chat template opened the block), and an
    opening tag never closed (everything after it is reasoning; `open` is True). `<thinking>` likewise.
    """
    answer = text
    thoughts: list[str] = []
    was_open = tagged = False
    for start, end in _TAGS:
        pattern = re.compile(re.escape(start) + r"(.*?)" + re.escape(end), re.DOTALL)
        while (m := pattern.search(answer)) is not None:
            thoughts.append(m.group(1))
            answer = answer[:m.start()] + answer[m.end():]
            tagged = True
        if end in answer:  # only the closing tag: the template opened the block
            before, _, answer = answer.rpartition(end)
            thoughts.insert(0, before)
            tagged = True
        if start in answer:  # opened and never closed: the answer never came
            answer, _, after = answer.partition(start)
            thoughts.append(after)
            was_open = tagged = True
    reasoning = "\n".join(t.strip() for t in thoughts if t.strip())
    return Split(answer.strip(), reasoning, tagged, was_open)


def _partial_tag_tail(text: str) -> int:
    """How many trailing characters could be the start of a reasoning tag still being streamed."""
    longest = 0
    for start, end in _TAGS:
        for tag in (start, end):
            for n in range(min(len(tag) - 1, len(text)), 0, -1):
                if text.endswith(tag[:n]):
                    longest = max(longest, n)
                    break
    return longest


class ReasoningFilter:
    """Streamed `content` in, visible answer out: nothing of the reasoning is ever returned by `visible()`.

    `hold_untagged`: text with no tag yet may be reasoning whose closing tag is still to come (the
    lone-`</think>` form), so it is held back until a tag arrives or the stream ends. Callers set it
    while an endpoint's habits are unknown or known to include reasoning in content.
    """

    def __init__(self, hold_untagged: bool):
        self.raw = ""
        self.hold_untagged = hold_untagged
        self._waiting = False  # inside a reasoning block, or holding untagged text: only a "<" can change that

    def feed(self, piece: str) -> str:
        """Add a streamed piece; the visible answer so far."""
        seen = len(self.raw)
        self.raw += piece
        if self._waiting and "<" not in self.raw[max(0, seen - 12):]:
            return ""  # fast path for long reasoning: nothing that could be a tag arrived
        return self.visible()

    def visible(self, final: bool = False) -> str:
        """The answer so far. `final`: the stream has ended (held text is released, an open block dropped)."""
        split = split_reasoning(self.raw)
        self._waiting = False
        if final:
            return split.answer
        if split.open:
            self._waiting = True
            return ""  # inside a reasoning block
        if not split.tagged:
            head = self.raw.lstrip()
            if head and any(start.startswith(head) for start, _ in _TAGS):
                return ""  # "<thi…": a reasoning block is opening
            if self.hold_untagged:
                self._waiting = True
                return ""  # may be reasoning whose lone closing tag is still to come
        text = split.answer
        tail = _partial_tag_tail(self.raw.rstrip())
        return text[: len(text) - tail].rstrip() if tail and len(text) >= tail else text


# ---------------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------------
def conform_messages(messages: list[dict[str, str]], fold_system: bool = False,
                     opener: str | None = None) -> list[dict[str, str]]:
    """Messages any chat template accepts: at most one system message first, then user/assistant
    strictly alternating and starting with user (consecutive same-role messages are merged with a
    blank line). `opener` is the user line put first when the conversation starts with the assistant
    (the buyer's opening); `fold_system` puts the system prompt at the top of the first user message.

    Raises ValueError when an opener is needed and none is given.
    """
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and m["content"])
    rest: list[dict[str, str]] = []
    for m in messages:
        if m["role"] == "system":
            continue
        role = "assistant" if m["role"] == "assistant" else "user"
        if rest and rest[-1]["role"] == role:
            rest[-1] = {"role": role, "content": rest[-1]["content"] + "\n\n" + m["content"]}
        else:
            rest.append({"role": role, "content": m["content"]})
    if not rest or rest[0]["role"] != "user":
        if opener is None:
            raise ValueError("the conversation starts with the assistant and no opener was given")
        rest.insert(0, {"role": "user", "content": opener})
    if system and fold_system:
        rest[0] = {"role": "user", "content": system + "\n\n" + rest[0]["content"]}
        return rest
    return ([{"role": "system", "content": system}] if system else []) + rest


# ---------------------------------------------------------------------------------------------
# what an endpoint accepts, learnt at run time
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Adaptation:
    """One change made because the server refused a request: `what` (e.g. "max_tokens → max_completion_tokens",
    "temperature omitted", "system prompt folded into the first user message") and `server_said`
    (the server's message, redacted)."""

    what: str
    server_said: str
    param: str = ""

    def __str__(self) -> str:
        return f"{self.what} (server said: {self.server_said})" if self.server_said else self.what


@dataclass
class Endpoint:
    """What this process knows about one (base URL, model): filled in by `chat()` as servers answer."""

    token_param: str = ""  # "" until a config's choice is used; then the name that works
    budget: int = 0  # a token budget raised at run time (reasoning used the configured one up); 0: none
    dropped: set[str] = field(default_factory=set)  # body fields the server refused
    fold_system: bool = False
    # "unknown": not seen an answer yet; "content": reasoning tags in content; "separate": a reasoning
    # field; "none": plain answers.
    reasoning: Literal["unknown", "content", "separate", "none"] = "unknown"
    adaptations: list[Adaptation] = field(default_factory=list)


_ENDPOINTS: dict[tuple[str, str], Endpoint] = {}
_LOCK = threading.Lock()


def endpoint(config: LLMConfig) -> Endpoint:
    """The learnt settings of the config's endpoint (one per base URL and model, for this process)."""
    key = (config.base_url or "https://api.openai.com/v1", config.model)
    with _LOCK:
        if key not in _ENDPOINTS:
            _ENDPOINTS[key] = Endpoint(token_param=config.token_param, fold_system=config.system_role == "fold")
        return _ENDPOINTS[key]


def forget_endpoints() -> None:
    """Forget every learnt adaptation (tests; `shifu llm check` probes from scratch)."""
    with _LOCK:
        _ENDPOINTS.clear()


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
ErrorKind = Literal["status", "rate_limit", "timeout", "connection", "malformed", "length"]


class LLMError(Exception):
    """The request did not give an answer. `reason`: safe to show (redacted, one line, with the fix);
    `kind`: status | rate_limit | timeout | connection | malformed | length; `retryable`: worth
    trying again later (429, 5xx, timeouts, connection errors); `retry_after`: seconds the server asked for."""

    def __init__(self, reason: str, kind: ErrorKind, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


def server_message(exc: BaseException) -> str:
    """The server's own explanation from an openai error, whatever shape its body has
    ({"error": {"message"}}, {"message"}, {"detail"}, FastAPI/pydantic detail lists, plain text)."""
    body = getattr(exc, "body", None)
    found = _message_from(body)
    if not found:
        response = getattr(exc, "response", None)
        try:
            text = response.text if response is not None else ""
        except Exception:  # a streamed response that cannot be read again
            text = ""
        found = _message_from(text) if text else ""
    if not found:
        found = str(getattr(exc, "message", "") or exc)
        found = re.sub(r"^Error code: \d+ - ?", "", found)
    return " ".join(found.split())[:300]


def _message_from(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        try:
            return _message_from(json.loads(body))
        except (json.JSONDecodeError, ValueError):
            text = re.sub(r"<[^>]+>", " ", body)  # an HTML error page
            return " ".join(text.split())
    if isinstance(body, list):
        parts = [_message_from(item) for item in body]
        return "; ".join(p for p in parts if p)
    if isinstance(body, dict):
        if "error" in body and body["error"]:
            return _message_from(body["error"])
        for key in ("message", "detail", "msg"):
            if key in body and body[key]:
                inner = _message_from(body[key])
                loc = body.get("loc")
                if loc and isinstance(loc, list):
                    inner = f"{'.'.join(map(str, loc))}: {inner}"
                return inner
        return json.dumps(body, ensure_ascii=False)[:300]
    return str(body)


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _retry_after(exc: BaseException) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")  # type: ignore[attr-defined]
        return float(value) if value is not None else None
    except (ValueError, AttributeError):
        return None


def _hint(status: int | None, said: str, config: LLMConfig) -> str:
    """What to do about an error, from its status and the server's words."""
    url = config.base_url or "https://api.openai.com/v1"
    path = urlparse(url).path.rstrip("/")
    low = said.lower()
    if status == 401 or status == 403:
        return "the server refused the key: check SHIFU_LLM_API_KEY (or api_key / api_key_env in the settings)"
    if status == 404 and ("model" in low and ("not found" in low or "does not exist" in low or "not exist" in low)):
        return f"the server has no model {config.model!r}: run `shifu llm check` to list the ones it has"
    if status == 404:
        if not path.endswith("/v1") and "/v1" not in path:
            return f"the base URL has no /v1: most servers want {url.rstrip('/')}/v1 (run `shifu llm check`)"
        return "check the base URL (it ends in /v1 for most servers) and the model name; `shifu llm check` tells which"
    if status == 429:
        return "rate limited or out of quota: wait, or check the account's quota"
    if _NO_SYSTEM.search(said):
        return "set system_role = \"fold\" in the LLM settings"
    if _ALTERNATE.search(said):
        return "the chat template wants alternating roles; report this with `shifu llm check`'s output"
    if status is not None and status >= 500:
        return "the server failed; it is retried, and if it persists check the server's own log"
    if status in (400, 422):
        return "the server refused the request; `shifu llm check` shows which setting it wants changed"
    return ""


def explain(exc: BaseException, config: LLMConfig) -> str:
    """One safe line: what went wrong, in the server's words when it gave any, and what to do."""
    if isinstance(exc, LLMError):
        return exc.reason
    status = _status(exc)
    if isinstance(exc, openai.APITimeoutError):
        text = f"timed out after {config.timeout_s:g} s"
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        text = f"cannot connect to {config.base_url or 'api.openai.com'} ({type(cause).__name__})"
    elif status is not None:
        said = server_message(exc)
        hint = _hint(status, said, config)
        text = f"HTTP {status}" + (f": {said}" if said else "") + (f" — {hint}" if hint else "")
    else:
        text = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
    return config.redact(text)


def _error(exc: BaseException, config: LLMConfig) -> LLMError:
    reason = explain(exc, config)
    status = _status(exc)
    if isinstance(exc, openai.RateLimitError):
        return LLMError(reason, "rate_limit", status, True, _retry_after(exc))
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(reason, "timeout", None, True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(reason, "connection", None, True)
    if status is not None:
        said = server_message(exc)
        template = bool(_NO_SYSTEM.search(said) or _ALTERNATE.search(said))  # llama.cpp says these with 500
        return LLMError(reason, "status", status, status >= 500 and not template, _retry_after(exc))
    return LLMError(reason, "malformed")


# ---------------------------------------------------------------------------------------------
# adapting a request to what the server refused
# ---------------------------------------------------------------------------------------------
def _mentions(text: str, name: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])", text) is not None


def _adapt(exc: openai.APIStatusError, body: dict[str, Any], ep: Endpoint, optional: Iterable[str],
           config: LLMConfig) -> Adaptation | None:
    """Change `ep` so the next request avoids what the server refused; None when nothing can be changed."""
    status = exc.status_code
    said = server_message(exc)
    safe = config.redact(said)
    if (_NO_SYSTEM.search(said) and not ep.fold_system and config.system_role == "auto"
            and any(m["role"] == "system" for m in body["messages"])):
        ep.fold_system = True
        return Adaptation("system prompt folded into the first user message", safe)
    if status not in (400, 422):
        return None
    param = ""
    err = exc.body if isinstance(exc.body, dict) else {}
    if isinstance(err.get("param"), str):
        param = err["param"]
    text = said + " " + json.dumps(exc.body, ensure_ascii=False, default=str)
    if param not in body or param in ("model", "messages", "stream"):
        param = next((name for name in optional if name in body and _mentions(text, name)), "")
    if not param:
        return None
    if param == "max_tokens" and "max_completion_tokens" not in ep.dropped and ep.token_param != "max_completion_tokens":
        ep.token_param = "max_completion_tokens"
        return Adaptation("max_tokens sent as max_completion_tokens", safe, param)
    if param == "max_completion_tokens" and ep.token_param == "max_completion_tokens" and "max_tokens" not in ep.dropped:
        ep.token_param = "max_tokens"
        ep.dropped.add("max_completion_tokens")
        return Adaptation("max_completion_tokens sent as max_tokens", safe, param)
    if param in ep.dropped:
        return None
    ep.dropped.add(param)
    return Adaptation(f"{param} omitted", safe, param)


# ---------------------------------------------------------------------------------------------
# one request
# ---------------------------------------------------------------------------------------------
@dataclass
class Completion:
    """One answer. `text`: the answer with reasoning removed (stripped); `reasoning`: what was removed
    (never to be shown or stored); `finish_reason` as the server sent it (None when it sent none);
    `adaptations`: what was changed in this call because the server refused something;
    `first_token_s` / `elapsed_s`: seconds from sending to the first content and to the end;
    `completion_tokens`: the server's count when it reported usage, else None; `stopped`: the
    caller's `on_visible` asked to stop reading."""

    text: str
    reasoning: str = ""
    finish_reason: str | None = None
    adaptations: list[Adaptation] = field(default_factory=list)
    first_token_s: float | None = None
    elapsed_s: float = 0.0
    completion_tokens: int | None = None
    stopped: bool = False
    chunks: int = 0
    tagged: bool = False  # the reasoning came inside content, between tags


OnVisible = Callable[[str], bool | None]  # the visible answer so far; return True to stop reading


def make_client(config: LLMConfig, max_retries: int = 0) -> openai.OpenAI:
    """An openai client for the config: its base URL, key (any placeholder for local servers) and timeout."""
    key = config.api_key.get_secret_value() if config.api_key else "not-needed"  # local servers take any key
    return openai.OpenAI(base_url=config.base_url, api_key=key, timeout=config.timeout_s, max_retries=max_retries)


def _body(config: LLMConfig, ep: Endpoint, messages: list[dict[str, str]], opener: str | None,
          temperature: float | None, seed: int | None, max_tokens: int | None,
          extra: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": conform_messages(messages, ep.fold_system, opener)}
    budget = max(max_tokens if max_tokens is not None else config.max_tokens, ep.budget)
    token_param = ep.token_param or config.token_param
    if token_param not in ep.dropped:
        body[token_param] = budget
    if temperature is not None:
        body["temperature"] = temperature
    if seed is not None:
        body["seed"] = seed
    body.update(config.extra_body)
    body.update(extra)
    for name in ep.dropped:
        body.pop(name, None)
    return body


def chat(config: LLMConfig, messages: list[dict[str, str]], *, client: Any = None, stream: bool = False,
         on_visible: OnVisible | None = None, temperature: float | None = None, seed: int | None = None,
         max_tokens: int | None = None, extra: dict[str, Any] | None = None, opener: str | None = None,
         timeout: float | None = None, deadline: float | None = None) -> Completion:
    """Send one chat request to the config's endpoint, adapted to what the endpoint accepts.

    messages: [{"role": "system"|"user"|"assistant", "content": str}] in any order; they are made to
    alternate (see conform_messages; `opener` is needed when the first non-system one is the assistant's).
    temperature / seed: sent as given (None: not sent); `config.extra_body` and `extra` are merged into
    the body; the token budget is `max_tokens` or `config.max_tokens`, under the learnt name.
    stream: read server-sent events; `on_visible(text)` gets the visible answer so far while it streams
    (reasoning never included; text that may still turn out to be reasoning is held back) and may
    return True to stop reading. The final answer is Completion.text: release it after checking it.
    `deadline` (time.monotonic() seconds) ends a stream that dribbles on. `timeout`: seconds for one
    HTTP request (default config.timeout_s).

    A parameter the server refuses is dropped or renamed and the request sent again, once per
    parameter; the endpoint remembers it (Completion.adaptations says what changed and why).
    Raises LLMError (redacted reason) when no answer comes: kind "length" when the budget ran out
    with no answer after the reasoning. Never retries 429/5xx itself: that is the caller's policy.
    """
    ep = endpoint(config)
    api = client or make_client(config)
    extra = dict(extra or {})
    optional = ["max_tokens", "max_completion_tokens", "temperature", "seed", "response_format", "stream_options",
                *config.extra_body, *extra]
    adaptations: list[Adaptation] = []
    for _ in range(len(optional) + 2):  # each refusal adapts once; this bound is never the limit in practice
        body = _body(config, ep, messages, opener, temperature, seed, max_tokens, extra)
        started = time.monotonic()
        try:
            if stream:
                result = _stream(api, config, ep, body, started, on_visible, timeout, deadline)
            else:
                result = _once(api, config, ep, body, started, timeout)
        except openai.APIStatusError as exc:
            adaptation = _adapt(exc, body, ep, optional, config)
            if adaptation is None:
                raise _error(exc, config) from None
            adaptations.append(adaptation)
            ep.adaptations.append(adaptation)
            log.warning("LLM endpoint %s adapted: %s", config.model, adaptation)
            continue
        except LLMError:
            raise
        except openai.OpenAIError as exc:
            raise _error(exc, config) from None
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            raise LLMError(config.redact(f"malformed response ({type(exc).__name__})"), "malformed") from None
        result.adaptations = adaptations
        if result.finish_reason == "length" and not result.tagged and ep.reasoning in ("unknown", "content"):
            # cut before any tag from a model that may open its reasoning in the template (lone </think>
            # form): what came may be reasoning, so none of it is an answer
            result.reasoning, result.text = "\n".join(x for x in (result.reasoning, result.text) if x), ""
        _learn(ep, result)
        if _reasoning_only_cut(result) and not ep.budget and 0 < _budget(body) < RAISED_BUDGET:
            # the reasoning used the whole budget: once per endpoint, give it room and ask again
            ep.budget = min(RAISED_BUDGET, max(4 * _budget(body), 2048))
            adaptation = Adaptation(f"token budget raised from {_budget(body)} to {ep.budget}: the reasoning used "
                                    f"all of it before the answer (set max_tokens to choose)", "")
            adaptations.append(adaptation)
            ep.adaptations.append(adaptation)
            log.warning("LLM endpoint %s adapted: %s", config.model, adaptation)
            continue
        _check_length(result, config, body)
        return result
    raise LLMError("the server kept refusing the request after every adaptation", "status", 400)


def _learn(ep: Endpoint, result: Completion) -> None:
    """Remember where this endpoint puts reasoning: decides whether untagged streamed text is held back."""
    if result.tagged:
        ep.reasoning = "content"
    elif ep.reasoning == "unknown" and result.text and not result.stopped and result.finish_reason != "length":
        ep.reasoning = "separate" if result.reasoning else "none"


# The most a reasoning-only cut raises the token budget to, once per endpoint.
RAISED_BUDGET = 8192


def _budget(body: dict[str, Any]) -> int:
    return int(body.get("max_tokens", body.get("max_completion_tokens", 0)) or 0)


def _reasoning_only_cut(result: Completion) -> bool:
    return result.finish_reason == "length" and not result.text and bool(result.reasoning or result.tagged)


def _check_length(result: Completion, config: LLMConfig, body: dict[str, Any]) -> None:
    if result.finish_reason == "length" and not result.text:
        budget = body.get("max_tokens", body.get("max_completion_tokens", "the server's default"))
        what = "reasoning" if result.reasoning or result.tagged else "nothing visible"
        raise LLMError(config.redact(
            f"the answer was cut at the token budget ({budget}) with only {what} and no answer — fix: raise "
            f"max_tokens in the LLM settings, or turn thinking off with extra_body (Qwen3: enable_thinking = false; "
            f"vLLM: chat_template_kwargs = {{enable_thinking = false}})"), "length")


def _once(api: Any, config: LLMConfig, ep: Endpoint, body: dict[str, Any], started: float,
          timeout: float | None) -> Completion:
    kwargs = _kwargs(body)
    resp = api.chat.completions.create(model=config.model, stream=False, timeout=timeout or config.timeout_s, **kwargs)
    choice = resp.choices[0]
    message = choice.message
    content = message.content or ""
    if not isinstance(content, str):
        raise TypeError("content is not text")
    split = split_reasoning(content)
    separate = "".join(str(getattr(message, f, None) or "") for f in _REASONING_FIELDS)
    usage = getattr(resp, "usage", None)
    result = Completion(text=split.answer, reasoning="\n".join(x for x in (separate, split.reasoning) if x),
                        finish_reason=getattr(choice, "finish_reason", None), elapsed_s=time.monotonic() - started,
                        completion_tokens=getattr(usage, "completion_tokens", None) if usage else None)
    result.first_token_s = result.elapsed_s
    result.tagged = split.tagged
    return result


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """The body as openai client arguments: known fields by name, the rest through extra_body."""
    known = {"messages", "max_tokens", "max_completion_tokens", "temperature", "seed", "response_format",
             "stream_options"}
    kwargs = {k: v for k, v in body.items() if k in known}
    rest = {k: v for k, v in body.items() if k not in known}
    if rest:
        kwargs["extra_body"] = rest
    return kwargs


def _stream(api: Any, config: LLMConfig, ep: Endpoint, body: dict[str, Any], started: float,
            on_visible: OnVisible | None, timeout: float | None, deadline: float | None) -> Completion:
    filt = ReasoningFilter(hold_untagged=ep.reasoning in ("unknown", "content"))
    separate: list[str] = []
    finish: str | None = None
    first: float | None = None
    tokens: int | None = None
    chunks = 0
    shown = ""
    stopped = False
    stream = api.chat.completions.create(model=config.model, stream=True, timeout=timeout or config.timeout_s,
                                         **_kwargs(body))
    try:
        for chunk in stream:
            if deadline is not None and time.monotonic() > deadline:
                raise LLMError(f"timed out: the answer took longer than {config.total_timeout_s:g} s", "timeout",
                               retryable=True)
            usage = getattr(chunk, "usage", None)
            if usage is not None and getattr(usage, "completion_tokens", None) is not None:
                tokens = usage.completion_tokens
            choices = getattr(chunk, "choices", None) or []
            if not choices:
                continue
            choice = choices[0]
            finish = getattr(choice, "finish_reason", None) or finish
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            for name in _REASONING_FIELDS:
                thought = getattr(delta, name, None)
                if isinstance(thought, str) and thought:
                    separate.append(thought)
                    if first is None:
                        first = time.monotonic() - started
            piece = getattr(delta, "content", None) or ""
            if not isinstance(piece, str):
                raise TypeError("content is not text")
            if not piece:
                continue
            chunks += 1
            if first is None:
                first = time.monotonic() - started
            visible = filt.feed(piece)
            if on_visible is not None and visible != shown:
                shown = visible
                if on_visible(visible):
                    stopped = True
                    break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    split = split_reasoning(filt.raw)
    result = Completion(text=split.answer, reasoning="\n".join(x for x in ("".join(separate), split.reasoning) if x),
                        finish_reason=finish, first_token_s=first, elapsed_s=time.monotonic() - started,
                        completion_tokens=tokens, stopped=stopped, chunks=chunks, tagged=split.tagged)
    return result
