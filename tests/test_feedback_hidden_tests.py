"""Feedback pages go to trainees: they never carry the hidden tests (issue 16/17: answers must not
pass from one cohort to the next)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

pytestmark = pytest.mark.slow


def test_feedback_html_has_no_hidden_test_code(tmp_path: Path) -> None:
    from shifu.grading import grade_course

    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    source = (course / "source" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb").read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" in source, "the fixture course has hidden tests to leak"
    gc.submit(course, "good", gc.answered(course, gc.GOOD))
    results = grade_course(course, workers=1)
    assert results[0].graded, results[0].reason
    pages = list((course / "feedback" / "good").rglob("*.html"))
    assert pages
    html = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert "HIDDEN TESTS" not in html
    assert "assert average_wait([5]) == 5" not in html
