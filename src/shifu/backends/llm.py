"""The LLM buyer voice: any OpenAI-compatible endpoint, through the `openai` client.

The network must never stop a conversation: 429/5xx/timeouts are retried with backoff inside a
per-line deadline, a line that speaks as the agent or breaks character is regenerated once, and
then the scripted voice takes over for that line (marked "scripted-fallback", with a notice).
The API key is redacted from every notice and log line this module writes.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import openai

from ..llm_config import LLMConfig
from . import OnText, Utterance, Voice, VoiceRequest
from .scripted import ScriptedVoice
from .voice_style import VoiceStyle, load_style

log = logging.getLogger("shifu.backends.llm")

# How much of a streamed line is held back before the first chunk is shown: enough to tell a line
# that opens like an agent's ("亲,您好,我是客服…") before the trainee sees it.
HOLD_BACK_CHARS = 12


class VoiceFailure(Exception):
    """This line cannot come from the model; `reason` is safe to show (no key, no prompt)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _BadOutput(Exception):
    pass


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (ValueError, AttributeError):
        return None


class OpenAIVoice:
    name = "openai"

    def __init__(self, config: LLMConfig, style: VoiceStyle | None = None, fallback: Voice | None = None,
                 client: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.style = style or load_style()
        self.fallback = fallback or ScriptedVoice()
        self._sleep = sleep
        key = config.api_key.get_secret_value() if config.api_key else "not-needed"  # local servers take any key
        self._client = client or openai.OpenAI(base_url=config.base_url, api_key=key, timeout=config.timeout_s, max_retries=0)

    def speak(self, request: VoiceRequest, on_text: OnText | None = None) -> Utterance:
        try:
            return Utterance(text=self._line(request, on_text), backend=self.name)
        except Exception as exc:  # whatever went wrong, the buyer still answers
            reason = self.config.redact(exc.reason if isinstance(exc, VoiceFailure) else f"意外错误 {type(exc).__name__}")
            log.warning("LLM buyer voice unavailable, scripted voice used for turn %s: %s", request.turn, reason)
            line = self.fallback.speak(request)
            if on_text is not None:
                on_text("")
                on_text(line.text)
            return Utterance(text=line.text, backend="scripted-fallback",
                             notice=self.style.fallback_notice.format(reason=reason))

    def _line(self, req: VoiceRequest, on_text: OnText | None) -> str:
        deadline = time.monotonic() + self.config.total_timeout_s
        messages = self.style.messages(req)
        problem = ""
        for _ in range(2):  # the first answer, and one regeneration
            try:
                raw = self._with_retries(messages, req, deadline, on_text)
            except _BadOutput as exc:
                problem = str(exc)
            else:
                text = self.style.clean(raw, req.scenario.persona.name)
                problem = self.style.problem(text) or ""
                if not problem:
                    if on_text is not None:
                        on_text(text)
                    return text
            log.info("LLM buyer line rejected (%s), regenerating", problem)
            if on_text is not None:
                on_text("")
        raise VoiceFailure(f"模型输出不合格:{problem}")

    def _with_retries(self, messages: list[dict[str, str]], req: VoiceRequest, deadline: float,
                      on_text: OnText | None) -> str:
        delay = self.config.backoff_s
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._stream_once(messages, req, deadline, on_text)
            except _Retryable as exc:
                wait = max(delay, exc.retry_after or 0.0)
                if attempt == self.config.max_retries or time.monotonic() + wait >= deadline:
                    raise VoiceFailure(exc.reason) from None
                log.info("LLM request failed (%s), retry %d in %.2fs", self.config.redact(exc.reason), attempt + 1, wait)
                self._sleep(wait)
                delay *= 2
        raise VoiceFailure("no attempts")  # unreachable: the loop returns or raises

    def _stream_once(self, messages: list[dict[str, str]], req: VoiceRequest, deadline: float,
                     on_text: OnText | None) -> str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Retryable("timed out")
        extra: dict[str, Any] = {}
        seed = self.config.effective_seed(req.seed)
        if seed is not None:
            extra["seed"] = seed
        buf = ""
        shown = False
        try:
            stream = self._client.chat.completions.create(
                model=self.config.model, messages=messages, temperature=self.config.effective_temperature(),
                stream=True, max_tokens=300, timeout=min(self.config.timeout_s, remaining), **extra)
            try:
                for chunk in stream:
                    if time.monotonic() > deadline:
                        raise _Retryable("timed out")
                    choices = getattr(chunk, "choices", None) or []
                    if not choices:
                        continue
                    piece = getattr(choices[0].delta, "content", None) or ""
                    if not isinstance(piece, str):
                        raise _BadOutput("malformed response")
                    buf += piece
                    if not shown and len(buf.strip()) >= HOLD_BACK_CHARS:
                        if self.style.reversed_roles(self.style.clean(buf, req.scenario.persona.name)):
                            return buf  # stop reading: the caller rejects it
                        shown = True
                    if shown and on_text is not None and piece:
                        on_text(self.style.clean(buf, req.scenario.persona.name))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        except openai.RateLimitError as exc:
            raise _Retryable("HTTP 429 (rate limited)", _retry_after(exc)) from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise _Retryable(f"HTTP {exc.status_code}", _retry_after(exc)) from None
            raise VoiceFailure(f"HTTP {exc.status_code}") from None
        except openai.APITimeoutError:
            raise _Retryable("timed out") from None
        except openai.APIConnectionError:
            raise _Retryable("cannot connect") from None
        except (_Retryable, _BadOutput, VoiceFailure):
            raise
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, KeyError):
            raise _BadOutput("malformed response") from None
        return buf
