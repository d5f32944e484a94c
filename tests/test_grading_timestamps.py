"""Submission times in China's clock, as `shifu grade` stores them (issue 15): +0800 and CST (what
nbgrader's own exchange writes for Asia/Shanghai) are the same instant; an unreadable timestamp.txt
fails only its own submission, with the reason, never an AttributeError."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

pytestmark = pytest.mark.slow


def test_china_time_stamps_are_stored_as_the_right_instant(tmp_path: Path, monkeypatch) -> None:
    from nbgrader.api import Gradebook

    from shifu.grading import grade_course

    monkeypatch.setenv("SHIFU_TIME_ZONE", "Asia/Shanghai")
    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    stamps = {"offset": "2026-11-30 23:30:00.000000 +0800", "cst": "2026-11-30 23:30:00.000000 CST",
              "chinese": "2026年11月30日 23:30"}
    for student, stamp in stamps.items():
        gc.submit(course, student, gc.answered(course, gc.GOOD), timestamp=stamp)
    results = {r.student: r for r in grade_course(course, workers=2)}
    assert results["offset"].graded and results["cst"].graded
    assert not results["chinese"].graded and "timestamp" in results["chinese"].reason
    assert "AttributeError" not in results["chinese"].reason
    with Gradebook("sqlite:///" + str(course / "gradebook.db"), course_id="shifu") as gb:
        for student in ("offset", "cst"):
            ts = gb.find_submission(gc.ASSIGNMENT, student).timestamp
            assert ts.replace(tzinfo=None) == datetime(2026, 11, 30, 15, 30), (student, ts)
