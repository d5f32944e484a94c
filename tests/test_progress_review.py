"""The semiannual mentor-selection review: periods, the KPI composite, ranking by hand, outputs."""
from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from progress_builders import build_gradebook, write_grader
from shifu.content.errors import ShifuError
from shifu.progress.config import load_progress_rules, load_review_rules, load_taxonomy
from shifu.progress.evidence import collect_evidence
from shifu.progress.review import kpi_points, load_apprentices, load_kpi, parse_period, run_review, write_review

# test review.yaml: parts 0.6/0.3/0.1; targets 20 s, 0.40, 1.0, 100, 0.01; points 20/25/20/25/10; cap 1.2;
# min_months 3; min_abilities 1
KPI = """agent_id,month,response_time_s,conversion,positive_rate,qc_score,complaint_rate
ANA,2026-01,20,0.40,1.0,100,0.01
ANA,2026-02,20,0.40,1.0,100,0.01
ANA,2026-03,40,0.40,1.0,100,0.01
bo,2026-01,20,0.48,1.0,100,0.005
bo,2026-02,20,0.48,1.0,100,0.005
bo,2026-03,20,0.48,1.0,100,0.005
bo,2025-12,99,0.01,0.1,10,0.9
dee,2026-01,20,0.40,1.0,100,0.01
"""
APPRENTICES = """mentor,apprentice,passed_probation,date
ana,zed,true,2026-05-01
ana,yan,false,2026-06-01
ana,old,false,2025-11-01
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    grader = write_grader(root)
    course = root / "course"
    build_gradebook(course)
    (root / "kpi.csv").write_text(KPI, encoding="utf-8")
    (root / "app.csv").write_text(APPRENTICES, encoding="utf-8")
    return root, grader, course


def _run(world, period="2026-H1"):
    root, grader, course = world
    rules, progress, tax = load_review_rules(grader), load_progress_rules(grader), load_taxonomy(grader)
    ev = collect_evidence(course, grader_dir=grader, scorer=None)
    return run_review(parse_period(period), load_kpi(root / "kpi.csv", rules), ev, tax, progress, rules,
                      load_apprentices(root / "app.csv", rules)), progress, tax


def test_periods():
    h1, h2 = parse_period("2026-H1"), parse_period("2026-H2")
    assert (h1.start, h1.end.date()) == (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-06-30").date())
    assert h2.months == ("2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12")
    assert h2.end.date() == pd.Timestamp("2026-12-31").date()
    # half-years begin at local midnight in the course's zone; the gradebook's times are UTC
    assert h2.start_utc == pd.Timestamp("2026-06-30 16:00")
    assert h2.end_utc == pd.Timestamp("2026-12-31 16:00") - pd.Timedelta(microseconds=1)
    from zoneinfo import ZoneInfo
    assert parse_period("2026-H2", ZoneInfo("UTC")).start_utc == pd.Timestamp("2026-07-01")
    for bad in ("2026-H3", "2026H2", "H2-2026", "2026-h", ""):
        with pytest.raises(ShifuError, match="YEAR-H1"):
            parse_period(bad)


def test_kpi_composite_by_hand(tmp_path):
    grader = write_grader(tmp_path)
    rules = load_review_rules(grader)
    kpi = pd.DataFrame([{"agent": "x", "month": "2026-01", "response_time": 40.0, "conversion": 0.48,
                         "positive_rate": 0.9, "quality": 80.0, "complaints": 0.0}])
    row = kpi_points(kpi, rules).iloc[0]
    # 20·(20/40) + 25·min(1.2, 0.48/0.40) + 20·0.9 + 25·0.8 + 10·1.2 (no complaints: capped)
    assert row["response_time_points"] == pytest.approx(10.0)
    assert row["conversion_points"] == pytest.approx(30.0)
    assert row["complaints_points"] == pytest.approx(12.0)
    assert row["composite"] == pytest.approx(10 + 30 + 18 + 20 + 12)


def test_ranking_by_hand(world):
    result, _, _ = _run(world)
    r = result.ranking.set_index("candidate")
    assert list(result.ranking["candidate"]) == ["bo", "ANA"]
    assert list(result.ranking["rank"]) == [1, 2]
    # bo: KPI 20+30+20+25+12 = 107 over Jan–Mar (Dec 2025 is outside H1); communication 75 (1/2 and 2/2 the same day);
    # no apprentices, so the part is left out: (0.6·107 + 0.3·75) / 0.9
    assert r.loc["bo", "kpi_score"] == pytest.approx(107.0)
    assert r.loc["bo", "competencies_score"] == pytest.approx(75.0)
    assert math.isnan(r.loc["bo", "apprentices_score"])
    assert r.loc["bo", "total"] == pytest.approx((0.6 * 107 + 0.3 * 75) / 0.9)
    assert r.loc["bo", "kpi_contribution"] == pytest.approx(0.6 * 107 / 0.9)
    # ANA (KPI id) is gradebook student ana. KPI: response 20, 20, 10 → (290/3); apprentices in H1: 1 of 2
    kpi_ana = (100 + 100 + 90) / 3
    assert r.loc["ANA", "kpi_score"] == pytest.approx(kpi_ana)
    # competencies at 2026-06-30 (max age 365, half-life 30): communication from four items on two days,
    # operations 2/2 and 2/4 on one day = 75, analysis 5/5 and 4/5 on one day = 90
    # the period ends at midnight in the course's zone (Asia/Shanghai): 2026-06-30 16:00 UTC
    end = pd.Timestamp("2026-06-30 16:00") - pd.Timedelta(microseconds=1)
    w_mar = 0.5 ** ((end - pd.Timestamp("2026-03-01 10:00")).total_seconds() / 86400 / 30)
    w_apr = 0.5 ** ((end - pd.Timestamp("2026-04-01 10:00")).total_seconds() / 86400 / 30)
    communication = 100 * (w_mar * (1 + 0.75 + 0.5) + w_apr * 0.5) / (3 * w_mar + w_apr)
    competencies = (communication + 75 + 90) / 3
    assert r.loc["ANA", "competencies_score"] == pytest.approx(competencies)
    assert (r.loc["ANA", "apprentices"], r.loc["ANA", "apprentices_passed"]) == (2, 1)
    assert r.loc["ANA", "total"] == pytest.approx(0.6 * kpi_ana + 0.3 * competencies + 0.1 * 50)
    assert bool(r.loc["ANA", "meets_kpi_bar"]) and bool(r.loc["bo", "meets_kpi_bar"])
    # where the evidence comes from: ana's letter, essay and lab review were graded by a mentor, the other six cells
    # automatically; bo's letter still waits for the mentor, so all of his is automatic
    assert (r.loc["ANA", "evidence_automatic"], r.loc["ANA", "evidence_mentor"]) == (6, 3)
    assert (r.loc["bo", "evidence_automatic"], r.loc["bo", "evidence_mentor"]) == (2, 0)
    assert "其中自动评分 6 条、导师评分 3 条" in r.loc["ANA", "explanation"]
    # each ranking explains its parts and what they add
    expl = r.loc["ANA", "explanation"]
    assert "统一KPI 96.7" in expl and "× 0.6/1 = 58.0" in expl and "2 名徒弟中 1 名转正" in expl and "沟通能力" in expl
    assert not re.search(r"[A-Za-z]{2,}", expl.replace("KPI", "").replace("ANA", ""))  # Chinese, but for KPI


def test_too_little_evidence_is_listed_apart(world):
    result, _, _ = _run(world)
    u = result.unranked.set_index("candidate")
    assert list(u.index) == ["dee"]
    assert "KPI 仅有 1/6 个月" in u.loc["dee", "reasons"] and "0/5 项能力证据充足" in u.loc["dee", "reasons"]
    assert math.isnan(u.loc["dee", "total"])
    assert any("no curriculum evidence" in n for n in result.notes)


def test_below_the_bar_ranks_after_those_above(world, tmp_path):
    root, grader, course = world
    slow = KPI.replace("bo,2026-01,20,0.48", "bo,2026-01,400,0.10").replace("bo,2026-02,20,0.48", "bo,2026-02,400,0.10") \
              .replace("bo,2026-03,20,0.48", "bo,2026-03,400,0.10")
    (tmp_path / "kpi.csv").write_text(slow, encoding="utf-8")
    rules, progress, tax = load_review_rules(grader), load_progress_rules(grader), load_taxonomy(grader)
    ev = collect_evidence(course, grader_dir=grader, scorer=None)
    result = run_review(parse_period("2026-H1"), load_kpi(tmp_path / "kpi.csv", rules), ev, tax, progress, rules)
    assert list(result.ranking["candidate"]) == ["ANA", "bo"]
    assert not result.ranking.set_index("candidate").loc["bo", "meets_kpi_bar"]


def test_outputs_csv_and_html(world):
    root, grader, course = world
    result, progress, tax = _run(world)
    csv_path, html_path = write_review(result, progress, tax, root / "out", {"KPI": "kpi.csv"})
    assert (csv_path.name, html_path.name) == ("review-2026-H1.csv", "review-2026-H1.html")
    df = pd.read_csv(csv_path)
    assert list(df["candidate"]) == ["bo", "ANA", "dee"]
    assert list(df["status"]) == ["ranked", "ranked", "insufficient evidence"]
    assert df.loc[0, "total"] == pytest.approx((0.6 * 107 + 0.3 * 75) / 0.9, abs=0.01)
    html = html_path.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html and "<script" not in html
    for needle in ("导师选拔评审 2026-H1", "dee", "KPI 仅有 1/6 个月", "达成率", "响应时间", "达到KPI分线", "KPI贡献"):
        assert needle in html
    for english in ("meets_kpi_bar", "kpi_contribution", "attainment", "True", "False", "higher", "lower"):
        assert english not in html


def test_bad_kpi_file_is_a_clear_error(world, tmp_path):
    root, grader, _ = world
    rules = load_review_rules(grader)
    (tmp_path / "a.csv").write_text("agent_id,month,response_time_s\nx,2026-01,20\n", encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        load_kpi(tmp_path / "a.csv", rules)
    assert "conversion: column is missing" in str(exc.value) and "a.csv" in str(exc.value)
    (tmp_path / "b.csv").write_text(KPI.replace("ANA,2026-02,20", "ANA,2026-02,fast"), encoding="utf-8")
    with pytest.raises(ShifuError, match=r"b.csv:3: response_time_s: 'fast' is not a number"):
        load_kpi(tmp_path / "b.csv", rules)
    with pytest.raises(ShifuError, match="does not exist"):
        load_kpi(tmp_path / "none.csv", rules)
    (tmp_path / "c.csv").write_text("mentor,apprentice,passed_probation,date\nana,zed,maybe,2026-05-01\n", encoding="utf-8")
    with pytest.raises(ShifuError, match="'maybe' is not true/false"):
        load_apprentices(tmp_path / "c.csv", rules)


def test_shifu_review_cli(world, monkeypatch):
    from shifu.cli import app

    root, grader, course = world
    monkeypatch.setenv("SHIFU_HOME", str(root))
    res = CliRunner().invoke(app, ["review", "--period", "2026-H1", "--out", str(root / "cli"), "--kpi", str(root / "kpi.csv"),
                                   "--apprentices", str(root / "app.csv"), "--course", str(course)])
    assert res.exit_code == 0, res.output
    assert "2 ranked, 1 with too little evidence" in res.output and "1. bo" in res.output
    assert "kpi.csv read as UTF-8, 8 rows" in res.output
    assert (root / "cli" / "review-2026-H1.csv").exists()
    res = CliRunner().invoke(app, ["review", "--period", "2026-H3", "--out", str(root / "cli")])
    assert isinstance(res.exception, ShifuError)


def test_formula_prints_every_figure_exactly_and_explains_totals_above_100():
    """review.yaml's own figures (0.38, 0.98, 0.005), never rounded to 0.4, 1.0 or 0.0 (issue 12)."""
    from shifu.progress.report import exact
    from shifu.progress.review import formula_html

    assert [exact(v) for v in (0.38, 0.98, 0.005, 19.0, 1.2)] == ["0.38", "0.98", "0.005", "19", "1.2"]
    html = formula_html(load_review_rules(), load_progress_rules())
    cells = re.findall(r"<td>([^<]*)</td>", html)
    for figure in ("0.38", "0.98", "0.005", "19", "95"):
        assert figure in cells, (figure, cells)
    assert "0.0" not in cells and "0.4" not in cells and "1.0" not in cells
    assert "超过 100 分" in html and "1.2 倍" in html
