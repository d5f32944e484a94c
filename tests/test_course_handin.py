"""What a trainee hands in is what gets graded, counted once: a real `shifu grade` run (real nbgrader,
real gradebook) on a scratch copy of m01_logistics.

- the 导师点评 cell is one task cell: the module's maximum is the sum of its cells, a mentor's mark
  counts once, and `shifu grade` waits for one answer to be graded by hand, not two;
- a `%%reply` answer (plain text) and an old-style triple-quoted answer of the same text get the same points;
- several role-play attempts: the newest finished one is graded unless the trainee chose another
  (shifu.roleplay.attempts), and the feedback says which one.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import grading_course as gc  # tests/ is on the path under pytest
from course_builders import built_course
from shifu.roleplay.attempts import choose
from shifu.course import layout
from shifu.course.answers import cell_source
from shifu.course.simulate import strip_solution
from shifu.roleplay.engine import Engine

A = "m01_logistics"
SC = "late-parcel-wrong-station"
TRANSCRIPT = f"{SC}.jsonl"
REFERENCE = layout.reference_dir() / A / TRANSCRIPT
SHORT = "亲,您好,请问有什么可以帮您?"

pytestmark = pytest.mark.slow


def _unfinished(path: Path) -> None:
    """An attempt begun and left after one reply (the trainee pressed 开始新的一次 and stopped)."""
    engine = Engine(SC, backend=None, seed=0, transcript_path=path, trainee="t")
    engine.opening()
    engine.respond(SHORT, latency_s=10)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from shifu.grading.gradebook import read_scores
    from shifu.grading import grade_course

    course = tmp_path_factory.mktemp("handin") / "course"
    db = built_course(course, A)
    src = nbformat.read(layout.source_dir(course) / A / f"{A}.ipynb", as_version=4)
    texts = {c.metadata["shifu"]["variable"]: _reply_of(strip_solution(c.source))
             for c in src.cells if c.metadata.get("shifu", {}).get("kind") == "reply"}
    magic = {v: cell_source(v, "# 提示", t) for v, t in texts.items()}
    old = {v: f'{v} = """\n{t}\n"""' for v, t in texts.items()}
    reference = REFERENCE.read_text(encoding="utf-8")

    gc.submit_release(course, "magic", A, magic, {TRANSCRIPT: reference})
    gc.submit_release(course, "oldstyle", A, old, {TRANSCRIPT: reference})
    # finished attempt set aside as .1, then a new attempt left unfinished: the finished one is graded
    later = gc.submit_release(course, "retried", A, magic, {f"{SC}.1.jsonl": reference})
    _unfinished(later / TRANSCRIPT)
    # the same files, but the trainee chose to hand in the unfinished attempt
    chooser = gc.submit_release(course, "chooser", A, magic, {f"{SC}.1.jsonl": reference})
    _unfinished(chooser / TRANSCRIPT)
    choose(chooser, TRANSCRIPT, TRANSCRIPT)
    results = {r.student: r for r in grade_course(course, assignment=A, workers=2, db_url=db)}
    scores = {s.student: s for s in read_scores(course, db)}
    return results, scores, course, db, src


def _reply_of(source: str) -> str:
    from shifu.grading.rescore import read_reply_source

    var = next(line.split()[1] for line in source.splitlines() if line.startswith("%%reply"))
    text = read_reply_source(source, var).text
    assert text
    return text


def _auto(score, prefix: str) -> dict[str, float]:
    return {k: v[0] for k, v in score.cells.items() if k.startswith(prefix)}


def _source_points(src: nbformat.NotebookNode) -> float:
    total = 0.0
    for c in src.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            total += float(meta.get("points", 0))
    return total


def test_the_maximum_is_the_sum_of_the_cells_and_the_mentor_cell_is_one_task(graded):
    from nbgrader.api import Gradebook

    results, scores, course, db, src = graded
    assert all(r.graded for r in results.values()), {k: r.reason for k, r in results.items()}
    with Gradebook(db) as gb:
        nb = gb.find_notebook(A, A)
        grade_cells = {c.name for c in nb.grade_cells}
        task_cells = {c.name for c in nb.task_cells}
        assert "review__communication" in task_cells and "review__communication" not in grade_cells
        assert gb.find_assignment(A).max_score == pytest.approx(_source_points(src))
    for s in scores.values():
        assert s.max_score == pytest.approx(_source_points(src))
        assert s.max_score == pytest.approx(sum(m for _, m in s.cells.values()))
        assert s.needs_manual == ["review__communication"]
    for r in results.values():
        assert any(x == "1 answer to grade by hand" for x in r.reasons), r.reasons


def test_a_mentor_mark_counts_once(graded):
    from nbgrader.api import Gradebook

    from shifu.grading.gradebook import read_scores

    _, scores, course, db, _ = graded
    before = scores["magic"].score
    with Gradebook(db) as gb:
        grade = gb.find_grade("review__communication", A, A, "magic")
        grade.manual_score = 4
        grade.needs_manual_grade = False
        gb.db.commit()
    after = next(s for s in read_scores(course, db) if s.student == "magic")
    assert after.score == pytest.approx(before + 4)
    assert after.cells["review__communication"] == (4.0, 5.0)


def test_a_reply_cell_grades_like_the_same_reply_in_triple_quotes(graded):
    _, scores, _, _, _ = graded
    for prefix in ("q1_reply__", "q2_reply__"):
        magic, old = _auto(scores["magic"], prefix), _auto(scores["oldstyle"], prefix)
        assert magic == old and sum(magic.values()) == sum(v[1] for k, v in scores["magic"].cells.items() if k.startswith(prefix))


def test_the_newest_finished_attempt_is_graded_unless_another_was_chosen(graded):
    results, scores, course, _, _ = graded
    finished = _auto(scores["magic"], "roleplay_1__")
    assert _auto(scores["retried"], "roleplay_1__") == finished
    chose = _auto(scores["chooser"], "roleplay_1__")
    assert sum(chose.values()) < sum(finished.values())
    nb = nbformat.read(course / "autograded" / "retried" / A / f"{A}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("roleplay_1__"))
    assert "2 次对话" in first.outputs[0]["text"] and f"{SC}.1.jsonl" in first.outputs[0]["text"]
    assert any("2 attempts" in r and "chosen by the trainee" in r for r in results["chooser"].reasons), results["chooser"].reasons
