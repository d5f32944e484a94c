"""The offline buyer voice: lines written in the scenario, chosen deterministically from the seed.

The choice depends only on (seed, scenario, turn, state) and the lines already said, so a resumed
session continues exactly as the original would have, with no hidden random state to restore.
"""
from __future__ import annotations

import random

from ..scenario import Scenario
from ..vocab import BuyerState
from . import OnText, Utterance, VoiceRequest


def _pick(options: list[str], said: tuple[str, ...], taken: list[str], rng: random.Random) -> str:
    """A line not said yet; when every line was said, any but the most recent one."""
    fresh = [o for o in options if o not in taken and not any(o in s for s in said)]
    if not fresh:
        last = said[-1] if said else ""
        fresh = [o for o in options if o not in taken and o not in last] or list(options)
    return rng.choice(fresh)


def scripted_line(scenario: Scenario, state: BuyerState | None, seed: int, turn: int,
                  reveal: tuple[str, ...] = (), said: tuple[str, ...] = ()) -> str:
    """The buyer's line: a reveal line per newly told fact, then a line for the state."""
    rng = random.Random(f"{seed}|{scenario.id}|{turn}|{state.value if state else 'opening'}")
    taken: list[str] = []
    if state is None:
        return _pick(list(scenario.lines.opening), said, taken, rng)
    for fid in reveal:
        taken.append(_pick(list(scenario.hidden_fact(fid).reveal), said, taken, rng))
    taken.append(_pick(scenario.lines.for_state(state), said, taken, rng))
    return "".join(taken)


class ScriptedVoice:
    name = "scripted"

    def speak(self, request: VoiceRequest, on_text: OnText | None = None) -> Utterance:
        text = scripted_line(request.scenario, request.state, request.seed, request.turn, request.reveal, request.said)
        if on_text is not None:
            on_text(text)
        return Utterance(text=text, backend=self.name)
