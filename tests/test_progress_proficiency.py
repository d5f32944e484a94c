"""Proficiency rules: recency weighting, minimum evidence, maximum age, levels, at-risk and improvement."""
from __future__ import annotations

import math
import re

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


def _evidence(tax, rows, assignments=None):
    from shifu.progress.evidence import Evidence

    empty = pd.DataFrame(columns=["trainee", "name"])
    table = ev([r[:6] for r in rows])
    table["assignment"] = [r[6] for r in rows]
    order = assignments or sorted(set(table["assignment"]))
    a = pd.DataFrame({"assignment": order, "duedate": pd.NaT, "order": range(len(order))})
    return Evidence(table=table, unmapped=pd.DataFrame(), backlog=pd.DataFrame(), latency=pd.DataFrame(columns=["trainee"]),
                    students=empty, assignments=a, submissions=pd.DataFrame(columns=["trainee", "assignment", "timestamp"]),
                    taxonomy=tax)


def test_trend_compares_the_latest_assignments_with_the_earlier_ones_in_time_order(setup):
    from shifu.progress.config import TrendRules
    from shifu.progress.proficiency import improvement, trend

    tax, _ = setup
    # "up" did m02 first (40 days ago, 0/1), then m01 (20 days ago, 0/1), then lab1 (today, 1/1): by time the
    # last one is lab1 — alphabetical or course order would pick another
    rows = [("up", "product", "product", 0, 1, 40, "m02"), ("up", "product", "product", 0, 1, 20, "m01"),
            ("up", "product", "product", 1, 1, 0, "lab1"),
            ("flat", "product", "product", 1, 2, 40, "m01"), ("flat", "product", "product", 1, 2, 20, "m02"),
            ("flat", "product", "product", 1, 2, 0, "lab1"),
            ("new", "product", "product", 1, 1, 0, "m01")]  # one assignment: no trend yet
    e = _evidence(tax, rows, ["m01", "m02", "lab1"])
    rules = TrendRules(recent_assignments=1, min_earlier=2)
    t = trend(e, rules).set_index("trainee")
    assert set(t.index) == {"up", "flat"}
    assert (t.loc["up", "earlier"], t.loc["up", "recent"], t.loc["up", "change"]) == (0.0, 100.0, 100.0)
    assert t.loc["flat", "change"] == pytest.approx(0.0)
    imp = improvement(e, tax, rules)
    assert imp["trainee"].tolist() == ["up"]  # only gains
    # the trainee's own time order, course order for undated ties
    from shifu.progress.proficiency import assignment_rates

    r = assignment_rates(e)
    assert r[r["trainee"] == "up"]["assignment"].tolist() == ["m02", "m01", "lab1"]


def test_module_trend_is_in_the_order_the_trainee_did_the_work(setup):
    table = ev([("a", "product", "product", 1, 2, 5), ("a", "product", "product", 2, 2, 30), ("a", "product", "product", 2, 2, 60)])
    table["assignment"] = ["lab1_kpi", "m01_logistics", "m00_orientation"]
    order = pd.DataFrame({"assignment": ["m00_orientation", "m01_logistics", "lab1_kpi"], "order": [0, 1, 2]})
    t = module_trend(table, order)
    assert t["assignment"].tolist() == ["m00_orientation", "m01_logistics", "lab1_kpi"]
    assert t["order"].tolist() == [0, 1, 2]


def test_at_risk_singles_out_the_few_with_chinese_reasons(setup):
    from shifu.progress.config import load_progress_rules
    from shifu.progress.proficiency import at_risk, proficiency as prof_of

    tax, prules = setup
    rules = load_progress_rules()  # the repository's wording and thresholds
    rows = []
    # ten trainees around 70–80 in communication and product, one far behind, one weak only in product
    for i in range(10):
        s = 0.7 + 0.01 * i
        rows += [(f"t{i}", c, c, s, 1, d, a) for c in ("communication", "product") for d, a in ((10, "m01"), (5, "m02"))]
    rows += [("behind", c, c, 0.3, 1, d, a) for c in ("communication", "product") for d, a in ((10, "m01"), (5, "m02"))]
    rows += [("gap", "communication", "communication", 0.8, 1, d, a) for d, a in ((10, "m01"), (5, "m02"))]
    rows += [("gap", "product", "product", 0.35, 1, d, a) for d, a in ((10, "m01"), (5, "m02"))]
    e = _evidence(tax, rows, ["m01", "m02"])
    p = prof_of(e, tax, prules, NOW)
    risk = at_risk(e, p, tax, rules.at_risk, NOW, text=rules.say).set_index("trainee")
    assert set(risk.index) == {"behind", "gap"}  # 2 of 12, not everyone below 60 in something
    assert "比同期中位数" in risk.loc["behind", "reasons"] and "综合 30 分" in risk.loc["behind", "reasons"]
    assert "产品能力 35 分" in risk.loc["gap", "reasons"]
    assert not re.search(r"[A-Za-z]", "".join(risk["reasons"]))


def test_a_cohort_wide_dip_flags_no_one(setup):
    from shifu.progress.config import load_progress_rules
    from shifu.progress.proficiency import at_risk, proficiency as prof_of

    tax, prules = setup
    rules = load_progress_rules()
    # everyone scored 40–50 on a hard module: below 60, but no one is behind the others
    rows = [(f"t{i}", "product", "product", 0.4 + 0.01 * i, 1, d, a) for i in range(10) for d, a in ((10, "m01"), (5, "m02"))]
    e = _evidence(tax, rows, ["m01", "m02"])
    assert at_risk(e, prof_of(e, tax, prules, NOW), tax, rules.at_risk, NOW, text=rules.say).empty


def test_falling_trend_is_a_reason(setup):
    from shifu.progress.config import TrendRules, load_progress_rules
    from shifu.progress.proficiency import at_risk, proficiency as prof_of

    tax, prules = setup
    rules = load_progress_rules()
    rows = []
    for i in range(6):
        rows += [(f"t{i}", "product", "product", 0.8, 1, d, a) for d, a in ((30, "m01"), (20, "m02"), (10, "m03"))]
    rows += [("slip", "product", "product", s, 1, d, a) for s, d, a in ((0.95, 30, "m01"), (0.95, 20, "m02"), (0.5, 10, "m03"))]
    e = _evidence(tax, rows, ["m01", "m02", "m03"])
    risk = at_risk(e, prof_of(e, tax, prules, NOW), tax, rules.at_risk, NOW, text=rules.say,
                   trend_rules=TrendRules(recent_assignments=1, min_earlier=2)).set_index("trainee")
    assert list(risk.index) == ["slip"]
    assert risk.loc["slip", "reasons"] == "最近 1 份作业得分率 50%,此前 95%,下滑 45 个百分点"
