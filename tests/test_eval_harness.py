"""`shifu eval`: the validity harness runs on the labelled set in tests/data/eval (rules reader) and its
thresholds are asserted without timing. The full done-thresholds of issue 14 are what `--check` tests;
this test asserts the ones the rules reader meets today and records the rest as not met (see the
report in bench/eval_baseline.md), so a regression on any met threshold fails CI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shifu.reading import evaluation as ev
from shifu.cli import app
from shifu.reading.signals import read_reply

DATA = Path(__file__).parent / "data" / "eval"


@pytest.fixture(scope="module")
def report() -> dict:
    return ev.run(DATA, read_reply, "rules")


def test_the_split_is_stable_and_a_third_is_held_out():
    ids = [f"X{i:03d}" for i in range(600)]
    held = [i for i in ids if ev.held_out(i)]
    assert held == [i for i in ids if ev.held_out(i)]  # deterministic
    assert 0.28 < len(held) / len(ids) < 0.39


def test_the_labelled_set_is_large_enough(report):
    replies = report["replies"]["tune"]["cases"] + report["replies"]["heldout"]["cases"]
    assert replies >= 300
    kinds = set(report["replies"]["tune"]["by_kind"]) | set(report["replies"]["heldout"]["by_kind"])
    assert {"paraphrase", "polite_wrong", "gaming", "style"} <= kinds
    assert set(report["conversations"]["all"]) == set(ev.CONV_TYPES)


def test_held_out_failures_are_not_listed_unless_asked(report):
    assert "failures" not in report["replies"]["heldout"]
    for row in report["conversations"]["heldout"].values():
        assert all(set(f) == {"count"} for f in row["failures"])


# The thresholds of issue 14 met by the rules reader on this set; a drop below any of them fails.
MET_SIGNALS = ("probe", "consensus_check", "solution", "stalling")


@pytest.mark.parametrize("signal", MET_SIGNALS)
def test_held_out_signals_that_meet_the_bar_keep_it(report, signal):
    c = report["replies"]["heldout"]["signals"][signal]
    assert c["precision"] is not None and c["recall"] is not None
    assert min(c["precision"], c["recall"]) >= 0.8, c  # floor while tuning continues; --check asks 0.9


def test_conversations_useless_never_resolve_and_blaming_always_escalate(report):
    conv = report["conversations"]["all"]
    assert conv["useless"]["resolved"] == 0
    assert conv["spam"]["resolved"] == 0
    assert conv["blaming"]["resolved"] == 0
    assert conv["blaming"]["escalated"] == conv["blaming"]["runs"]  # issue 14: blaming always escalates
    assert conv["useless"]["escalated"] >= 0.8 * conv["useless"]["runs"]  # issue 14: mostly escalated
    assert conv["skilled"]["resolved"] >= 0.85 * conv["skilled"]["runs"]  # floor while tuning; --check asks 0.9


def test_check_names_every_threshold_not_met(report):
    misses = ev.check(report)
    assert misses == report["misses"]
    # what is not met yet is reported, never hidden: each miss names the split, the measure and the bar
    for m in misses:
        assert any(w in m for w in ("held-out", "tune", "heldout", "skilled", "useless", "blaming"))


def test_shifu_eval_cli_json_and_check_exit_code(tmp_path):
    small = tmp_path / "eval"
    small.mkdir()
    (small / "own_cases.yaml").write_text((DATA / "own_cases.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--data", str(small), "--json", "--no-conversations"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["reader"] == "rules" and data["replies"]["tune"]["cases"] + data["replies"]["heldout"]["cases"] == 22
    res = runner.invoke(app, ["eval", "--data", str(small), "--check", "--no-conversations"])
    assert res.exit_code == (1 if data["misses"] else 0)


def test_a_malformed_case_is_a_clear_error(tmp_path):
    (tmp_path / "replies_X.yaml").write_text("- id: X1\n  scenario: apparel-size\n  reply: 好的\n  labels: {empathy: 1}\n",
                                             encoding="utf-8")
    with pytest.raises(ev.EvalSetError, match=r"replies_X.yaml case 1 \(X1\): labels\.empathy"):
        ev.load_eval_set(tmp_path)
