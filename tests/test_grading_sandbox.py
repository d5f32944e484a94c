"""Execution attacks of issue 16, tried as a trainee would from an answer cell, against real
`shifu grade` runs in the bubblewrap sandbox: each keeps the honest score and says why.

One cohort of attackers (plus a victim whose work they try to change) is graded once; the crash,
lock and broken-content tests each grade a small course of their own.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

from shifu.content.errors import ShifuError  # noqa: E402
from shifu.grading import FAILED, GRADED, grade_course  # noqa: E402
from shifu.grading import sandbox as sandbox_mod  # noqa: E402
from shifu.grading.lock import course_lock  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sandbox_mod.bwrap_works()[0], reason="bubblewrap cannot run here")]

SECRET = "sk-issue16-do-not-leak"
ORPHAN_SECONDS = "987.654"   # a sleep no other process on the machine runs
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _attack(course: Path, code: str) -> nbformat.NotebookNode:
    """A correct answer (3 auto points) followed by CODE in the same answer cell."""
    return gc.answered(course, gc.GOOD + code)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("sandbox")
    course = gc.build_course(root / "course", cell_timeout=60)
    db = course / "gradebook.db"
    victim_nb = course / "submitted" / "victim" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb"
    gc.submit(course, "victim", gc.answered(course, gc.POOR))
    gc.submit(course, "reader", _attack(course, f"print(open('../../../source/{gc.ASSIGNMENT}/{gc.NOTEBOOK}.ipynb').read())\n"))
    gc.submit(course, "rewriter", _attack(
        course, "import sqlite3\n"
        f"con = sqlite3.connect('file:{db}?mode=rw', uri=True)\n"
        "con.execute('UPDATE grade SET auto_score = 99')\ncon.commit()\n"))
    gc.submit(course, "overwriter", _attack(course, f"open({str(victim_nb)!r}, 'w').write('{{}}')\n"))
    gc.submit(course, "snoop", _attack(course, "import os\nprint(sorted(os.environ.items()))\n"))
    gc.submit(course, "forker", _attack(
        course, "import subprocess\n"
        f"child = subprocess.Popen(['sleep', '{ORPHAN_SECONDS}'], start_new_session=True)\nprint('child', child.pid)\n"))
    gc.submit(course, "hog", _attack(course, "block = bytearray(4 * 1024 ** 3)\n"))
    gc.submit(course, "forkbomb", _attack(
        course, "import subprocess\nkids = [subprocess.Popen(['sleep', '60']) for _ in range(600)]\n"))
    crash = gc.answered(course, gc.GOOD)
    partial = gc.cell(crash, "partial_test__analysis")
    crash.cells.insert(crash.cells.index(partial) + 1, new_code_cell("import os\nos._exit(3)\n"))
    gc.submit(course, "crash", crash)
    gc.submit(course, ".hidden", gc.answered(course, gc.GOOD))
    victim_before = victim_nb.read_bytes()
    os.environ["SHIFU_LLM_API_KEY"] = SECRET
    try:
        results = grade_course(course, workers=3)
    finally:
        del os.environ["SHIFU_LLM_API_KEY"]
    return {"course": course, "results": {r.student: r for r in results}, "victim_before": victim_before,
            "victim_nb": victim_nb}


def _executed(course: Path, student: str) -> str:
    return (course / "autograded" / student / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb").read_text(encoding="utf-8")


def _answer_outputs(course: Path, student: str) -> str:
    nb = nbformat.read(course / "autograded" / student / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb", as_version=4)
    return str(gc.cell(nb, "answer").outputs)


@pytest.mark.parametrize("student, error", [
    ("reader", "FileNotFoundError"),      # course/source is not in the box
    ("rewriter", "OperationalError"),     # nor is the gradebook
    ("overwriter", "FileNotFoundError"),  # nor another trainee's folder
    ("hog", "MemoryError"),               # a 4 GiB allocation passes the address-space limit
    ("forkbomb", "BlockingIOError"),      # 600 processes pass the process limit (256)
])
def test_attack_fails_and_the_honest_score_stands(attacked: dict, student: str, error: str) -> None:
    r = attacked["results"][student]
    assert (r.status, r.score, r.max_score) == (GRADED, 3, 5), r.reason
    assert f"cell 'answer' raised {error}" in r.reason


def test_hidden_tests_never_reach_the_readers_feedback(attacked: dict) -> None:
    course = attacked["course"]
    html = (course / "feedback" / "reader" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in _answer_outputs(course, "reader")
    assert "FileNotFoundError" in html and "BEGIN SOLUTION" not in html


def test_the_victims_files_and_grades_are_untouched(attacked: dict) -> None:
    r = attacked["results"]["victim"]
    assert (r.status, r.score) == (GRADED, 2), r.reason
    assert attacked["victim_nb"].read_bytes() == attacked["victim_before"]
    snap = gc.gradebook_snapshot("sqlite:///" + str(attacked["course"] / "gradebook.db"))
    scores = [g[0] for sub in snap["submissions"].values() for nb in sub["notebooks"].values()
              for g in nb["grades"].values() if g[0] is not None]
    assert scores and max(scores) <= 2


def test_the_mentors_secrets_are_invisible(attacked: dict) -> None:
    course = attacked["course"]
    r = attacked["results"]["snoop"]
    assert (r.status, r.score) == (GRADED, 3), r.reason
    printed = _answer_outputs(course, "snoop")
    assert "PATH" in printed and "HOME" in printed       # the environment was printed ...
    assert "SHIFU_LLM_API_KEY" not in printed and SECRET not in printed   # ... without the key
    for student in attacked["results"]:
        folder = course / "feedback" / student / gc.ASSIGNMENT
        for page in folder.glob("*.html"):
            assert SECRET not in page.read_text(encoding="utf-8")


def _processes_running(needle: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            found.append(cmdline)
    return found


def test_processes_started_by_a_notebook_end_with_grading(attacked: dict) -> None:
    r = attacked["results"]["forker"]
    assert (r.status, r.score) == (GRADED, 3), r.reason
    assert "child " in _answer_outputs(attacked["course"], "forker")   # the child was started ...
    assert _processes_running(f"sleep {ORPHAN_SECONDS}") == []         # ... and is gone


def test_a_dying_kernel_names_its_cell_and_earlier_cells_keep_their_points(attacked: dict) -> None:
    r = attacked["results"]["crash"]
    # partial_test ran before the crash (2 points); the assert test after it scores 0 (nbgrader would give 0 in all)
    assert (r.status, r.score) == (GRADED, 2), r.reason
    assert "the kernel died while cell 4 ran" in r.reason
    assert "assert_test__analysis 0/1 (not run)" in r.reason


def test_a_dot_folder_is_reported(attacked: dict) -> None:
    r = attacked["results"][".hidden"]
    assert r.status == FAILED and "starts with '.'" in r.reason and "rename" in r.reason


def test_without_bwrap_grading_is_refused_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_mod, "bwrap_works", lambda: (False, "bubblewrap is not installed"))
    monkeypatch.setattr(sandbox_mod, "_user_fallback_works", lambda: False)
    with pytest.raises(sandbox_mod.SandboxUnavailable) as exc:
        sandbox_mod.choose()
    assert "install bubblewrap" in str(exc.value) and "--no-sandbox" in str(exc.value)
    assert sandbox_mod.choose(unsafe=True).mode == sandbox_mod.NONE


# -- crash-safe, exclusive, fail-fast ---------------------------------------------------------------

def _env(**extra: str) -> dict:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _shifu_grade(course: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "shifu"), "grade", "--course", str(course), "--no-progress", *args],
                            env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_a_killed_regrade_is_graded_again_by_the_next(tmp_path: Path) -> None:
    course = gc.build_course(tmp_path / "course", cell_timeout=120)
    slow = gc.answered(course, gc.GOOD)
    slow.cells.insert(2, new_code_cell("import time\ntime.sleep(8)\n"))
    gc.submit(course, "slow", slow)
    assert grade_course(course)[0].score == 3

    # a --force regrade killed while the notebook runs (kill -9, as the OOM killer would)
    proc = _shifu_grade(course, "--force")
    marker = course / ".shifu" / "grading" / gc.ASSIGNMENT / "slow"
    autograded = course / "autograded" / "slow" / gc.ASSIGNMENT
    deadline = time.monotonic() + 300
    while not (marker.exists() and autograded.exists()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)   # the copied, not yet executed notebooks are in autograded/
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.time()
    assert marker.exists()   # it died half-way

    notes: list[str] = []
    results = grade_course(course, notes=notes)   # no --force: nbgrader alone would skip it
    r = results[0]
    assert (r.student, r.status, r.score) == ("slow", GRADED, 3), r.reason
    assert "graded before" not in r.reason and not marker.exists()
    # feedback rebuilt from notebooks that ran, not from the copies the killed run left
    executed = nbformat.read(autograded / f"{gc.NOTEBOOK}.ipynb", as_version=4)
    assert gc.cell(executed, "partial_test__analysis").outputs
    html = course / "feedback" / "slow" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.html"
    assert html.stat().st_mtime > killed_at and "(得分 3 / " in html.read_text(encoding="utf-8")
    assert any("no longer running" in n and f"pid {proc.pid}" in n for n in notes), notes


def test_infrastructure_failures_are_retried_then_reported_as_such(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from shifu.grading import execute

    course = gc.build_course(tmp_path / "course")
    gc.submit(course, "good", gc.answered(course, gc.GOOD))
    real_run = execute.KernelRun.run
    failures = {"left": 1}

    async def flaky_run(self, notebook_timeout=None):  # the machine loses one notebook's output
        if failures["left"] > 0:
            failures["left"] -= 1
            raise execute.InfrastructureError("the output of cell 3 was lost (no message in 60 s)")
        return await real_run(self, notebook_timeout)
    monkeypatch.setattr(execute.KernelRun, "run", flaky_run)
    r = grade_course(course)[0]
    assert (r.status, r.score) == (GRADED, 3), r.reason       # retried once with a fresh kernel

    failures["left"] = 10
    r = grade_course(course, force=True)[0]
    assert r.status == FAILED
    assert "infrastructure, not the trainee's work" in r.reason and "run `shifu grade` again" in r.reason


def test_a_second_run_exits_naming_the_holder(tmp_path: Path) -> None:
    course = gc.build_course(tmp_path / "course")
    gc.submit(course, "good", gc.answered(course, gc.GOOD))
    with course_lock(course) as me:
        out, err = _shifu_grade(course).communicate(timeout=600)
    assert me["pid"] == os.getpid()
    assert "another `shifu grade` is grading this course" in err and f"pid {os.getpid()}" in err, err
    assert not (course / "autograded").exists()
    results = grade_course(course)   # free again once the holder is done
    assert results[0].status == GRADED


def test_a_broken_rubric_stops_grading_before_any_grade(tmp_path: Path) -> None:
    content = tmp_path / "content"
    for folder in ("grader", "scenarios"):
        shutil.copytree(ROOT / folder, content / folder)
    rubric = content / "grader" / "rubrics" / "after_sales.yaml"
    lines = rubric.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("points:"))
    rubric.write_text("".join(lines[:at] + lines[at + 1:]), encoding="utf-8")
    course = gc.build_course(tmp_path / "course")
    gc.submit(course, "good", gc.answered(course, gc.GOOD))

    proc = _shifu_grade(course, env=_env(SHIFU_HOME=str(content)))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert "after_sales.yaml:" in err and "points" in err and "required field is missing" in err, err
    assert "Traceback" not in err
    assert not (course / "autograded").exists()
    assert gc.gradebook_snapshot("sqlite:///" + str(course / "gradebook.db"))["submissions"] == {}
