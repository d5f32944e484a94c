"""The five analysis labs through real nbgrader: validate, release, autograde.

One temporary course holds all five labs. `nbgrader validate` runs on the sources while
`generate_assignment` and one `autograde` run cover two submissions per lab: the release notebook
untouched (must execute and score zero) and the solution (must score full marks).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from shifu.content import paths

pytestmark = pytest.mark.slow

LABS = ["lab1_kpi", "lab2_staffing", "lab3_complaints", "lab4_nps", "lab5_retention"]
LAB_SKILL = {"lab1_kpi": "kpi_reporting", "lab2_staffing": "forecasting_staffing", "lab3_complaints": "complaint_analysis",
             "lab4_nps": "nps_analysis", "lab5_retention": "retention_analysis"}
BIN = Path(sys.executable).parent


def _source(lab: str) -> Path:
    return paths.course_dir() / "source" / lab / f"{lab}.ipynb"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    env.pop("SHIFU_GRADEBOOK_URL", None)  # the temporary course keeps its own SQLite gradebook
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("course")
    shutil.copy(paths.course_dir() / "nbgrader_config.py", root)
    for lab in LABS:
        shutil.copytree(_source(lab).parent, root / "source" / lab)
    sources = [str(root / "source" / lab / f"{lab}.ipynb") for lab in LABS]
    # validate runs beside the release/autograde pipeline: the two share nothing but the sources
    validate = subprocess.Popen([str(BIN / "nbgrader"), "validate", *sources], cwd=root, env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        gen = _run(["generate_assignment", "lab*", "--force"], root)
        assert gen.returncode == 0, gen.stderr[-3000:]
        for lab in LABS:
            for student, notebook in (("untouched", root / "release" / lab / f"{lab}.ipynb"),
                                      ("solution", root / "source" / lab / f"{lab}.ipynb")):
                dest = root / "submitted" / student / lab
                dest.mkdir(parents=True)
                shutil.copy(notebook, dest / f"{lab}.ipynb")
        from nbgrader.api import Gradebook

        db = f"sqlite:///{root / 'gradebook.db'}"
        with Gradebook(db) as gb:
            for student in ("untouched", "solution"):
                gb.update_or_create_student(student)
        auto = _run(["autograde", "lab*", "--force"], root)
        assert auto.returncode == 0, auto.stderr[-3000:]
        scores = {}
        with Gradebook(db) as gb:
            for lab in LABS:
                for student in ("untouched", "solution"):
                    sub = gb.find_submission(lab, student)
                    scores[lab, student] = (sub.score, sub.max_score)
        validate_out, _ = validate.communicate(timeout=900)
    finally:
        if validate.poll() is None:
            validate.kill()
    return SimpleNamespace(root=root, scores=scores, autograde_log=auto.stdout + auto.stderr,
                           validate_rc=validate.returncode, validate_out=validate_out)


def test_every_lab_source_passes_nbgrader_validate(course):
    assert course.validate_rc == 0, course.validate_out[-3000:]
    assert course.validate_out.count("Success! Your notebook passes all the tests.") == len(LABS), course.validate_out[-3000:]


@pytest.mark.parametrize("lab", LABS)
def test_untouched_release_executes_and_scores_zero(course, lab):
    score, max_score = course.scores[lab, "untouched"]
    assert max_score >= 8 and score == 0
    graded = course.root / "autograded" / "untouched" / lab / f"{lab}.ipynb"
    tests = [c for c in _cells(graded) if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert tests and all(c.get("execution_count") for c in tests), "every test cell ran"
    assert "Timeout" not in course.autograde_log and "CellTimeoutError" not in course.autograde_log


@pytest.mark.parametrize("lab", LABS)
def test_solution_scores_full_marks_and_writes_nothing_to_stderr(course, lab):
    score, max_score = course.scores[lab, "solution"]
    assert score == max_score > 0
    graded = course.root / "autograded" / "solution" / lab / f"{lab}.ipynb"
    for cell in _cells(graded):
        for out in cell.get("outputs", []):
            assert out.get("name") != "stderr", f"{lab}: stderr in a cell: {''.join(out.get('text', ''))[:300]}"
            assert out.get("output_type") != "error", f"{lab}: {out.get('ename')}: {out.get('evalue')}"
    images = [o for c in _cells(graded) for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "the worked example and the chart exercise both draw"


@pytest.mark.parametrize("lab", LABS)
def test_release_hides_solutions_and_hidden_tests(course, lab):
    text = (course.root / "release" / lab / f"{lab}.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "NotImplementedError" in text


@pytest.mark.parametrize("lab", LABS)
def test_graded_cells_are_tagged_with_the_labs_sub_skill(lab):
    skills = {s["id"] for c in yaml.safe_load((paths.grader_dir() / "competencies.yaml").read_text(encoding="utf-8"))["competencies"]
              for s in c.get("sub_skills", [])}
    graded = [c["metadata"]["nbgrader"] for c in _cells(_source(lab)) if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert len(graded) >= 4
    for meta in graded:
        match = re.fullmatch(r"ex\d+_[a-z0-9_]+?__([a-z_]+)", meta["grade_id"])
        assert match and match.group(1) in skills, meta["grade_id"]
        assert match.group(1) == LAB_SKILL[lab]


@pytest.mark.parametrize("lab", LABS)
def test_every_graded_exercise_has_visible_and_hidden_tests(lab):
    for cell in _cells(_source(lab)):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            src = "".join(cell["source"])
            visible = src.split("### BEGIN HIDDEN TESTS")[0]
            # a single-part cell asserts; a multi-part cell checks each part (labcheck.Parts) and ends with its score
            checks = "assert" in visible or ("_parts.check(" in visible and src.rstrip().endswith("_parts.score()"))
            assert checks and "### BEGIN HIDDEN TESTS" in src and "### END HIDDEN TESTS" in src


def test_lab1_kpi_rules_are_the_review_rules():
    """The lab teaches the same unified KPI report the semiannual review scores (grader/review.yaml)."""
    review = paths.grader_dir() / "review.yaml"
    if not review.exists():
        pytest.skip("grader/review.yaml not present")
    kpi = yaml.safe_load(review.read_text(encoding="utf-8"))["kpi"]
    code = next("".join(c["source"]) for c in _cells(_source("lab1_kpi"))
                if c["cell_type"] == "code" and "KPI_RULES = " in "".join(c["source"]))
    import pandas as pd

    ns: dict = {"pd": pd}
    exec(code.rsplit("\n", 1)[0], ns)  # the cell without its display line
    lab_column = {"mean_s": "avg_first_response_s", "conversion": "inquiry_conversion", "positive_rate": "positive_review_rate",
                  "qc_mean": "qc_score", "complaint_rate": "complaint_rate"}
    lab = {lab_column[r.metric]: (r.target, r.weight, r.direction) for r in ns["KPI_RULES"].itertuples()}
    want = {c["column"]: (c["target"], c["points"], c["better"]) for c in kpi["components"].values()}
    assert lab == want
    assert ns["CAP"] == kpi["cap"] and ns["BONUS_LINE"] == kpi["bar"]
