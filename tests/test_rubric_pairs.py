"""The labeled better/worse pairs in tests/data/reply_pairs.yaml: the rubric must rank them as a trainer does."""
from __future__ import annotations

from pathlib import Path

import yaml

from shifu.reading.rubric import score_reply
from shifu.roleplay.scenario import scenario_files

PAIRS = Path(__file__).parent / "data" / "reply_pairs.yaml"


def load_pairs() -> list[dict]:
    return yaml.safe_load(PAIRS.read_text(encoding="utf-8"))["pairs"]


def test_the_labeled_set_is_broad_enough():
    pairs = load_pairs()
    known = {p.stem for p in scenario_files()}
    assert len(pairs) >= 40
    assert sum(p["kind"] == "gaming" for p in pairs) >= 12
    assert {p["kind"] for p in pairs} <= {"ordinary", "gaming"}
    assert {p["scenario"] for p in pairs} <= known, "every pair names a scenario in scenarios/"
    assert len({p["scenario"] for p in pairs}) >= 5
    for p in pairs:
        assert p["better"] != p["worse"] and p["buyer"] and p["reason"]


def test_pairwise_accuracy():
    results: dict[str, list[bool]] = {"ordinary": [], "gaming": []}
    wrong = []
    for i, p in enumerate(load_pairs()):
        better = score_reply(p["scenario"], p["better"], buyer=p["buyer"])
        worse = score_reply(p["scenario"], p["worse"], buyer=p["buyer"])
        ok = better.total > worse.total
        results[p["kind"]].append(ok)
        if not ok:
            wrong.append(f"#{i} {p['kind']} {p['scenario']}: better {better.total} <= worse {worse.total} ({p['reason']})")
    ordinary = sum(results["ordinary"]) / len(results["ordinary"])
    gaming = sum(results["gaming"]) / len(results["gaming"])
    print(f"\npairwise accuracy: ordinary {sum(results['ordinary'])}/{len(results['ordinary'])} = {ordinary:.1%}, "
          f"gaming {sum(results['gaming'])}/{len(results['gaming'])} = {gaming:.1%}")
    for line in wrong:
        print("  " + line)
    assert ordinary >= 0.95, wrong
    assert gaming == 1.0, wrong
