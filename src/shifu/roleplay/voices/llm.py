"""The LLM buyer voice: any OpenAI-compatible endpoint, through shifu.llm.client.

The network must never stop a conversation: 429/5xx/timeouts are retried with backoff inside a
per-line deadline, a line that speaks as the agent or breaks character is regenerated once, and
then the scripted voice takes over for that line (marked "scripted-fallback", with a notice saying
what the server said and what to do). Reasoning a model writes into its answer is removed by
shifu.llm.client before the trainee sees anything and before the line is checked or stored; a
parameter or message layout the server refuses is adapted once (a notice says so) and remembered.
The API key is redacted from every notice and log line this module writes.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from shifu.llm import client as llm_client
from shifu.llm.client import Adaptation, Completion, LLMError
from shifu.llm.config import LLMConfig
from shifu.roleplay.voices import OnText, Utterance, Voice, VoiceRequest
from shifu.roleplay.voices.scripted import ScriptedVoice
from shifu.roleplay.voices.voice_style import VoiceStyle, load_style

log = logging.getLogger("shifu.roleplay.voices.llm")

# How much of a streamed line is held back before the first chunk is shown: enough to tell a line
# that opens like an agent's ("亲,您好,我是客服…") before the trainee sees it.
HOLD_BACK_CHARS = 12


class VoiceFailure(Exception):
    """This line cannot come from the model; `reason` is safe to show (no key, no prompt)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _BadOutput(Exception):
    pass


class OpenAIVoice:
    """The buyer's lines from a model. `client`: an openai-style client (tests); `sleep`: the backoff wait."""

    name = "openai"

    def __init__(self, config: LLMConfig, style: VoiceStyle | None = None, fallback: Voice | None = None,
                 client: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.style = style or load_style()
        self.fallback = fallback or ScriptedVoice()
        self._sleep = sleep
        self._client = client or llm_client.make_client(config)

    def speak(self, request: VoiceRequest, on_text: OnText | None = None) -> Utterance:
        adapted: list[Adaptation] = []
        try:
            text = self._line(request, on_text, adapted)
            return Utterance(text=text, backend=self.name, notice=self._adapted_notice(adapted))
        except Exception as exc:  # whatever went wrong, the buyer still answers
            reason = self.config.redact(exc.reason if isinstance(exc, VoiceFailure) else self.style.unexpected_error.format(error=type(exc).__name__))
            log.warning("LLM buyer voice unavailable, scripted voice used for turn %s: %s", request.turn, reason)
            line = self.fallback.speak(request)
            if on_text is not None:
                on_text("")
                on_text(line.text)
            return Utterance(text=line.text, backend="scripted-fallback",
                             notice=self.style.fallback_notice.format(reason=reason))

    def _adapted_notice(self, adapted: list[Adaptation]) -> str | None:
        if not adapted:
            return None
        what = self.config.redact("; ".join(str(a) for a in adapted))
        notice = self.style.adapted_notice.format(what=what)
        if self.config.exam and any(a.param == "seed" for a in adapted):
            notice += self.style.exam_seed_refused
        return notice

    def _line(self, req: VoiceRequest, on_text: OnText | None, adapted: list[Adaptation]) -> str:
        deadline = time.monotonic() + self.config.total_timeout_s
        messages = self.style.messages(req)
        problem = ""
        for _ in range(2):  # the first answer, and one regeneration
            try:
                done = self._with_retries(messages, req, deadline, on_text)
            except _BadOutput as exc:
                problem = str(exc)
            else:
                adapted += done.adaptations
                text = self.style.clean(done.text, req.scenario.persona.name)
                problem = self.style.problem(text) or ""
                if not problem:
                    if on_text is not None:
                        on_text(text)
                    return text
            log.info("LLM buyer line rejected (%s), regenerating", problem)
            if on_text is not None:
                on_text("")
        raise VoiceFailure(self.style.bad_output.format(problem=problem))

    def _with_retries(self, messages: list[dict[str, str]], req: VoiceRequest, deadline: float,
                      on_text: OnText | None) -> Completion:
        delay = self.config.backoff_s
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._stream_once(messages, req, deadline, on_text)
            except LLMError as exc:
                if exc.kind == "malformed":
                    raise _BadOutput(exc.reason) from None
                if not exc.retryable:
                    raise VoiceFailure(exc.reason) from None
                wait = max(delay, exc.retry_after or 0.0)
                if attempt == self.config.max_retries or time.monotonic() + wait >= deadline:
                    raise VoiceFailure(exc.reason) from None
                log.info("LLM request failed (%s), retry %d in %.2fs", exc.reason, attempt + 1, wait)
                self._sleep(wait)
                delay *= 2
        raise VoiceFailure("no attempts")  # unreachable: the loop returns or raises

    def _stream_once(self, messages: list[dict[str, str]], req: VoiceRequest, deadline: float,
                     on_text: OnText | None) -> Completion:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LLMError(f"timed out: no answer within {self.config.total_timeout_s:g} s", "timeout", retryable=True)
        name = req.scenario.persona.name
        shown = False

        def visible(text: str) -> bool:
            nonlocal shown
            line = self.style.clean(text, name)
            if not shown and len(line) >= HOLD_BACK_CHARS:
                if self.style.reversed_roles(line):
                    return True  # stop reading: the caller rejects it
                shown = True
            if shown and on_text is not None:
                on_text(line)
            return False

        return llm_client.chat(
            self.config, messages, client=self._client, stream=True, on_visible=visible,
            temperature=self.config.effective_temperature(), seed=self.config.effective_seed(req.seed),
            opener=self.style.conversation_start, timeout=min(self.config.timeout_s, remaining), deadline=deadline)
