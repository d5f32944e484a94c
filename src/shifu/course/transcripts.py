"""Play a fixed list of trainee replies through the role-play engine and keep the transcript.

Used for the reference transcripts beside source notebooks and for the demo cohort: the buyer is
the real engine (offline scripted voice), so a transcript made here grades exactly like one a
trainee makes in the chat widget.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ShifuError
from ..scenario import Scenario


def play_script(scenario: Scenario, turns: list[tuple[str, float]], path: Path, trainee: str | None = None,
                seed: int = 0, stop_after: int | None = None) -> str:
    """Write a fresh transcript at `path`; return the outcome. stop_after: leave the chat after that many replies."""
    try:
        from ..engine import Engine
    except ImportError as exc:
        raise ShifuError(f"the role-play engine is not available ({exc}) — fix: install the project with `make setup`") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    engine = Engine(scenario, backend=None, seed=seed, transcript_path=path, trainee=trainee)
    engine.opening()
    for i, (reply, latency) in enumerate(turns):
        if stop_after is not None and i >= stop_after:
            break
        if engine.state.ended:
            break
        engine.respond(reply, latency_s=latency)
    return str(engine.finish().outcome)
