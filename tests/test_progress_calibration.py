"""Calibration: mentors' 导师点评 grades beside the rubric's automatic scores, per ability, module and mentor."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from progress_builders import build_calibration_gradebook, cal_auto_scores, write_grader, write_transcript
from shifu.content.errors import ShifuError
from shifu.course.simulate import MentorPanel, deal_mentors, grade_as_mentors, load_mentors
from shifu.progress.calibration import calibrate, load_roster, spearman, write_calibration
from shifu.progress.config import load_progress_rules
from shifu.progress.evidence import collect_evidence

PANEL = MentorPanel.model_validate({
    "mentors": [{"id": "synthetic-mentor-fair", "label": "公允", "bias": 0, "noise": 0},
                {"id": "synthetic-mentor-harsh", "label": "偏严", "bias": -25, "noise": 0},
                {"id": "synthetic-mentor-lenient", "label": "偏松", "bias": 20, "noise": 0},
                {"id": "synthetic-mentor-steady", "label": "公允", "bias": 3, "noise": 0}],
    "comments": [{"min": 0, "text": "好。(导师:{mentor})"}],
})


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cal")
    grader = write_grader(root)
    course = root / "course"
    url = build_calibration_gradebook(course, trainees=12)
    trainees = [f"t{i:02d}" for i in range(1, 13)]
    roster = deal_mentors(PANEL, trainees)
    rules = load_progress_rules(grader)
    # the demo's own synthetic mentors grade the 导师点评 cells, signing their comments
    assert grade_as_mentors(url, PANEL, rules.calibration.mentor_cells, roster) == 36
    for t in trainees:  # every submission has its role-play transcript, for the disagreement links
        for i, a in enumerate(("m01_logistics", "m02_refunds", "m03_claims")):
            write_transcript(course / f"submitted/{t}/{a}/late.jsonl", f"2026-0{3 + i}-02T10:00:00+08:00", [10], trainee=t)
    return root, grader, course, roster


def _result(cohort, roster=None):
    root, grader, course, _ = cohort
    ev = collect_evidence(course, grader_dir=grader, scorer=None)
    return calibrate(ev, load_progress_rules(grader), roster), ev


def test_spearman_by_hand():
    assert spearman(pd.Series([1, 2, 3, 4]), pd.Series([1, 3, 2, 4])) == pytest.approx(0.8)
    assert spearman(pd.Series([1, 2, 2, 3]), pd.Series([3, 2, 2, 1])) == pytest.approx(-1.0)
    assert math.isnan(spearman(pd.Series([1, 2]), pd.Series([2, 1])))
    assert math.isnan(spearman(pd.Series([1, 2, 3]), pd.Series([5, 5, 5])))


def test_pairs_by_hand(cohort):
    res, _ = _result(cohort)
    p = res.pairs.set_index(["trainee", "assignment"])
    # t02 (dealt to the harsh mentor), m01 (a=0): communication cells q1 de_escalation (2+0)%3=2 and
    # roleplay timeliness min(2,(14+0)%5=4)=2 → rubric 4/4 = 100 %; mentor 100-25 = 75 % of 5 = 3.75 → 4.0 (half points) = 80 %
    auto = cal_auto_scores(2, 0)
    rubric = 100 * (auto["q1_reply__de_escalation"] + auto["roleplay_1__timeliness"]) / 4
    assert p.loc[("t02", "m01_logistics"), "rubric_pct"] == pytest.approx(rubric) == pytest.approx(100)
    assert p.loc[("t02", "m01_logistics"), "mentor_pct"] == pytest.approx(80.0)
    assert p.loc[("t02", "m01_logistics"), "difference"] == pytest.approx(-20.0)
    assert p.loc[("t02", "m01_logistics"), "mentor"] == "synthetic-mentor-harsh"
    assert p.loc[("t02", "m01_logistics"), "mentor_from"] == "comment"
    assert len(res.pairs) == 36 and set(res.pairs["competency"]) == {"communication"}


def test_names_the_harsh_and_the_lenient_mentor(cohort):
    res, _ = _result(cohort)
    assert res.mentors_with("harsh") == ["synthetic-mentor-harsh"]
    assert res.mentors_with("lenient") == ["synthetic-mentor-lenient"]
    m = res.by_mentor.set_index("mentor")
    assert set(m.loc[["synthetic-mentor-fair", "synthetic-mentor-steady"], "verdict"]) == {"in_line"}
    assert (m["pairs"] == 9).all()
    # bias = own mean difference − the other mentors' pairs' mean difference
    p = res.pairs
    harsh = p[p["mentor"] == "synthetic-mentor-harsh"]["difference"].mean()
    rest = p[p["mentor"] != "synthetic-mentor-harsh"]["difference"].mean()
    assert m.loc["synthetic-mentor-harsh", "bias"] == pytest.approx(harsh - rest)
    assert m.loc["synthetic-mentor-harsh", "bias"] < -10 < 10 < m.loc["synthetic-mentor-lenient", "bias"]
    # per ability and per module, with the overall figures
    assert list(res.by_ability["competency"]) == ["communication"]
    assert list(res.by_module["assignment"]) == ["m01_logistics", "m02_refunds", "m03_claims"]
    assert res.by_module.set_index("assignment")["pairs"].tolist() == [12, 12, 12]
    assert res.overall["mean_difference"] == pytest.approx(p["difference"].mean())
    assert res.overall["spearman"] == pytest.approx(spearman(p["mentor_pct"], p["rubric_pct"]))


def test_top_disagreements_link_transcripts(cohort, tmp_path):
    res, _ = _result(cohort)
    top = res.disagreements
    assert len(top) == 10
    assert list(top["difference"].abs()) == sorted(top["difference"].abs(), reverse=True)
    assert top["difference"].abs().iloc[0] == pytest.approx(res.pairs["difference"].abs().max())
    rules = load_progress_rules(cohort[1])
    written = write_calibration(res, rules, tmp_path / "cal")
    html = (tmp_path / "cal" / "calibration.html").read_text(encoding="utf-8")
    assert "synthetic-mentor-harsh" in html and "偏严" in html and "偏松" in html and "导师评分校准" in html
    links = res.pairs.set_index(["trainee", "assignment"]).loc[("t01", "m01_logistics"), "transcripts"]
    assert links.endswith("submitted/t01/m01_logistics/late.jsonl")
    assert {p.name for p in written} >= {"calibration.html", "calibration-by_mentor.csv", "calibration-disagreements.csv"}


def test_roster_names_mentors_when_comments_are_unsigned(cohort, tmp_path):
    root, grader, course, roster = cohort
    res, ev = _result(cohort)
    ev.comments = ev.comments.iloc[0:0]  # as if nobody signed a comment
    rules = load_progress_rules(grader)
    unsigned = calibrate(ev, rules)
    assert set(unsigned.pairs["mentor"]) == {"(unknown)"} and any("name no mentor" in n for n in unsigned.notes)
    # the roster as a mentor exports it: GBK CSV, `apprentice` column, one assignment-specific row
    rows = [{"mentor": m, "apprentice": t, "assignment": ""} for t, m in roster.items()]
    rows.append({"mentor": "王老师", "apprentice": "t01", "assignment": "m02_refunds"})
    pd.DataFrame(rows).to_csv(tmp_path / "roster.csv", index=False, encoding="gbk")
    r = load_roster(tmp_path / "roster.csv")
    by_roster = calibrate(ev, rules, r).pairs.set_index(["trainee", "assignment"])
    assert by_roster.loc[("t02", "m01_logistics"), "mentor"] == "synthetic-mentor-harsh"
    assert by_roster.loc[("t01", "m02_refunds"), "mentor"] == "王老师"
    assert by_roster.loc[("t01", "m01_logistics"), "mentor_from"] == "roster"
    (tmp_path / "bad.csv").write_text("mentor,who\nx,y\n", encoding="utf-8")
    with pytest.raises(ShifuError, match="bad.csv: trainee: column is missing"):
        load_roster(tmp_path / "bad.csv")


def test_shifu_calibrate_cli(cohort, monkeypatch):
    from shifu.cli import app

    root, grader, course, _ = cohort
    monkeypatch.setenv("SHIFU_HOME", str(root))
    res = CliRunner().invoke(app, ["calibrate", "--out", str(root / "cli"), "--course", str(course)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "harsh: synthetic-mentor-harsh" in res.output and "lenient: synthetic-mentor-lenient" in res.output
    assert "36 mentor-graded pairs" in res.output
    assert (root / "cli" / "calibration.html").exists()


def test_demo_panel_has_a_harsh_and_a_lenient_mentor():
    panel = load_mentors()
    biases = {m.id: m.bias for m in panel.mentors}
    assert min(biases.values()) <= -10 and max(biases.values()) >= 10
    assert all(m.startswith("synthetic-") for m in biases)


def test_progress_report_has_the_calibration_section(cohort, monkeypatch):
    from shifu.cli import app

    root, grader, course, _ = cohort
    monkeypatch.setenv("SHIFU_HOME", str(root))
    res = CliRunner().invoke(app, ["progress", "--out", str(root / "prog"), "--course", str(course), "--as-of", "2026-06-01"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "calibration: 36 mentor-graded pairs" in res.output and "harsh: synthetic-mentor-harsh" in res.output
    html = (root / "prog" / "index.html").read_text(encoding="utf-8")
    assert "导师评分校准" in html and "synthetic-mentor-lenient" in html
    top = pd.read_csv(root / "prog" / "calibration-pairs.csv")
    worst = top.loc[top["difference"].abs().idxmax()]
    assert f'href="../course/submitted/{worst.trainee}/{worst.assignment}/late.jsonl"' in html
    by_mentor = pd.read_csv(root / "prog" / "calibration-by_mentor.csv").set_index("mentor")
    assert by_mentor.loc["synthetic-mentor-harsh", "verdict"] == "harsh"


def test_mentor_grades_without_a_rubric_score_beside_them_are_noted(tmp_path):
    from progress_builders import build_gradebook

    grader = write_grader(tmp_path)
    build_gradebook(tmp_path / "course")  # ana's lab review__business is mentor-graded; nothing automatic is `business`
    ev = collect_evidence(tmp_path / "course", grader_dir=grader, scorer=None)
    res = calibrate(ev, load_progress_rules(grader))
    assert res.overall["pairs"] == 0 and res.by_mentor.empty
    assert any("1 mentor grade(s) have no automatic score of the same ability" in n for n in res.notes)
    written = write_calibration(res, load_progress_rules(grader), tmp_path / "out")
    assert "暂无数据" in written[0].read_text(encoding="utf-8")
