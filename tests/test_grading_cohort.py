"""`shifu grade` on a small synthetic cohort: real nbgrader, real kernels, several at once.

One cohort is graded once (module fixture); the tests read its results, its gradebook and its
feedback, and compare it with plain `nbgrader autograde` on an identical copy.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

from shifu.grading import FAILED, GRADED, SubmissionResult, grade_course  # noqa: E402

pytestmark = pytest.mark.slow

CELL_TIMEOUT = 2
NOTEBOOK_TIMEOUT = 6
# nbgrader has no whole-notebook limit, and stops the whole batch at a copied graded cell
NOT_COMPARABLE = {"slow", "duplicated"}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("grading")
    base = gc.build_course(root / "base", cell_timeout=CELL_TIMEOUT)
    students = gc.cohort(base)
    ours = root / "ours"
    shutil.copytree(base, ours)
    results = grade_course(ours, workers=3, timeout=NOTEBOOK_TIMEOUT)
    return {"root": root, "base": base, "course": ours, "students": students,
            "results": {r.student: r for r in results}}


def _result(cohort: dict, student: str) -> SubmissionResult:
    return cohort["results"][student]


def test_every_submission_gets_a_result(cohort: dict) -> None:
    assert sorted(cohort["results"]) == sorted(cohort["students"])
    assert all(r.assignment == gc.ASSIGNMENT and r.max_score == 5 for r in cohort["results"].values())


@pytest.mark.parametrize("student, score, status, words", [
    ("good", 3, GRADED, ["1 answer to grade by hand"]),
    ("poor", 2, GRADED, ["partial_test__analysis 1/2", "reply__communication 0/2 (no answer)"]),
    ("raises", 0, GRADED, ["cell 'answer' raised RuntimeError: 没写完", "assert_test__analysis 0/1 (NameError)"]),
    ("loops", 0, GRADED, [f"cell 'answer' timed out after {CELL_TIMEOUT} s"]),
    ("tampered", 2, GRADED, ["locked cell 'partial_test__analysis' was edited: nbgrader restored the original",
                             "partial_test__analysis 1/2"]),
    ("deleted", 2, GRADED, ["graded cell 'assert_test__analysis' was deleted"]),
    ("slow", 0, GRADED, [f"notebook stopped at its {NOTEBOOK_TIMEOUT} s limit"]),
    ("duplicated", 0, FAILED, ["not graded", "cell 'partial_test__analysis' appears 2 times"]),
    ("broken", 0, FAILED, ["not graded", "not valid JSON (line"]),
])
def test_scores_and_reasons(cohort: dict, student: str, score: float, status: str, words: list[str]) -> None:
    r = _result(cohort, student)
    assert (r.score, r.status) == (score, status), r.reason
    for w in words:
        assert w in r.reason


def test_the_good_submission_reads_ok_when_nothing_is_wrong(cohort: dict) -> None:
    # a manual answer is still pending, but no cell lost points
    assert "lost points" not in _result(cohort, "good").reason


def test_untouched_cells_with_hidden_tests_are_not_reported_as_edited(cohort: dict) -> None:
    # the release leaves hidden tests out, so its cells never match the gradebook's checksum
    assert "was edited" not in _result(cohort, "good").reason


def test_feedback_html_for_every_graded_trainee(cohort: dict) -> None:
    course = cohort["course"]
    for student, r in cohort["results"].items():
        html = course / "feedback" / student / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.html"
        if r.status == FAILED:
            assert not html.exists() and r.feedback == []
            continue
        assert r.feedback == [html]
        text = html.read_text(encoding="utf-8")
        # the page's heading (grader/feedback.yaml page.title): the notebook's total, as nbgrader stored it
        assert "partial_test__analysis" in text and f"(得分 {round(r.score, 2):g} / " in text


def test_failed_submissions_leave_no_autograded_folder(cohort: dict) -> None:
    course = cohort["course"]
    for student in ("duplicated", "broken"):
        assert not (course / "autograded" / student / gc.ASSIGNMENT).exists()
    assert (course / "autograded" / "good" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb").exists()


def _cell_scores(path: Path) -> dict[str, tuple]:
    """Per graded cell: nbgrader's score computed from the autograded notebook's outputs."""
    from nbgrader.utils import determine_grade, is_grade

    nb = nbformat.read(path, as_version=4)
    return {c.metadata.nbgrader["grade_id"]: determine_grade(c) for c in nb.cells if is_grade(c)}


def test_same_gradebook_and_cell_scores_as_plain_nbgrader(cohort: dict) -> None:
    plain = cohort["root"] / "plain"
    shutil.copytree(cohort["base"], plain)
    for student in NOT_COMPARABLE:
        shutil.rmtree(plain / "submitted" / student)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", gc.ASSIGNMENT],
                          cwd=plain, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the broken notebook fails, the rest are graded

    theirs = gc.gradebook_snapshot("sqlite:///" + str(plain / "gradebook.db"))
    ours = gc.gradebook_snapshot("sqlite:///" + str(cohort["course"] / "gradebook.db"))
    for key in [k for k in ours["submissions"] if k[1] in NOT_COMPARABLE]:
        del ours["submissions"][key]
    ours["students"] = [s for s in ours["students"] if s not in NOT_COMPARABLE]
    assert ours == theirs

    compared = 0
    for student in set(cohort["students"]) - NOT_COMPARABLE:
        mine = cohort["course"] / "autograded" / student / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb"
        other = plain / "autograded" / student / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb"
        assert mine.exists() == other.exists(), student
        if mine.exists():
            assert _cell_scores(mine) == _cell_scores(other), student
            compared += 1
    assert compared == 6
