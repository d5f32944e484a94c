"""`shifu course check` on the real course (one shared run), and on a broken copy (it must fail)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shifu.content import paths
from shifu.course import layout
from shifu.course.check import check_course

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def report():
    return check_course(workers=2)


def test_the_course_passes_its_check(report):
    assert report.ok, "\n".join(f"{f.assignment} {f.step}: {f.detail}" for f in report.failures())


def test_every_assignment_went_through_every_step(report):
    names = layout.source_assignments()
    for step in ("validate", "build", "hidden", "untouched"):
        assert {f.assignment for f in report.findings if f.step == step} >= set(names), step


def _run_check(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([str(BIN / "shifu"), "course", "check", "--course", str(course), *args],
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_wrong_reference_answer_fails_the_check_with_a_clear_report(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(paths.course_dir() / "nbgrader_config.py", course / "nbgrader_config.py")
    src = layout.source_dir(course) / "m00_orientation"
    shutil.copytree(layout.source_dir() / "m00_orientation", src)
    nb = src / "m00_orientation.ipynb"
    nb.write_text(nb.read_text(encoding="utf-8").replace("benchmark_seconds = 19", "benchmark_seconds = 40"), encoding="utf-8")
    proc = _run_check(course)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  m00_orientation" in proc.stdout and "validate: m00_orientation.ipynb: failed" in proc.stdout
    assert "course check FAILED" in proc.stdout


def test_an_unknown_assignment_is_a_clear_error(tmp_path):
    proc = _run_check(paths.course_dir(), "m99_nothing")
    assert proc.returncode == 2 and "error: unknown assignment 'm99_nothing'" in proc.stderr
