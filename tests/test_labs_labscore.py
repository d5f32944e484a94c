"""Lab checks scored in the grader's process from the results the kernel kept (shifu.grading.labscore)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labrun import fresh
from shifu.content import paths
from shifu.grading import labscore

LABS = ["lab1_kpi", "lab2_staffing", "lab3_complaints", "lab4_nps", "lab5_retention"]


def _source(lab: str) -> dict:
    return json.loads((paths.course_dir() / "source" / lab / f"{lab}.ipynb").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def given() -> dict[str, dict]:
    return {lab: labscore.setup_namespace(_source(lab)) for lab in LABS}


def _graded(lab: str, ns: dict, folder: Path, given: dict) -> dict[str, labscore.LabScore]:
    scores = {}
    for gid, spec in labscore.lab_specs(_source(lab)).items():
        labscore.keep(gid, ns, spec.variables, spec.probes, folder=folder)
        scores[gid] = labscore.score_lab_cell(spec, folder, given[lab])
    return scores


@pytest.mark.parametrize("value", [
    pd.DataFrame({"agent_id": ["A01", "A02"], "rate": [0.5, 0.25]}).set_index("agent_id", drop=False),
    pd.DataFrame({"rate": [0.5, 0.25]}, index=pd.PeriodIndex(["2025-01", "2025-02"], freq="M", name="month")),
    pd.Series([3, 4], index=pd.Index(["a", "b"], name="key"), name="n"),
    pd.Series([1.5, 2.5]),
    {"天猫旗舰店": 33.2, "抖音直播间": -27.0}, ["A01", "A02"], 0.3108, 12, True, "周播报", None, float("nan"),
])
def test_answers_travel_as_json_and_keep_their_meaning(value, tmp_path):
    from shifu.labs import labcheck
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = labscore.keep("ex", {"x": value}, ["x"], folder=tmp_path)
    back = labscore.decode(json.loads(path.read_text(encoding="utf-8"))["values"]["x"])
    if isinstance(value, pd.DataFrame):
        assert labcheck.same_frame(back, value.reset_index(drop="agent_id" in value.columns) if "agent_id" in value.columns else value,
                                   keys=["agent_id"] if "agent_id" in value.columns else ["month"], explain=False)
    elif isinstance(value, pd.Series):
        assert back.name == value.name and back.tolist() == value.tolist()
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    else:
        assert back == value


def test_keep_never_raises_and_names_what_could_not_travel(tmp_path):
    class Hostile:
        def __len__(self):
            raise RuntimeError("no")

    path = labscore.keep("ex", {"a": Hostile(), "f": lambda x: 1 / 0}, ["a", "b"], probes={"f": ["1"]}, folder=tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["values"]["a"]["type"] == "unsupported" and data["values"]["b"]["type"] == "missing"
    assert data["calls"]["f"][0][1]["type"] == "unsupported"
    assert labscore.keep("ex/../../x", {}, [], folder=tmp_path / "no" / "such") is None


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_solution_gets_full_marks_scored_outside_the_kernel(lab, tmp_path, given, monkeypatch):
    grader_cwd = tmp_path / "grader"
    grader_cwd.mkdir()
    monkeypatch.chdir(grader_cwd)
    scores = _graded(lab, fresh(lab), tmp_path, given)
    assert not any(grader_cwd.iterdir()), "the grader's run of a test cell keeps nothing (that is the kernel's job)"
    for gid, got in scores.items():
        spec = labscore.lab_specs(_source(lab))[gid]
        assert got.points == spec.points, (gid, got.lines)


def test_nothing_kept_scores_zero_with_every_part_named(tmp_path, given):
    spec = labscore.lab_specs(_source("lab5_retention"))["ex4_loss__retention_analysis"]
    got = labscore.score_lab_cell(spec, tmp_path, given["lab5_retention"])
    assert got.points == 0
    assert {"✘ recovery_rate", "✘ net_loss", "✘ under_cap", "✘ loss_by_month"} <= set(got.lines)


def test_the_issue_examples_score_the_same_outside_the_kernel(tmp_path, given):
    ns = fresh("lab4_nps")
    ns["nps_total"] = 0.206
    spec = labscore.lab_specs(_source("lab4_nps"))["ex2_nps__nps_analysis"]
    labscore.keep(spec.grade_id, ns, spec.variables, spec.probes, folder=tmp_path)
    got = labscore.score_lab_cell(spec, tmp_path, given["lab4_nps"])
    assert got.points == 1.0 and "✘ nps_total" in got.lines and any("数量级不对" in line for line in got.lines)
    ns = fresh("lab5_retention")
    # the values as the notebook prints them (追回率 to 0.1 point, 净损失 to the yuan), taken from the data
    ns.update(recovery_rate=round(float(ns["recovery_rate"]), 3), net_loss=round(float(ns["net_loss"])))
    spec = labscore.lab_specs(_source("lab5_retention"))["ex4_loss__retention_analysis"]
    labscore.keep(spec.grade_id, ns, spec.variables, spec.probes, folder=tmp_path)
    assert labscore.score_lab_cell(spec, tmp_path, given["lab5_retention"]).points == 3.0


def test_a_function_right_only_where_the_trainee_can_see_fails_the_hidden_probes(tmp_path, given):
    ns = fresh("lab1_kpi")
    ns["bonus_rate"] = lambda score: 0.0 if score < 90 else 0.10  # forgets "above 100, by the score"
    spec = labscore.lab_specs(_source("lab1_kpi"))["ex4_score__kpi_reporting"]
    assert "110" in spec.probes["bonus_rate"] and "89.9" in spec.probes["bonus_rate"]
    labscore.keep(spec.grade_id, ns, spec.variables, spec.probes, folder=tmp_path)
    got = labscore.score_lab_cell(spec, tmp_path, given["lab1_kpi"])
    assert got.points == 2.0 and "✘ bonus_rate" in got.lines


def test_a_forged_or_broken_results_file_earns_nothing_and_raises_nothing(tmp_path, given):
    spec = labscore.lab_specs(_source("lab1_kpi"))["ex2_conversion__kpi_reporting"]
    folder = tmp_path / labscore.RESULTS_DIR
    folder.mkdir()
    for text in ("not json", json.dumps({"values": {"night_conversion": {"type": "pickle", "value": "gASV"}}}),
                 json.dumps({"values": [1, 2]}), json.dumps({"values": {"night_conversion": {"type": "number", "value": "0.37"}}})):
        (folder / f"{spec.grade_id}.json").write_text(text, encoding="utf-8")
        got = labscore.score_lab_cell(spec, tmp_path, given["lab1_kpi"])
        assert got.points == 0, text


def test_the_keep_line_names_what_the_grader_reads():
    spec = labscore.lab_specs(_source("lab2_staffing"))["ex3_agents__forecasting_staffing"]
    line = spec.keep_line()
    assert line.startswith("labscore.keep('ex3_agents__forecasting_staffing', globals(), [")
    assert "per_agent_hour=100" in line


@pytest.mark.parametrize("lab", LABS)
def test_each_lab_test_cell_keeps_exactly_what_the_grader_reads(lab):
    nb = _source(lab)
    specs = labscore.lab_specs(nb)
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in specs:
            visible = "".join(cell["source"]).split("### BEGIN HIDDEN TESTS")[0]
            assert specs[gid].keep_line() in visible, gid


def test_running_a_test_cell_in_the_kernel_writes_the_results_file(tmp_path, monkeypatch):
    import labrun
    monkeypatch.chdir(tmp_path)
    code, _ = labrun.test_cell("lab1_kpi", "ex2_conversion__kpi_reporting")
    ns = fresh("lab1_kpi")
    exec(code.split("### BEGIN HIDDEN TESTS")[0], ns)
    data = json.loads((tmp_path / labscore.RESULTS_DIR / "ex2_conversion__kpi_reporting.json").read_text(encoding="utf-8"))
    assert set(data["values"]) == {"conversion", "night_conversion"}
