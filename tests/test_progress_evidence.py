"""The evidence table from a real nbgrader gradebook (built through nbgrader's API) and transcripts."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from progress_builders import build_gradebook, db_url, write_grader, write_transcript
from shifu.content.errors import ShifuError
from shifu.progress.config import load_taxonomy
from shifu.progress.evidence import build_evidence, collect_evidence, missing_submissions, tag_of
from shifu.grading.gradebook_tables import load_gradebook
from shifu.roleplay.transcript.course import read_transcripts


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("progress")
    grader = write_grader(root)
    course = root / "course"
    build_gradebook(course)
    # the same transcript in submitted/ and autograded/ counts once; a truncated last line is tolerated
    write_transcript(course / "submitted/ana/m01_logistics/late.jsonl", "2026-03-01T09:00:00+08:00", [30, 20])
    t = write_transcript(course / "autograded/ana/m01_logistics/late.jsonl", "2026-03-01T09:00:00+08:00", [30, 20])
    t.write_text(t.read_text(encoding="utf-8") + '{"type":"turn","turn":3,"ro', encoding="utf-8")
    write_transcript(course / "submitted/bo/m01_logistics/refund.jsonl", "2026-03-02T10:00:00Z", [12, 14])
    return grader, course


def fake_scorer(path: Path):
    """A stand-in for the rubric: fixed points per criterion, one criterion no rubric knows."""
    return [("timeliness", "communication", 1.0, 2.0), ("conversion", None, 2.0, 2.0), ("made_up", None, 1.0, 1.0)]


def test_tag_convention():
    assert tag_of("q1_reply__de_escalation") == "de_escalation"
    assert tag_of("ex2_staffing__forecasting_staffing") == "forecasting_staffing"
    assert tag_of("roleplay_3__closing_loop") == "closing_loop"
    assert tag_of("scratch") is None


def test_grades_become_tidy_evidence(course):
    grader, c = course
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    t = ev.table
    assert list(t.columns) == ["trainee", "competency", "skill", "criterion", "score", "max", "date", "source", "assignment", "item"]
    ana = t[t["trainee"] == "ana"].set_index("item")
    assert len(ana) == 9
    # the task saved twice by nbgrader (grade cell + task cell) counts once, with the mentor's score
    assert (ana.loc["main/review__business", "score"], ana.loc["main/review__business", "source"]) == (2.0, "manual")
    row = ana.loc["main/q1_reply__de_escalation"]
    assert (row["competency"], row["criterion"], row["score"], row["max"], row["source"]) == ("communication", "de_escalation", 2.0, 2.0, "autograded")
    assert ana.loc["main/q2_letter__communication", "source"] == "manual"
    assert ana.loc["main/q2_letter__communication", "score"] == 3.0
    assert ana.loc["main/q3_essay__operations", "competency"] == "operations"
    # analysis sub-skills keep their ability and their own skill id
    kpi = ana.loc["main/ex1_kpi__kpi_reporting"]
    assert (kpi["competency"], kpi["skill"]) == ("analysis", "kpi_reporting")
    assert ana.loc["main/q1_policy__policy_accuracy", "date"] == pd.Timestamp("2026-04-01 10:00:00")
    # bo's manual cell is still waiting: not evidence, but in the backlog
    bo = t[t["trainee"] == "bo"]
    assert set(bo["item"]) == {"main/q1_reply__de_escalation", "main/roleplay_1__timeliness"}
    assert ev.backlog[["trainee", "assignment", "cell"]].values.tolist() == [["bo", "m01_logistics", "q2_letter__communication"]]
    assert set(t["source"]) == {"autograded", "manual"}


def test_unknown_cells_are_reported_not_dropped(course):
    grader, c = course
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    u = ev.unmapped.set_index("item")
    assert u.loc["main/q3_extra__no_such_tag", "reason"] == "unknown tag `no_such_tag`"
    assert u.loc["main/q3_extra__no_such_tag", "grades"] == 2
    assert u.loc["main/scratch", "reason"] == "no `__<tag>` suffix"
    assert not ev.table["item"].str.contains("scratch|no_such_tag").any()


def test_transcripts_add_scored_criteria_and_latency(course):
    grader, c = course
    ev = collect_evidence(c, grader_dir=grader, scorer=fake_scorer)
    tr = ev.table[ev.table["source"] == "transcript"]
    # m01's timeliness is already graded in a roleplay_* cell for both: the transcripts' copies are skipped
    assert sorted(zip(tr["trainee"], tr["criterion"])) == [("ana", "conversion"), ("bo", "conversion")]
    assert set(tr["competency"]) == {"business"}
    assert set(tr["score"]) == {2.0} and set(tr["source"]) == {"transcript"}
    assert any("skipped" in n and "roleplay_" in n for n in ev.notes)
    assert (ev.unmapped["tag"] == "made_up").sum() == 2
    # ana's transcript counted once (autograded copy), dated in UTC
    lat = ev.latency.set_index("trainee")
    assert len(ev.latency) == 2
    assert lat.loc["ana", "mean_latency_s"] == pytest.approx(25.0)
    assert lat.loc["ana", "date"] == pd.Timestamp("2026-03-01 01:00:00")
    assert "/autograded/" in lat.loc["ana", "file"]
    assert any("not JSON" in n for n in ev.notes)


def test_without_rubric_module_transcripts_still_give_latency(course):
    grader, c = course
    ev = build_evidence(load_gradebook(db_url(c)), read_transcripts(c), load_taxonomy(grader), scorer=None)
    assert (ev.table["source"] != "transcript").all()
    assert len(ev.latency) == 2
    assert any("not scored" in n for n in ev.notes)


def test_missing_submissions(course):
    grader, c = course
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    miss = missing_submissions(ev, pd.Timestamp("2026-06-01"))
    assert sorted(map(tuple, miss.values.tolist())) == [("bo", "lab1_kpi"), ("bo", "m02_refunds"), ("cy", "lab1_kpi"),
                                                        ("cy", "m01_logistics"), ("cy", "m02_refunds")]
    # before lab1 is due, nobody is missing it
    early = missing_submissions(ev, pd.Timestamp("2026-04-15"))
    assert "lab1_kpi" not in set(early["assignment"])
    assert "cy" in ev.trainees


def test_missing_gradebook_is_one_clear_error(tmp_path):
    with pytest.raises(ShifuError) as exc:
        load_gradebook(f"sqlite:///{tmp_path / 'nope.db'}")
    assert "no gradebook at" in str(exc.value) and "fix:" in str(exc.value)
    assert not (tmp_path / "nope.db").exists()


def test_a_database_that_is_not_a_gradebook_is_left_alone(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("create table t (x int)")
    before = other.read_bytes()
    with pytest.raises(ShifuError, match="not an nbgrader gradebook"):
        load_gradebook(f"sqlite:///{other}")
    assert other.read_bytes() == before


def test_rubric_without_criteria_leaves_criterion_cells_unmapped(tmp_path):
    grader = write_grader(tmp_path, rubric="id: after_sales\n")
    build_gradebook(tmp_path / "course")
    ev = collect_evidence(tmp_path / "course", grader_dir=grader, scorer=None)
    assert "main/q1_reply__de_escalation" in set(ev.unmapped["item"])
    assert "main/q2_letter__communication" in set(ev.table["item"])  # competency tags still map
    assert any("no `criteria:`" in n for n in ev.notes)


@pytest.mark.parametrize("rubric, field", [
    ("criteria:\n  - {id: timeliness, competency: charm}\n", "criteria[0].competency"),
    ("criteria:\n  - {competency: communication}\n", "criteria[0].id"),
    ("criteria: 3\n", "criteria"),
    ("criteria:\n  - just text\n", "criteria[0]"),
])
def test_malformed_rubric_is_a_clear_error(tmp_path, rubric, field):
    grader = write_grader(tmp_path, rubric=rubric)
    with pytest.raises(ShifuError) as exc:
        load_taxonomy(grader)
    text = str(exc.value)
    assert "after_sales.yaml" in text and field in text and "fix:" in text


def test_repository_grader_files_load():
    from shifu.progress.config import load_progress_rules, load_review_rules

    tax = load_taxonomy()
    assert tax.ability_ids == ["communication", "product", "operations", "analysis", "business"]
    assert load_progress_rules().response_time.benchmark_s == 19
    rules = load_review_rules()
    assert sum(c.points for c in rules.kpi.components.values()) == 100
    assert rules.kpi.bar == 90


def test_criterion_means_what_the_scenarios_rubric_says(tmp_path):
    """need_tracing is communication in after-sales but product in pre-sales: the test cell's scenario decides."""
    grader = write_grader(tmp_path, rubric="criteria:\n  - {id: need_tracing, competency: communication}\n")
    (grader / "rubrics" / "pre_sales.yaml").write_text("id: pre_sales\ncriteria:\n  - {id: need_tracing, competency: product}\n",
                                                       encoding="utf-8")
    scen = tmp_path / "scenarios"
    scen.mkdir()
    (scen / "milk.yaml").write_text("id: milk-powder-repeat-buyer\nrubric: pre_sales\n", encoding="utf-8")
    (scen / "late.yaml").write_text("id: late-parcel-wrong-station\nrubric: after_sales\n", encoding="utf-8")
    tax = load_taxonomy(grader)
    assert tax.scenario_rubrics == {"late-parcel-wrong-station": "after_sales", "milk-powder-repeat-buyer": "pre_sales"}
    assert tax.ambiguous == {"need_tracing"}
    grades = pd.DataFrame({
        "trainee": ["a", "a", "a"], "assignment": ["m01", "m04", "m04"], "notebook": ["nb", "nb", "nb"],
        "cell": ["q1_reply__need_tracing", "q1_reply__need_tracing", "q9__need_tracing"], "cell_type": "code",
        "max": 2.0, "score": 1.0, "auto_score": 1.0, "manual_score": None, "needs_manual_grade": False,
        "timestamp": pd.Timestamp("2026-03-01"), "duedate": pd.NaT})
    sources = pd.DataFrame({"assignment": ["m01", "m04"], "notebook": ["nb", "nb"],
                            "cell": ["q1_reply__need_tracing", "q1_reply__need_tracing"],
                            "source": ['reply_points(q1_reply, "late-parcel-wrong-station", "在吗", 2.0)',
                                       "reply_points(q1_reply, 'milk-powder-repeat-buyer', '在吗', 2.0)"]})
    from shifu.grading.gradebook_tables import GradebookData

    gbd = GradebookData(grades=grades, sources=sources, submissions=pd.DataFrame(columns=["trainee", "assignment", "timestamp"]),
                        students=pd.DataFrame({"trainee": ["a"], "name": [""]}),
                        assignments=pd.DataFrame({"assignment": ["m01", "m04"], "duedate": pd.NaT}), url="")
    ev = build_evidence(gbd, [], tax)
    t = ev.table.astype({"assignment": str, "item": str})  # text columns are categoricals
    by = dict(zip(t["assignment"] + "/" + t["item"], t["competency"]))
    assert by == {"m01/nb/q1_reply__need_tracing": "communication", "m04/nb/q1_reply__need_tracing": "product",
                  "m04/nb/q9__need_tracing": "communication"}
    assert any("1 graded cell(s) tagged `need_tracing` name no scenario" in n for n in ev.notes)


def test_gradebook_cell_sources_are_read(course):
    from shifu.grading.gradebook_tables import load_gradebook

    grader, c = course
    src = load_gradebook(db_url(c)).sources
    assert "late-parcel-wrong-station" in src.set_index("cell").loc["q1_reply__de_escalation", "source"]


def test_a_transcript_broken_in_the_middle_is_left_out_with_its_reason(tmp_path):
    from shifu.roleplay.transcript.course import read_transcript_file

    path = write_transcript(tmp_path / "late.jsonl", "2026-03-01T09:00:00+08:00", [30, 20])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = "not json at all"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tf = read_transcript_file(path, "ana", "m01_logistics")
    assert tf.latencies == [] and "line 3" in tf.error
