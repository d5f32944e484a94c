"""Play whole conversations by kind of agent against every scenario and count the outcomes.

Used by tests/test_engine_outcomes.py (the thresholds) and runnable as a script to print the table:
    PYTHONPATH=src python tests/outcome_suites.py [conversations.yaml]
A conversations file in the evaluation-set format (a list of {scenario, type, replies}) may be given
instead of the built-in suites.
"""
from __future__ import annotations

import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).parent
if str(HERE.parent / "src") not in sys.path:
    sys.path.append(str(HERE.parent / "src"))  # an installed or PYTHONPATH shifu comes first

from shifu.content import paths  # noqa: E402
from shifu.roleplay.engine import Engine  # noqa: E402
from shifu.roleplay.scenario import Scenario, parse_scenario  # noqa: E402

SUITES = HERE / "data" / "outcome_suites.yaml"
GOOD = HERE / "data" / "conversations"
KINDS = ("skilled", "useless", "blaming", "spam")
SEEDS = range(5)


@dataclass(frozen=True)
class Run:
    scenario: str
    kind: str
    seed: int
    outcome: str  # resolved | escalated | abandoned (replies ran out, buyer still there)
    mood_start: int
    mood_end: int
    turns: int
    buyer: tuple[str, ...] = ()  # the buyer's lines after the opening, in order


def suites() -> list[tuple[str, str, list[str]]]:
    """(scenario id, kind, replies) for every scenario and kind: skilled = the `good` conversations."""
    data = yaml.safe_load(SUITES.read_text(encoding="utf-8"))
    out = []
    for path in sorted(GOOD.glob("*.yaml")):
        sid = path.stem
        good = yaml.safe_load(path.read_text(encoding="utf-8"))["good"]
        out.append((sid, "skilled", [g if isinstance(g, str) else g["reply"] for g in good]))
        own = data["scenarios"].get(sid, {})
        for kind in ("useless", "blaming", "spam"):
            out.append((sid, kind, list(own.get(kind) or data["common"][kind])))
    return out


def from_file(path: Path) -> list[tuple[str, str, list[str]]]:
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [(i["scenario"], i["type"], list(i["replies"])) for i in items]


_scenarios: dict[str, Scenario] = {}


def _scenario(sid: str) -> Scenario:
    if sid not in _scenarios:
        _scenarios[sid] = parse_scenario(paths.scenarios_dir() / f"{sid}.yaml")
    return _scenarios[sid]


def play(sid: str, kind: str, replies: list[str], seed: int) -> Run:
    eng = Engine(_scenario(sid), seed=seed)
    eng.opening()
    start = eng.state.mood
    for reply in replies:
        if eng.state.ended:
            break
        eng.respond(reply)
    outcome = eng.state.outcome if eng.state.ended else "abandoned"
    return Run(sid, kind, seed, outcome, start, eng.state.mood, eng.state.turn, tuple(t.buyer for t in eng.turns))


def play_all(convs: list[tuple[str, str, list[str]]], seeds=SEEDS) -> list[Run]:
    return [play(sid, kind, replies, seed) for sid, kind, replies in convs for seed in seeds]


def rates(runs: list[Run]) -> dict[str, dict[str, float]]:
    """kind -> {resolved, escalated, abandoned, calmer (share ending with a higher mood), n}."""
    by: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        by[r.kind].append(r)
    out = {}
    for kind, rs in by.items():
        c = Counter(r.outcome for r in rs)
        n = len(rs)
        out[kind] = {"n": n, "resolved": c["resolved"] / n, "escalated": c["escalated"] / n,
                     "abandoned": c["abandoned"] / n, "calmer": sum(r.mood_end > r.mood_start for r in rs) / n}
    return out


def table(runs: list[Run]) -> str:
    lines = [f"{'kind':8} {'n':>4} {'resolved':>9} {'escalated':>10} {'abandoned':>10} {'calmer':>7}"]
    for kind, r in sorted(rates(runs).items(), key=lambda kv: KINDS.index(kv[0]) if kv[0] in KINDS else 9):
        lines.append(f"{kind:8} {r['n']:>4} {r['resolved']:>9.0%} {r['escalated']:>10.0%} {r['abandoned']:>10.0%} "
                     f"{r['calmer']:>7.0%}")
    return "\n".join(lines)


if __name__ == "__main__":
    convs = from_file(Path(sys.argv[1])) if len(sys.argv) > 1 else suites()
    runs = play_all(convs)
    print(table(runs))
    for r in runs:
        if (r.kind == "skilled") != (r.outcome == "resolved") or (r.kind != "skilled" and r.outcome != "escalated"):
            print(f"  {r.scenario:32} {r.kind:8} seed {r.seed}: {r.outcome} mood {r.mood_start}->{r.mood_end} "
                  f"after {r.turns} turns")
