"""The scripted buyer voice: deterministic from the seed, reveals when asked, no repeats while others remain."""
from __future__ import annotations

import pytest

from engine_helpers import scenario
from shifu import paths
from shifu.backends.scripted import scripted_line
from shifu.engine import Engine
from shifu.signals import Signals, Span
from shifu.vocab import BuyerState, Signal

IDS = sorted(p.stem for p in paths.scenarios_dir().glob("*.yaml") if not p.name.startswith("_"))


def _empathy(reply: str, ctx) -> Signals:
    return Signals(spans=(Span(Signal.empathy, reply, 0, len(reply)),), substance=0.9)


def _conversation(seed: int, n: int = 5) -> list[str]:
    eng = Engine(scenario("late-parcel-wrong-station"), seed=seed, reader=_empathy)
    lines = [eng.opening()]
    for i in range(n):
        lines.append(eng.respond(f"理解您{i}").buyer)
    return lines


def test_same_seed_same_lines():
    assert _conversation(3) == _conversation(3)


def test_seeds_change_the_lines():
    assert len({tuple(_conversation(seed)) for seed in range(6)}) > 1


@pytest.mark.parametrize("scenario_id", IDS)
@pytest.mark.parametrize("state", list(BuyerState))
def test_no_line_repeats_while_others_remain(scenario_id, state):
    sc = scenario(scenario_id)
    options = sc.lines.for_state(state)
    said: list[str] = []
    for turn in range(len(options)):
        said.append(scripted_line(sc, state, seed=1, turn=turn + 1, said=tuple(said)))
    assert sorted(said) == sorted(options), "every line once before any line twice"
    again = scripted_line(sc, state, seed=1, turn=99, said=tuple(said))
    assert again in options and again != said[-1], "after a full round, never the line just said"


@pytest.mark.parametrize("scenario_id", IDS)
def test_a_revealed_fact_is_told_with_its_own_lines(scenario_id):
    sc = scenario(scenario_id)
    for fact in sc.hidden_facts:
        line = scripted_line(sc, BuyerState.calming, seed=0, turn=2, reveal=(fact.id,))
        assert any(line.startswith(r) for r in fact.reveal)
        assert any(line.endswith(c) for c in sc.lines.calming)
        said = (line,)
        second = scripted_line(sc, BuyerState.calming, seed=0, turn=3, reveal=(fact.id,), said=said)
        assert not any(second.startswith(r) and r in line for r in fact.reveal)


def test_the_opening_comes_from_the_opening_lines():
    sc = scenario("late-parcel-wrong-station")
    assert {Engine(sc, seed=s).opening() for s in range(20)} <= set(sc.lines.opening)
