"""Shared bits for the engine tests."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from shifu.content import paths
from shifu.reading.signals import Signals, Span
from shifu.reading.vocab import Signal
from shifu.roleplay.engine import Engine
from shifu.roleplay.scenario import Scenario, parse_scenario


@lru_cache(maxsize=None)
def scenario(scenario_id: str) -> Scenario:
    """A scenario checked against its schema only, so engine tests do not depend on the rubric files."""
    return parse_scenario(paths.scenarios_dir() / f"{scenario_id}.yaml")


def sig(*names: Signal, probed=(), offers=(), forbidden=(), substance: float = 0.9) -> Signals:
    """Hand-made Signals: one span per signal name, the hidden facts asked for, the plans and forbidden offers."""
    return Signals(spans=tuple(Span(n, n.value, i, i + 1) for i, n in enumerate(names)), probed_facts=frozenset(probed),
                   resolutions=frozenset(offers), forbidden_offers=frozenset(forbidden), substance=substance)


def played(scenario_id: str, replies: list[str], *, seed: int = 0, reader=None, transcript: Path | None = None,
           rules=None, latency_s: float | None = None) -> Engine:
    """The scripted engine after the buyer's opening and `replies` (stopping when the conversation ends)."""
    eng = Engine(scenario(scenario_id), seed=seed, reader=reader, transcript_path=transcript, rules=rules)
    eng.opening()
    for r in replies:
        if eng.state.ended:
            break
        eng.respond(r, latency_s=latency_s)
    return eng
