"""Buyer voices: what turns the engine's decision for a turn into the buyer's words.

A voice never changes the score: the engine has already decided the buyer's state, which hidden
facts to tell and the outcome; the voice only phrases it. `scripted` (offline, the default) picks
lines written in the scenario; `openai` asks any OpenAI-compatible endpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from shifu.content.errors import ShifuError
from shifu.roleplay.scenario import Scenario
from shifu.reading.vocab import BuyerState, Escalation

# Called with the buyer's line so far while it is being produced; a shorter text than the previous
# call means the line started over (a regenerated or replaced line).
OnText = Callable[[str], None]

BACKENDS = ("scripted", "openai")


@dataclass(frozen=True)
class VoiceRequest:
    """Everything a voice may use for one buyer line, and nothing it must not know."""

    scenario: Scenario
    state: BuyerState | None  # None: the opening line
    mood: int
    turn: int
    seed: int
    reveal: tuple[str, ...] = ()  # hidden-fact ids to tell in this line
    revealed: tuple[str, ...] = ()  # hidden-fact ids told before this line
    said: tuple[str, ...] = ()  # the buyer's earlier lines, oldest first
    history: tuple[tuple[str, str], ...] = ()  # (role "buyer"|"trainee", text), oldest first, without `reply`
    reply: str = ""  # the trainee reply this line answers
    escalation: Escalation | None = None
    # What the engine made of the conversation, for lines that fit it (see backends/scripted.py):
    offers: tuple[str, ...] = ()  # accepts / never_offer ids the agent has offered so far
    asked: tuple[str, ...] = ()  # hidden-fact ids the agent has asked for so far
    asked_now: tuple[str, ...] = ()  # hidden-fact ids `reply` asks for (told before or not)
    question: bool = False  # `reply` asks the buyer something besides whether she agrees
    signals: tuple[str, ...] = ()  # the signals that counted in `reply`
    # What she now asks for and will wait to hear in the next reply: an id of grader/engine.yaml `demands`
    # chosen by the engine (EngineState.demand); None: nothing in particular. The line should voice it.
    demand: str | None = None


@dataclass(frozen=True)
class Utterance:
    text: str
    backend: str  # "scripted" | "openai" | "scripted-fallback"
    notice: str | None = None  # shown to the trainee, e.g. why the scripted voice took over


class Voice(Protocol):
    name: str

    def speak(self, request: VoiceRequest, on_text: OnText | None = None) -> Utterance: ...


def make_voice(backend: "str | Voice | None" = None, config_path: str | None = None) -> "Voice":
    """A voice by name ("scripted", "openai") or the voice object given; None means scripted."""
    from shifu.roleplay.voices.scripted import ScriptedVoice

    if backend is None or backend == "scripted":
        return ScriptedVoice()
    if isinstance(backend, str):
        if backend == "openai":
            from shifu.llm.config import load_llm_config
            from shifu.roleplay.voices.llm import OpenAIVoice

            return OpenAIVoice(load_llm_config(config_path))
        raise ShifuError(f"unknown backend {backend!r} — fix: use one of: {', '.join(BACKENDS)}")
    if not hasattr(backend, "speak"):
        raise ShifuError(f"backend {backend!r} cannot speak — fix: pass 'scripted', 'openai' or a voice object")
    return backend
