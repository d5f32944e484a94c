"""A small cohort graded end to end through real nbgrader: good, poor, crashing and never-ending work.

The course is a scratch copy of m01_logistics with a 5-second cell limit, so the never-ending
submission costs seconds, not minutes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

import grading_course as gc  # tests/ is on the path under pytest
from shifu.content import paths
from shifu.course import layout
from shifu.course.build import build_course
from shifu.grading import grade_course
from shifu.grading.gradebook import read_scores
from shifu.course.simulate import strip_solution

A = "m01_logistics"
SCENARIO = "late-parcel-wrong-station"


def _submission(course: Path, student: str, replies: dict[str, str], transcript: str | None) -> None:
    """Fill the release notebook's reply cells with `replies` (cell source by variable) and add a transcript."""
    gc.submit_release(course, student, A, replies, None if transcript is None else {f"{SCENARIO}.jsonl": transcript})


def _reference_replies(course: Path) -> dict[str, str]:
    nb = nbformat.read(layout.source_dir(course) / A / f"{A}.ipynb", as_version=4)
    return {c.metadata["shifu"]["variable"]: strip_solution(c.source)
            for c in nb.cells if c.metadata.get("shifu", {}).get("kind") == "reply"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("cohort") / "course"
    course.mkdir()
    config = (paths.course_dir() / "nbgrader_config.py").read_text(encoding="utf-8")
    (course / "nbgrader_config.py").write_text(config + "\nc.Execute.timeout = 5\n", encoding="utf-8")
    shutil.copytree(layout.source_dir() / A, layout.source_dir(course) / A)
    db = "sqlite:///" + str(course / "gradebook.db")
    assert all(b.ok for b in build_course(course, [A], db_url=db))

    good = _reference_replies(course)
    reference = (layout.reference_dir() / A / f"{SCENARIO}.jsonl").read_text(encoding="utf-8")
    _submission(course, "good", good, reference)
    _submission(course, "poor", {"q1_reply": 'q1_reply = "在查了,请耐心等待。"',
                                 "q2_reply": 'q2_reply = "这个不归我们管,是快递的问题,您自己去问快递吧。"'}, None)
    _submission(course, "crashing", {"q1_reply": 'q1_reply = """亲,您好\n',  # unterminated string: SyntaxError
                                     "q2_reply": 'raise RuntimeError("boom")'}, '{"type": "session", "scen')
    _submission(course, "never-ending", {"q1_reply": "while True:\n    pass", "q2_reply": good["q2_reply"]}, None)

    outcomes = {o.student: o for o in grade_course(course, [A], workers=2, timeout=120, db_url=db, force=True,
                                                    feedback=False)}
    scores = {s.student: s for s in read_scores(course, db)}
    return outcomes, scores, course, db


def _cells(score, prefix: str) -> list[tuple[float, float]]:
    return [v for k, v in score.cells.items() if k.startswith(prefix)]


def test_every_submission_is_graded(graded):
    outcomes, scores, *_ = graded
    assert set(outcomes) == {"good", "poor", "crashing", "never-ending"}
    assert all(o.graded for o in outcomes.values()), {k: o.reason for k, o in outcomes.items()}


def test_reference_work_earns_every_automatic_point(graded):
    _, scores, *_ = graded
    good = scores["good"]
    # reply times are recorded on the trainee's own machine: formative, never points (issue 16)
    auto = [(s, m) for k, (s, m) in good.cells.items() if not k.startswith("review__") and not k.endswith("__timeliness")]
    assert auto and all(s == m for s, m in auto), {k: v for k, v in good.cells.items() if v[0] != v[1]}
    assert good.cells["roleplay_1__timeliness"][0] == 0
    assert good.cells["review__communication"][0] == 0  # the mentor's, never the autograder's


def test_poor_work_scores_well_below_good(graded):
    _, scores, *_ = graded
    assert scores["poor"].score < scores["good"].score / 2
    assert all(s == 0 for s, _ in _cells(scores["poor"], "roleplay_1__"))  # no transcript, no points


def test_crashing_work_scores_zero_where_it_crashed_and_says_why(graded):
    outcomes, scores, *_ = graded
    crash = scores["crashing"]
    assert all(s == 0 for s, _ in _cells(crash, "q1_reply__") + _cells(crash, "q2_reply__") + _cells(crash, "roleplay_1__"))
    assert "SyntaxError" in outcomes["crashing"].reason or "RuntimeError" in outcomes["crashing"].reason


def test_never_ending_cell_is_stopped_and_the_rest_still_counts(graded):
    outcomes, scores, *_ = graded
    endless = scores["never-ending"]
    assert all(s == 0 for s, _ in _cells(endless, "q1_reply__"))
    assert all(s == m for s, m in _cells(endless, "q2_reply__"))
    reason = outcomes["never-ending"].reason.lower()
    assert "timeout" in reason or "time" in reason or "interrupt" in reason, outcomes["never-ending"].reason


def test_review_suggestion_is_a_comment_for_the_mentor_never_points(graded):
    from nbgrader.api import Gradebook

    from shifu.course.suggest import suggest_reviews, suggestion_label

    LABEL = suggestion_label()  # the wording lives in grader/judge.yaml

    _, scores, course, db = graded
    seen = []

    def judge(transcripts, competency, assignment):
        seen.append((tuple(p.name for p in transcripts), competency, assignment))
        return "安抚到位;建议收尾时复述方案。"

    result = suggest_reviews(course, A, db_url=db, judge=judge)
    # only submissions with a transcript get a suggestion; the others wait for the mentor alone
    assert sorted(result.written) == [f"crashing/{A}: review__communication", f"good/{A}: review__communication"]
    assert sorted(s.split(":")[0] for s in result.skipped) == [f"never-ending/{A}", f"poor/{A}"]
    assert ((f"{SCENARIO}.jsonl",), "communication", A) in seen
    with Gradebook(db) as gb:
        comment = gb.find_comment("review__communication", A, A, "good")
        assert comment.auto_comment.startswith(LABEL) and "复述方案" in comment.auto_comment
        grade = gb.find_grade("review__communication", A, A, "good")
        assert grade.manual_score is None and grade.score == 0
    again = suggest_reviews(course, A, db_url=db, judge=judge)
    assert again.written == [] and len(seen) == 2  # never overwritten unless asked
