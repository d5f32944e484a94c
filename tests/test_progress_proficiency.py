"""Proficiency rules: recency weighting, minimum evidence, maximum age, levels, at-risk and improvement."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from progress_builders import write_grader
from shifu.progress.config import load_progress_rules, load_taxonomy
from shifu.progress.evidence import EVIDENCE_COLUMNS
from shifu.progress.proficiency import improvement, module_trend, proficiency

NOW = pd.Timestamp("2026-05-10 12:00")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    grader = write_grader(tmp_path_factory.mktemp("prof"))
    # test rules: min_items 2, max_age_days 100, half_life_days 30, undated_weight 0.5
    return load_taxonomy(grader), load_progress_rules(grader).proficiency


def ev(rows) -> pd.DataFrame:
    """rows: (trainee, competency, skill, score, max, days before NOW or None for undated)."""
    out = pd.DataFrame([
        {"trainee": t, "competency": c, "skill": s, "criterion": s, "score": sc, "max": mx,
         "date": None if d is None else NOW - pd.Timedelta(days=d), "source": "autograded", "assignment": "m01", "item": "x"}
        for t, c, s, sc, mx, d in rows
    ], columns=EVIDENCE_COLUMNS)
    out["date"] = pd.to_datetime(out["date"])
    return out


def cell(prof: pd.DataFrame, trainee: str, skill: str) -> pd.Series:
    return prof[(prof["trainee"] == trainee) & (prof["skill"] == skill)].iloc[0]


def test_recency_weighted_mean_by_hand(setup):
    tax, rules = setup
    # today 2/2 (weight 1) and 30 days ago 1/2 (weight ½): (1·1 + ½·0.5) / 1.5 = 83.33
    p = proficiency(ev([("ana", "communication", "communication", 2, 2, 0),
                        ("ana", "communication", "communication", 1, 2, 30)]), tax, rules, NOW)
    row = cell(p, "ana", "communication")
    assert row["score"] == pytest.approx(100 * 1.25 / 1.5)
    assert row["items"] == 2 and row["sufficient"]
    assert row["weight"] == pytest.approx(1.5)
    assert (row["level"], row["level_label"]) == ("proficient", "熟练")


def test_newer_evidence_counts_more(setup):
    tax, rules = setup
    improving = proficiency(ev([("a", "product", "product", 0, 1, 60), ("a", "product", "product", 1, 1, 0)]), tax, rules, NOW)
    declining = proficiency(ev([("a", "product", "product", 1, 1, 60), ("a", "product", "product", 0, 1, 0)]), tax, rules, NOW)
    assert cell(improving, "a", "product")["score"] == pytest.approx(80.0)  # weights ¼ and 1
    assert cell(declining, "a", "product")["score"] == pytest.approx(20.0)


def test_too_little_evidence_is_insufficient_not_a_number(setup):
    tax, rules = setup
    p = proficiency(ev([("ana", "operations", "operations", 4, 4, 1)]), tax, rules, NOW)
    row = cell(p, "ana", "operations")
    assert math.isnan(row["score"]) and not row["sufficient"] and row["items"] == 1
    assert (row["level"], row["level_label"]) == ("insufficient", "证据不足")
    # every ability and sub-skill is present for every trainee, even with no evidence at all
    assert len(p) == 5 + 3
    assert cell(p, "ana", "business")["items"] == 0


def test_old_and_future_evidence_do_not_count(setup):
    tax, rules = setup
    rows = [("ana", "business", "business", 1, 1, 101), ("ana", "business", "business", 1, 1, 150),
            ("ana", "business", "business", 1, 1, 5), ("ana", "business", "business", 0, 1, -3)]
    row = cell(proficiency(ev(rows), tax, rules, NOW), "ana", "business")
    assert row["items"] == 1 and not row["sufficient"]
    # a week later... still only the one recent item; going back 60 days brings the old ones in
    back = cell(proficiency(ev(rows), tax, rules, NOW - pd.Timedelta(days=60)), "ana", "business")
    assert back["items"] == 2 and back["score"] == pytest.approx(100.0)


def test_undated_evidence_uses_undated_weight(setup):
    tax, rules = setup
    p = proficiency(ev([("a", "product", "product", 1, 1, 0), ("a", "product", "product", 0, 1, None)]), tax, rules, NOW)
    assert cell(p, "a", "product")["score"] == pytest.approx(100 / 1.5)


def test_sub_skills_roll_up_into_analysis(setup):
    tax, rules = setup
    rows = [("a", "analysis", "kpi_reporting", 1, 1, 0), ("a", "analysis", "kpi_reporting", 1, 2, 0),
            ("a", "analysis", "forecasting_staffing", 0, 1, 0)]
    p = proficiency(ev(rows), tax, rules, NOW)
    assert cell(p, "a", "kpi_reporting")["score"] == pytest.approx(75.0)
    assert cell(p, "a", "analysis")["score"] == pytest.approx(50.0)
    assert cell(p, "a", "analysis")["competency"] == "analysis"
    assert not cell(p, "a", "forecasting_staffing")["sufficient"]


def test_levels_follow_competencies_yaml(setup):
    tax, _ = setup
    assert [tax.level_for(s).id for s in (0, 59.9, 60, 74.9, 75, 90, 100)] == \
           ["beginner", "beginner", "developing", "developing", "proficient", "expert", "expert"]
    assert tax.level_for(None).id == "insufficient"


def test_module_trend_in_course_order(setup):
    table = ev([("a", "product", "product", 1, 2, 10), ("a", "product", "product", 2, 2, 10)])
    table["assignment"] = ["m02", "m01"]
    order = pd.DataFrame({"assignment": ["m01", "m02"], "order": [0, 1]})
    t = module_trend(table, order)
    assert t["assignment"].tolist() == ["m01", "m02"] and t["rate"].tolist() == [100.0, 50.0]


def test_improvement_compares_now_with_window_ago(setup):
    from shifu.progress.evidence import Evidence

    tax, rules = setup
    rows = [("up", "product", "product", 0, 1, 50), ("up", "product", "product", 0, 1, 45),
            ("up", "product", "product", 1, 1, 1), ("up", "product", "product", 1, 1, 0),
            ("flat", "product", "product", 1, 2, 50), ("flat", "product", "product", 1, 2, 45),
            ("flat", "product", "product", 1, 2, 0)]
    empty = pd.DataFrame(columns=["trainee", "name"])
    e = Evidence(table=ev(rows), unmapped=pd.DataFrame(), backlog=pd.DataFrame(), latency=pd.DataFrame(columns=["trainee"]),
                 students=empty, assignments=pd.DataFrame(), submissions=pd.DataFrame(), taxonomy=tax)
    imp = improvement(e, tax, rules, window_days=30, as_of=NOW)
    assert imp["trainee"].tolist() == ["up", "flat"]
    assert imp.iloc[0]["before"] == pytest.approx(0.0) and imp.iloc[0]["change"] > 50
    assert imp.iloc[1]["change"] == pytest.approx(0.0)
