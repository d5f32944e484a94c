"""Attacks on the rebuilt `shifu grade` (issue 16) that still SUCCEED, tried as a trainee would: only
through what is put in the submitted folder. Each test asserts the HONEST outcome, so it fails today;
they are marked xfail(strict=True) until the product is fixed (then the marker must go).

Found by the red-team pass on branch wt-attack. Defences that held are listed in the report, not here.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402
from course_builders import built_course  # noqa: E402

from shifu.content import paths  # noqa: E402
from shifu.grading import sandbox as sandbox_mod  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
A = "m01_logistics"

needs_bwrap = pytest.mark.skipif(not sandbox_mod.bwrap_works()[0], reason="bubblewrap cannot run here")


# -- symlinks in the submitted folder: nbgrader copies what they point to, as the grader ---------------

@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One graded cohort: a victim, a trainee whose extra files are symlinks into the course, and a
    trainee whose notebook itself is a symlink to the source notebook (solutions included)."""
    from shifu.grading import grade_course

    course = gc.build_course(tmp_path_factory.mktemp("links") / "course", cell_timeout=60)
    gc.submit(course, "victim", gc.answered(course, gc.POOR, "victim的私人回复:亲,我是受害者写的。"))

    linker = gc.submit(course, "linker", gc.answered(course, gc.POOR + (
        "for name in ('notes.txt', 'grades.bin', 'friend.txt', 'env.txt'):\n"
        "    try:\n"
        "        print(name, open(name, 'rb').read().decode('utf-8', 'replace'))\n"
        "    except OSError as exc:\n"
        "        print(name, exc)\n")))
    folder = linker.parent
    # relative links, resolved from submitted/linker/wait_times/: no absolute path has to be known
    (folder / "notes.txt").symlink_to(f"../../../source/{gc.ASSIGNMENT}/{gc.NOTEBOOK}.ipynb")
    (folder / "grades.bin").symlink_to("../../../gradebook.db")
    (folder / "friend.txt").symlink_to(f"../../victim/{gc.ASSIGNMENT}/{gc.NOTEBOOK}.ipynb")
    (folder / "env.txt").symlink_to("/proc/self/environ")   # the grader's own environment

    # a trainee who did nothing: the notebook handed in is a link to the mentor's source notebook
    lazy = course / "submitted" / "lazy" / gc.ASSIGNMENT
    lazy.mkdir(parents=True)
    (lazy / f"{gc.NOTEBOOK}.ipynb").symlink_to(f"../../../source/{gc.ASSIGNMENT}/{gc.NOTEBOOK}.ipynb")
    (lazy / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC", encoding="utf-8")

    results = grade_course(course, workers=2)
    return {"course": course, "results": {r.student: r for r in results}}


def _what_the_trainee_gets(course: Path, student: str) -> str:
    """The files nbgrader put next to the trainee's notebook (autograded/ and feedback/, which is handed
    back) and the outputs of the grader's run of the notebook — not the autograded notebook's own test
    cells, which hold the hidden tests by design."""
    out = []
    for top in ("autograded", "feedback"):
        for path in (course / top / student).rglob("*"):
            if path.is_file() and path.suffix not in (".ipynb", ".html"):
                out.append(path.read_bytes().decode("utf-8", "replace"))
    nb = nbformat.read(course / "autograded" / student / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.append(str(output.get("text", "")) + str(output.get("data", "")))
    return "\n".join(out)


@pytest.mark.slow
@needs_bwrap
def test_symlinked_files_do_not_bring_solutions_gradebook_or_classmates_work(linked):
    course = linked["course"]
    result = linked["results"]["linker"]
    assert not result.graded and "links" in result.reason, result.reason   # refused, with the reason and fix
    assert linked["results"]["victim"].graded
    seen = _what_the_trainee_gets(course, "linker") if (course / "autograded" / "linker").exists() else ""
    assert "BEGIN HIDDEN TESTS" not in seen and "assert average_wait([5]) == 5" not in seen   # the hidden test
    assert "SQLite format 3" not in seen                                                        # the gradebook
    assert "victim的私人回复" not in seen                                                        # a classmate's work
    # the grader's environment as it was started (/proc/self/environ): a mentor's exported SHIFU_LLM_API_KEY
    # lands in the trainee's feedback folder this way
    started_with = [e.decode("utf-8", "replace") for e in Path("/proc/self/environ").read_bytes().split(b"\0") if b"=" in e]
    assert not [e for e in started_with if len(e) > 8 and e in seen]


@pytest.mark.slow
@needs_bwrap
def test_notebook_symlinked_to_the_source_earns_nothing(linked):
    result = linked["results"]["lazy"]
    # honest: refused (not the trainee's file) or, at most, the 0 of an empty submission
    assert not result.graded or result.score == 0, (result.score, result.reasons)


# -- the copy detector only ignores whitespace; the reader normalises far more ------------------------

COPIED = "亲,非常理解您的心情,我马上联系快递网点查件,今天18点前给您回复。"
DISGUISES = {
    "zero_width": "\u200b".join(COPIED),
    "traditional": "親,非常理解您的心情,我馬上聯繫快遞網點查件,今天18點前給您回覆。",
    "bom_word_joiner": "\ufeff" + COPIED.replace("我", "\u2060我") + "\u2060",
}


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
def test_disguised_copy_of_a_reply_is_still_flagged(tmp_path, disguise):
    from shifu.grading.copies import Copies
    from shifu.grading.rescore import specs_from_source
    from shifu.grading.scoring import reply_cell

    src_path = paths.course_dir() / "source" / A / f"{A}.ipynb"
    specs = specs_from_source(nbformat.read(src_path, as_version=4))
    q1 = [s for s in specs.values() if s.kind == "reply_test" and s.answer_cell == "q1_reply"]
    disguised = DISGUISES[disguise]
    # the disguise costs nothing: every criterion scores the copy exactly like the original
    assert [reply_cell(disguised, s.scenario, s.buyer, s.points, s.criterion).points for s in q1] == \
        [reply_cell(COPIED, s.scenario, s.buyer, s.points, s.criterion).points for s in q1]
    folders = {}
    for student, reply in (("author", COPIED), ("copier", disguised)):
        nb = nbformat.read(src_path, as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid == "q1_reply":
                cell.source = f'q1_reply = """{reply}"""'
            elif gid == "q2_reply":
                cell.source = f'q2_reply = """{student}自己写的第二条回复,和别人都不一样,够长够长。"""'
        folders[student] = tmp_path / student
        folders[student].mkdir()
        nbformat.write(nb, folders[student] / f"{A}.ipynb")
    copies = Copies.find(folders, {A: (specs, None)})
    assert any("author" in line for line in copies.notes("copier"))


# -- a symlink to a device: the grader copies it forever, before any sandbox exists -------------------

GROWTH_LIMIT = 64 * 1024 ** 2   # the copy is stopped here, so the test cannot fill the disk


@pytest.mark.slow
@needs_bwrap
def test_symlink_to_a_device_does_not_stop_the_cohort(tmp_path):
    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    attacker = gc.submit(course, "aaa_attacker", gc.answered(course, gc.GOOD)).parent
    (attacker / "data.txt").symlink_to("/dev/zero")
    gc.submit(course, "victim", gc.answered(course, gc.GOOD))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([str(Path(sys.executable).parent / "shifu"), "grade", "--course", str(course), "-w", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    copy = course / "autograded" / "aaa_attacker" / gc.ASSIGNMENT / "data.txt"
    grew = False
    try:
        deadline = time.monotonic() + 600   # a generous limit: a loaded machine grades two notebooks well within it
        while proc.poll() is None and time.monotonic() < deadline:
            if copy.exists() and copy.stat().st_size > GROWTH_LIMIT:
                grew = True
                break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
        if copy.exists():
            copy.unlink()
    assert not grew, "the grader copied more than 64 MiB of /dev/zero into the course folder"
    # honest: the run ends, the victim is graded (3 auto points) and the attacker is reported, not the run stuck
    assert proc.returncode is not None and proc.returncode != -9
    victim = gc.gradebook_snapshot("sqlite:///" + str(course / "gradebook.db"))["submissions"].get((gc.ASSIGNMENT, "victim"))
    assert victim is not None


# -- role-play transcripts: a symlink to the mentor's reference, a copy re-played with invisible marks ----

SC = "late-parcel-wrong-station"
WEAK = {"q1_reply": 'q1_reply = """在查了,请耐心等待。"""', "q2_reply": 'q2_reply = """这个不归我们管,您自己去问快递吧。"""'}


def _reference_replies() -> list[str]:
    from shifu.course import layout
    from shifu.roleplay.transcript import read_transcript

    return list(read_transcript(layout.reference_dir() / A / f"{SC}.jsonl").replies)


def _play(path: Path, replies: list[str], seed: int = 0) -> Path:
    """A transcript exactly as the chat widget writes it (what any trainee can produce with the engine)."""
    from shifu.roleplay.engine import Engine

    path.parent.mkdir(parents=True, exist_ok=True)
    engine = Engine(SC, seed=seed, transcript_path=path)
    engine.opening()
    for reply in replies:
        engine.respond(reply, latency_s=20)
    engine.finish()
    return path


def _m01_course(root: Path) -> Path:
    import shutil

    from shifu.course import layout
    from shifu.course.build import build_course

    course = root / "course"
    course.mkdir()
    shutil.copy2(paths.course_dir() / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(layout.source_dir() / A, layout.source_dir(course) / A)
    # the mentor's reference transcripts live in the course folder, as in the project's own course/
    # (replayed through today's engine, as a mentor regenerates them: the stored ones may predate it)
    _play(course / "reference" / A / f"{SC}.jsonl", _reference_replies())
    assert all(b.ok for b in build_course(course, [A], db_url="sqlite:///" + str(course / "gradebook.db")))
    return course


def _m01_submit(course: Path, student: str) -> Path:
    return gc.submit_release(course, student, A, WEAK)


@pytest.mark.slow
@needs_bwrap
def test_transcript_symlinked_to_the_reference_earns_nothing(tmp_path):
    from shifu.grading.gradebook import read_scores
    from shifu.grading import grade_course

    course = _m01_course(tmp_path)
    db = "sqlite:///" + str(course / "gradebook.db")
    _m01_submit(course, "honest")                          # no role-play done
    linker = _m01_submit(course, "linker")                 # no role-play done either, but a link
    (linker / f"{SC}.jsonl").symlink_to(f"../../../reference/{A}/{SC}.jsonl")
    results = {r.student: r for r in grade_course(course, assignment=A, workers=2, db_url=db)}
    scores = {s.student: s for s in read_scores(course, db)}
    # a link out of the trainee's own folder is refused outright, with the reason
    assert not results["linker"].graded and "links" in results["linker"].reason, results["linker"].reason
    assert results["honest"].graded
    refused = scores.get("linker")
    assert refused is None or not any(k.startswith("roleplay_") and v[0] > 0 for k, v in refused.cells.items())


def test_classmate_transcript_replayed_with_invisible_marks_is_flagged(tmp_path):
    from shifu.grading.copies import Copies
    from shifu.grading.scoring import transcript_cell

    replies = _reference_replies()
    original = _play(tmp_path / "author" / f"{SC}.jsonl", replies, seed=3)
    disguised = _play(tmp_path / "copier" / f"{SC}.jsonl", ["\u200b".join(r) for r in replies], seed=11)
    for criterion in ("de_escalation", "need_tracing", "consensus_solution", "closing_loop"):
        # the disguise costs nothing: both replay, and score the same
        assert transcript_cell(disguised, SC, 3.0, criterion).points == transcript_cell(original, SC, 3.0, criterion).points
    assert transcript_cell(disguised, SC, 3.0, "need_tracing").points > 0
    copies = Copies.find({"author": original.parent, "copier": disguised.parent}, {})
    assert any("author" in line for line in copies.notes("copier"))


# -- notebook JSON the grader's own code trips over ---------------------------------------------------

@pytest.mark.slow
@needs_bwrap
def test_odd_cell_metadata_fails_only_its_own_submission(tmp_path):
    import json

    from shifu.grading import grade_course

    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    gc.submit(course, "victim", gc.answered(course, gc.GOOD))
    raw = json.loads(nbformat.writes(gc.answered(course, gc.GOOD)))
    raw["cells"][0]["metadata"]["nbgrader"] = "not a dict"   # nbformat reads it with a warning only
    gc.submit(course, "zz_attacker", json.dumps(raw))
    results = {r.student: r for r in grade_course(course, workers=2)}
    assert results["victim"].graded and results["victim"].score == 3.0
    assert "zz_attacker" in results


# -- lab checks still run inside the trainee's kernel ---------------------------------------------------

LAB = "lab1_kpi"
DUMMY_EX2 = ('conversion = pd.Series(0.0, index=human["agent_id"].unique())\n'
             "night_conversion = 0.5\n")
PATCH_LABCHECK = ("from shifu import labcheck\n"
                  "for _name in [n for n in dir(labcheck) if n.startswith('same_')]:\n"
                  "    setattr(labcheck, _name, lambda *a, **k: True)\n")


@pytest.mark.slow
@needs_bwrap
def test_patched_labcheck_earns_no_lab_points(tmp_path):
    import shutil

    from shifu.course import layout
    from shifu.grading.gradebook import read_scores
    from shifu.grading import grade_course

    course = tmp_path / "course"
    db = built_course(course, LAB)
    for student, answer in (("dummy", DUMMY_EX2), ("patcher", PATCH_LABCHECK + DUMMY_EX2)):
        dest = course / "submitted" / student / LAB
        shutil.copytree(layout.release_dir(course) / LAB, dest)
        nb = nbformat.read(dest / f"{LAB}.ipynb", as_version=4)
        gc.cell(nb, "ex2_conversion_answer").source = answer
        nbformat.write(nb, dest / f"{LAB}.ipynb")
    results = {r.student: r for r in grade_course(course, assignment=LAB, workers=2, db_url=db)}
    assert all(r.graded for r in results.values()), {k: r.reason for k, r in results.items()}
    scores = {s.student: s.cells for s in read_scores(course, db)}
    assert scores["dummy"]["ex2_conversion__kpi_reporting"][0] == 0   # the dummy answer is wrong
    assert scores["patcher"]["ex2_conversion__kpi_reporting"][0] == scores["dummy"]["ex2_conversion__kpi_reporting"][0]


# -- output flooding: the sandbox limits the kernel's memory, not the grader's ------------------------

def _peak_rss_mb(mib: int) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "grading_flood_run.py"), str(mib)],
                          capture_output=True, text=True, env=env, timeout=1800)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("N ")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "'graded'" in line, line
    return int(line.split("maxrss_MB")[1].split()[0])


@pytest.mark.slow
@needs_bwrap
def test_flooding_output_does_not_grow_the_grader(tmp_path):
    quiet = _peak_rss_mb(0)
    flood = _peak_rss_mb(100)
    # honest: the grader keeps a bounded amount of a cell's output (nbgrader keeps at most ~10 kB of it anyway)
    assert flood - quiet < 200, (quiet, flood)


@pytest.mark.slow
@needs_bwrap
def test_deeply_nested_reply_fails_only_its_own_submission(tmp_path):
    from shifu.grading import grade_course

    course = _m01_course(tmp_path)
    db = "sqlite:///" + str(course / "gradebook.db")
    _m01_submit(course, "victim")
    attacker = _m01_submit(course, "zz_attacker") / f"{A}.ipynb"
    nb = nbformat.read(attacker, as_version=4)
    gc.cell(nb, "q1_reply").source = "q1_reply = " + " + ".join(['"亲"'] * 5000)
    nbformat.write(nb, attacker)
    results = {r.student: r for r in grade_course(course, assignment=A, workers=2, db_url=db)}
    assert results["victim"].graded and results["victim"].score > 0
    assert "zz_attacker" in results


# -- feedback HTML: a trainee's markup runs in whoever opens the page (the mentor too) ------------------

@pytest.mark.slow
@needs_bwrap
def test_feedback_html_carries_no_trainee_script(tmp_path):
    from shifu.grading import grade_course

    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    code = ("from IPython.display import HTML, Markdown, SVG, display\n"
            "display(HTML('<script>window.OWNED_BY_OUTPUT=1</script><a href=\"javascript:alert(2)\">x</a>'))\n"
            "display(Markdown('<ScRiPt>window.OWNED_BY_MDOUT=1</sCrIpT>'))\n"
            "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.OWNED_BY_SVG=1\"/>'))\n"
            "display({'text/html': '<iframe srcdoc=\"<script>1</script>\"></iframe><meta http-equiv=refresh "
            "content=\"0;url=javascript:alert(3)\">'}, raw=True)\n")
    written = ('亲,您好<img src=x onerror="window.OWNED_BY_MD=1"><script>window.OWNED_BY_MD2=1</script>'
               '<a href="JaVaScRiPt:alert(1)">点我</a><div onmouseover="window.OWNED_BY_HOVER=1">悬停</div>')
    gc.submit(course, "xss", gc.answered(course, gc.GOOD + code, written))
    results = grade_course(course, workers=1)
    assert results[0].graded
    html = (course / "feedback" / "xss" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.html").read_text(encoding="utf-8")
    # honest: nothing in the page runs, wherever it came from (markdown answer, HTML/Markdown/SVG output)
    assert re.search(r"<\s*script", html, re.I) is None
    assert re.search(r"<[^>]*\son\w+\s*=", html, re.I) is None
    # (what the trainee wrote is still shown, escaped as text: only real tags' attributes count)
    assert re.search(r"<[a-z][^<>]*\b(href|src|content|action)\s*=\s*[\"']?\s*javascript:", html, re.I) is None
    assert re.search(r"<\s*(iframe|svg|meta\s+http-equiv)", html, re.I) is None
    assert "亲,您好" in html   # the trainee's answer is still shown (what they wrote reads as text)


TRANSFORMER = (
    "def _rewrite(lines):\n"
    "    text = ''.join(lines)\n"
    "    if 'score = 0.0' in text:\n"
    "        return ['2.0\\n']          # a partial-credit test: its last value is the score\n"
    "    if 'assert' in text:\n"
    "        return ['pass\\n']         # an assert test: no error is full marks\n"
    "    return lines\n"
    "get_ipython().input_transformers_cleanup.append(_rewrite)\n")


@pytest.mark.slow
@needs_bwrap
def test_input_transformer_cannot_rewrite_the_test_cells(tmp_path):
    from shifu.grading import grade_course

    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    gc.submit(course, "nothing", gc.answered(course, "average_wait = None\n"))
    gc.submit(course, "rewriter", gc.answered(course, "average_wait = None\n" + TRANSFORMER))
    results = {r.student: r for r in grade_course(course, workers=2)}
    assert results["nothing"].graded and results["nothing"].score == 0
    assert results["rewriter"].score == results["nothing"].score, results["rewriter"].reasons


RUN_CELL_PATCH = (
    "_ip = get_ipython()\n"
    "_plain = _ip.run_cell_async\n"
    "async def _skip_tests(raw_cell, *args, **kwargs):\n"
    "    if 'assert' in raw_cell or 'score' in raw_cell:\n"
    "        raw_cell = '2.0' if 'score' in raw_cell else 'pass'\n"
    "    return await _plain(raw_cell, *args, **kwargs)\n"
    "_ip.run_cell_async = _skip_tests\n"
    "_ip.should_run_async = lambda *a, **k: True\n")

ALWAYS_EQUAL = (
    "class _Anything(float):\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "    __hash__ = float.__hash__\n"
    "def average_wait(minutes):\n"
    "    return _Anything(7)\n")


@pytest.mark.slow
@needs_bwrap
def test_patched_kernel_or_lying_values_cannot_pass_the_test_cells(tmp_path):
    """Variants of the transformer attack: the shell's run_cell replaced so test cells never run, and an
    answer whose value claims to equal anything (nbgrader itself would give it full marks)."""
    from shifu.grading import grade_course

    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    gc.submit(course, "nothing", gc.answered(course, "average_wait = None\n"))
    gc.submit(course, "patcher", gc.answered(course, "average_wait = None\n" + RUN_CELL_PATCH))
    gc.submit(course, "liar", gc.answered(course, ALWAYS_EQUAL))
    gc.submit(course, "good", gc.answered(course, gc.GOOD))
    results = {r.student: r for r in grade_course(course, workers=2)}
    assert all(r.graded for r in results.values()), {k: r.reasons for k, r in results.items()}
    assert results["nothing"].score == 0
    assert results["patcher"].score == 0, results["patcher"].reasons
    assert results["liar"].score == 0, results["liar"].reasons
    assert results["good"].score == 3, results["good"].reasons    # 2 + 1 auto points; the written reply waits


# -- the judge (judge.py/probe.py): what a trainee's kernel sends back, and what the grader does with it -----

def _code(source: str, grade_id: str, points: float = 0, solution: bool = False):
    from nbformat.v4 import new_code_cell

    c = new_code_cell(source)
    meta = {"grade": bool(points), "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points:
        meta["points"] = points
    c.metadata = {"nbgrader": meta}
    return c


# cells added to the fixture notebook: tests whose verdict a lying kernel could flip
JUDGE_CELLS = [
    # the labs' setup cell opens with a magic: its imports are still the grader's, not the kernel's
    _code("%matplotlib inline\nimport numpy as np\nimport pandas as pd\n", "setup"),
    _code("assert np.isclose(average_wait([1, 2]), 1.5)\n", "isclose_test__analysis", points=1),
    _code('### BEGIN SOLUTION\ngreeting = "亲,您好"\n### END SOLUTION\n', "greeting", solution=True),
    _code('assert greeting.startswith("亲")\n', "greeting_test__analysis", points=1),
    _code("def wait_table(minutes):\n    ### BEGIN SOLUTION\n    return pd.Series(minutes, dtype=float)\n"
          "    ### END SOLUTION\n", "table", solution=True),
    _code("expected = pd.Series([2.0, 4.0])\nassert wait_table([2, 4]).equals(expected)\n",
          "table_test__analysis", points=1),
    _code("assert all(map(lambda m: average_wait([m]) == m, (1, 5)))\n", "map_test__analysis", points=1),
    # partial credit scored with numpy: the last value is an np.float64 (repr "np.float64(0.0)" under numpy 2)
    _code("score = 2.0 * np.mean([average_wait([m]) == m for m in (1, 5)])\nscore\n", "np_partial_test__analysis",
          points=2),
    # partial credit by distance to the right answer: a NaN answer makes the score NaN
    _code("score = max(2.0 - abs(average_wait([1, 3]) - 2.0), 0.0)\nscore\n", "nan_partial_test__analysis",
          points=2),
]
JUDGE_CELLS += [
    # an honest answer that comes back as a pandas Series with an unnamed index (pandas warns while encoding it)
    _code("def shop_waits(waits):\n    ### BEGIN SOLUTION\n"
          "    return pd.Series({shop: sum(m) / len(m) for shop, m in waits.items()})\n    ### END SOLUTION\n",
          "shops", solution=True),
    _code('s = shop_waits({"A": [1, 3], "B": [4]})\nassert s["A"] == 2 and s["B"] == 4\n', "shops_test__analysis",
          points=1),
]
JUDGE_CELLS += [
    # the trainee's function called many times from one test: each call may print
    _code("assert all(average_wait([m]) == m for m in range(1, 31))\n", "many_test__analysis", points=1),
]
JUDGE_CELLS += [
    # reference data from the notebook's own setup cell, used by the test to compute what is expected
    _code("waits = [2, 4, 9]\n", "setup_waits"),
    _code("assert average_wait(waits) == sum(waits) / len(waits)\n", "waits_test__analysis", points=1),
]
PARTIAL_CELLS = ("np_partial_test__analysis", "nan_partial_test__analysis")
HONEST_JUDGE = {"answer": gc.GOOD, "greeting": 'greeting = "亲,您好"\n',
                "table": "def wait_table(minutes):\n    return pd.Series(minutes, dtype=float)\n",
                "shops": "def shop_waits(waits):\n    return pd.Series({k: sum(m) / len(m) for k, m in waits.items()})\n"}
WRONG_JUDGE = {"answer": "average_wait = None\n", "greeting": 'greeting = "hello"\n',
               "table": "def wait_table(minutes):\n    return pd.Series([0.0])\n",
               "shops": "def shop_waits(waits):\n    return pd.Series({'A': 0.0, 'B': 0.0})\n"}


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One cohort graded against the fixture notebook plus JUDGE_CELLS: an honest trainee, a wrong one, and
    wrong ones whose kernel lies (each attack on a test cell of its own, so one cannot hide another)."""
    from shifu.grading import grade_course

    course = tmp_path_factory.mktemp("judge") / "course"
    gc.write_config(course, cell_timeout=60)
    gc.generate_assignment(course, gc.ASSIGNMENT, {gc.NOTEBOOK: gc.source_notebook(JUDGE_CELLS)})
    lies = {
        # a str whose startswith says yes to anything: the call runs in the kernel, on the grader's prefix
        "greeting": ("class _Yes(str):\n    def startswith(self, *a, **k):\n        return True\n"
                     'greeting = _Yes("hello")\n'),
        # pandas patched in the kernel: the grader's expected Series is compared there
        "table": ("pd.Series.equals = lambda self, other: True\n"
                  "def wait_table(minutes):\n    return pd.Series([0.0])\n"),
        # StopIteration comes back as StopIteration and ends map() early: all([]) is True
        "answer": "def average_wait(minutes):\n    raise StopIteration\n",
    }
    for student, sources in (("honest", HONEST_JUDGE), ("wrong", WRONG_JUDGE),
                             ("liar", {**WRONG_JUDGE, **lies}),
                             ("seven", {**WRONG_JUDGE, "answer": "def average_wait(minutes):\n    return 7\n"}),
                             ("nan", {**WRONG_JUDGE, "answer": "def average_wait(minutes):\n    return float('nan')\n"}),
                             ("rebinder", {**WRONG_JUDGE, "answer": (
                                 "import numpy as np\nnp.isclose = lambda *a, **k: True\n"
                                 "def average_wait(minutes):\n    return 7 if len(minutes) != 2 else 1\n")}),
                             ("flood", {**HONEST_JUDGE, "answer": "print_ = print\n" + gc.GOOD.replace(
                                 "    return", "    print_('x' * 200_000)\n    return")})):
        nb = gc.released(course)
        for gid, src in sources.items():
            gc.cell(nb, gid).source = src
        if student == "rebinder":   # a cell of its own, after the setup cell: the test's reference data changes
            from nbformat.v4 import new_code_cell

            nb.cells.insert(nb.cells.index(gc.cell(nb, "waits_test__analysis")), new_code_cell("waits = [1, 1]\n"))
        gc.submit(course, student, nb)
    results = {r.student: r for r in grade_course(course, workers=2)}
    snap = gc.gradebook_snapshot("sqlite:///" + str(course / "gradebook.db"))
    scores = {student: {name: g[0] for name, g in sub["notebooks"][gc.NOTEBOOK]["grades"].items()}
              for (_, student), sub in snap["submissions"].items()}
    return {"results": results, "scores": scores, "course": course}


@needs_bwrap
@pytest.mark.slow
def test_judge_cells_score_honest_work(judged):
    scores = judged["scores"]
    assert all(r.graded for r in judged["results"].values()), {k: r.reasons for k, r in judged["results"].items()}
    for gid in ("greeting_test__analysis", "table_test__analysis", "map_test__analysis", "shops_test__analysis",
                "many_test__analysis", "isclose_test__analysis", "waits_test__analysis") + PARTIAL_CELLS:
        assert scores["honest"][gid] == (2 if gid in PARTIAL_CELLS else 1), (gid, scores["honest"])
        assert scores["wrong"][gid] == 0, (gid, scores["wrong"])


@needs_bwrap
@pytest.mark.slow
def test_a_partial_score_the_answer_made_nan_or_numpy_is_not_full_marks(judged):
    """nbgrader gives full marks to a last value it cannot read as a number in [0, points]: NaN, and
    numpy 2's repr of a numpy number ("np.float64(0.0)"). The grader writes that value, so it writes a
    plain number, and no score at all (an error) when the score is not a number."""
    scores = judged["scores"]
    assert scores["seven"]["np_partial_test__analysis"] == 0, scores["seven"]
    assert scores["seven"]["nan_partial_test__analysis"] == 0, scores["seven"]
    assert scores["nan"]["nan_partial_test__analysis"] == 0, scores["nan"]


@needs_bwrap
@pytest.mark.slow
def test_names_the_notebook_imports_after_a_magic_are_not_the_kernels(judged):
    """np is imported by a setup cell that opens with %matplotlib inline: np.isclose(...) is the grader's,
    so rebinding np.isclose in the kernel changes nothing."""
    assert judged["scores"]["rebinder"]["isclose_test__analysis"] == 0, judged["scores"]["rebinder"]


@needs_bwrap
@pytest.mark.slow
def test_stop_iteration_from_the_trainee_does_not_end_the_tests_loop(judged):
    assert judged["scores"]["liar"]["map_test__analysis"] == 0, judged["scores"]["liar"]


@needs_bwrap
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="methods of the trainee's objects (str.startswith, Series.equals) run in "
                   "the kernel, on the grader's arguments: a subclass or a patched pandas answers True")
def test_methods_on_the_trainees_values_are_not_answered_by_the_kernel(judged):
    liar = judged["scores"]["liar"]
    assert liar["greeting_test__analysis"] == 0, liar
    assert liar["table_test__analysis"] == 0, liar


@needs_bwrap
@pytest.mark.slow
def test_printing_in_every_call_of_one_test_is_kept_once(judged):
    """What the kernel printed while answering is capped for the whole test cell, not for each call: a test
    that calls the trainee's function 30 times must not carry 30 times the cap into the notebook."""
    from shifu.grading.limits import KEEP_OUTPUT_CHARS

    nb = nbformat.read(judged["course"] / "autograded" / "flood" / gc.ASSIGNMENT / f"{gc.NOTEBOOK}.ipynb",
                       as_version=4)
    kept = sum(len(o.get("text", "")) for o in gc.cell(nb, "many_test__analysis").outputs)
    assert 0 < kept <= KEEP_OUTPUT_CHARS, kept
    assert judged["scores"]["flood"]["many_test__analysis"] == 1   # printing is no error


@needs_bwrap
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="names the notebook's own setup cells bind (reference data such as `waits`) "
                   "are read from the kernel, where a cell of the trainee's rebinds them; labscore recomputes its "
                   "setup namespace in the grader, the judge does not")
def test_the_notebooks_reference_data_is_not_the_kernels(judged):
    assert judged["scores"]["rebinder"]["waits_test__analysis"] == 0, judged["scores"]["rebinder"]
