"""`shifu course check`: prove the course is sound before trainees see it.

1. every source notebook's reference answers pass `nbgrader validate` (full marks on every test);
2. the release notebooks, built afresh in a scratch course, hide every solution, hidden test and reference
   transcript (their lines are looked for in every released file);
3. an untouched copy of each release notebook runs to the end under autograde (errors only in the
   answer and test cells, where an empty answer belongs) and scores zero.
"""
from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from shifu.course import layout
from shifu.course.build import build_course, select
from shifu.grading import GRADER_NAME
from shifu.grading.gradebook import read_scores
from shifu.grading.limits import default_workers

UNTOUCHED = "shifu-check-untouched"
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


@dataclass(frozen=True)
class Finding:
    assignment: str
    step: str  # validate | build | hidden | untouched
    ok: bool
    detail: str


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    grader: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]


# --- 1. reference answers validate -------------------------------------------------------------

def _silence_kernel_stderr() -> None:
    """Kernels started here inherit this worker's stderr; their start-up chatter is not the check's report."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _validate_one(notebook: str, course: str, timeout: int | None) -> tuple[str, list[str], float]:
    """Runs in a worker process: nbgrader's Validator on one source notebook."""
    from nbgrader.validator import Validator

    from shifu.content.paths import ensure_venv_on_path
    from shifu.grading.nbgrader_course import load_config

    ensure_venv_on_path()
    _silence_kernel_stderr()
    t0 = time.perf_counter()
    try:
        results = Validator(config=load_config(Path(course), timeout=timeout)).validate(notebook)
    except Exception as exc:  # a notebook nbgrader cannot even read
        return notebook, [f"nbgrader could not validate it: {type(exc).__name__}: {exc}"], time.perf_counter() - t0
    problems = []
    for kind in ("type_changed", "changed", "failed"):
        for cell in results.get(kind, []):
            first = cell.get("source", "").strip().splitlines()
            where = next((ln for ln in first if "points(" in ln or "assert" in ln), first[0] if first else "")
            err = html.unescape(re.sub(r"<[^>]+>", "", cell.get("error", ""))).strip().splitlines()
            problems.append(f"{kind}: {where[:160]}" + (f" — {err[-1][:200]}" if err else ""))
    return notebook, problems, time.perf_counter() - t0


def validate_sources(course: Path, assignments: list[str], workers: int, timeout: int | None) -> list[Finding]:
    notebooks = [nb for a in assignments for nb in sorted((layout.source_dir(course) / a).glob("*.ipynb"))]
    findings = []
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(notebooks)))) as pool:
        futures = [pool.submit(_validate_one, str(nb), str(course), timeout) for nb in notebooks]
        for fut in futures:
            path, problems, secs = fut.result()
            name = Path(path).parent.name
            if problems:
                findings += [Finding(name, "validate", False, f"{Path(path).name}: {p}") for p in problems]
            else:
                findings.append(Finding(name, "validate", True, f"{Path(path).name}: reference answers get full marks ({secs:.1f} s)"))
    return findings


# --- 2. nothing hidden leaks into the release -------------------------------------------------

def hidden_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """Lines inside hidden-test blocks that appear nowhere else in the source notebook."""
    hidden, visible = set(), []
    for cell in notebook.cells:
        src = cell.source
        for block in _HIDDEN.findall(src):
            hidden |= {ln.strip() for ln in block.splitlines() if ln.strip()}
        visible.append(_HIDDEN.sub("", src))
    shown = "\n".join(visible)
    return {ln for ln in hidden if ln not in shown}


def leaks(source_nb: Path, release_nb: Path) -> list[str]:
    src = nbformat.read(source_nb, as_version=4)
    rel_text = release_nb.read_text(encoding="utf-8")
    rel = json.loads(rel_text)
    found = []
    body = "\n".join("".join(c.get("source", "")) + json.dumps(c.get("outputs", []), ensure_ascii=False) for c in rel["cells"])
    for line in sorted(hidden_lines(src)):
        if line in body:
            found.append(f"hidden test line is visible in {release_nb.name}: {line[:120]}")
    if "BEGIN HIDDEN TESTS" in body or "BEGIN SOLUTION" in body:
        found.append(f"{release_nb.name} still holds a BEGIN HIDDEN TESTS / BEGIN SOLUTION marker")
    return found


_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
_MARKERS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS")
MIN_SECRET_CHARS = 8  # shorter lines ("pass", "return 0") are too common to count as a leaked solution


def secrets_of(course: Path, assignment: str) -> dict[str, str]:
    """What trainees must never receive, for one assignment: text → what it is.

    Lines of solution blocks and hidden tests that appear nowhere else in its source notebooks (at
    least MIN_SECRET_CHARS long), and the trainee replies of its reference transcripts.
    """
    from shifu.roleplay.transcript import read_transcript

    source_folder = layout.source_dir(course) / assignment
    found: dict[str, str] = {}
    for path in sorted(source_folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        secret: dict[str, str] = {}
        shown = []
        for cell in nb.cells:
            src = cell.source
            for block in _SOLUTION.findall(src):
                secret.update({ln.strip(): f"solution line of {path.name}" for ln in block.splitlines()})
            for block in _HIDDEN.findall(src):
                secret.update({ln.strip(): f"hidden test line of {path.name}" for ln in block.splitlines()})
            shown.append(_SOLUTION.sub("", _HIDDEN.sub("", src)))
        visible = "\n".join(shown)
        found.update({ln: what for ln, what in secret.items() if len(ln) >= MIN_SECRET_CHARS and ln not in visible})
    for path in sorted((layout.reference_dir(course) / assignment).glob("*.jsonl")):
        t = read_transcript(path)
        found.update({r.strip(): f"reply of reference transcript {path.name}" for r in t.replies if len(r.strip()) >= MIN_SECRET_CHARS})
    return found


def scan_for_secrets(folder: Path, secrets: dict[str, str]) -> list[str]:
    """Every file under `folder` that holds a secret (or a solution / hidden-test marker), one line each."""
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary data (a parquet file): not where a reply or test line could be read
        if path.suffix == ".ipynb":  # JSON escapes newlines and quotes: compare the notebook's own text
            with contextlib.suppress(Exception):
                nb = nbformat.reads(text, as_version=4)
                text = "\n".join(c.source + "\n" + json.dumps(c.get("outputs", []), ensure_ascii=False) for c in nb.cells) \
                    + json.dumps(nb.metadata, ensure_ascii=False)
        hits = [what for line, what in secrets.items() if line in text]
        hits += [f"a {m} marker" for m in _MARKERS if m in text]
        problems += [f"{rel}: {hit}" for hit in sorted(set(hits))]
    return problems


def check_release(course: Path, scratch: Path, assignments: list[str]) -> list[Finding]:
    findings = []
    for a in assignments:
        problems = []
        rel_dir = layout.release_dir(scratch) / a
        for src in sorted((layout.source_dir(course) / a).glob("*.ipynb")):
            rel = rel_dir / src.name
            if not rel.exists():
                problems.append(f"{src.name} has no release version")
                continue
            problems += leaks(src, rel)
        stray = [p.relative_to(rel_dir).as_posix() for p in rel_dir.rglob("*")
                 if "reference" in p.relative_to(rel_dir).parts or p.suffix == ".jsonl"]
        problems += [f"reference or transcript file reached the release: {s}" for s in stray]
        problems += [f"the release holds what trainees must not see: {p}"
                     for p in scan_for_secrets(rel_dir, secrets_of(course, a))]
        if problems:
            findings += [Finding(a, "hidden", False, p) for p in problems]
        else:
            findings.append(Finding(a, "hidden", True, "no hidden test or reference file in the release"))
    return findings


# --- 3. untouched release runs and scores zero ------------------------------------------------

def _cell_errors(notebook: Path) -> list[str]:
    """Errors raised outside answer and test cells (an untouched answer may raise; nothing else should)."""
    nb = nbformat.read(notebook, as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") or meta.get("grade"):
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"{notebook.name} cell {i + 1} raised {o.get('ename')}: {str(o.get('evalue'))[:160]}")
            elif o.get("output_type") == "stream" and o.get("name") == "stderr" and "Traceback" in o.get("text", ""):
                out.append(f"{notebook.name} cell {i + 1} printed a traceback")
    return out


def check_untouched(scratch: Path, assignments: list[str], workers: int, timeout: int | None, db_url: str) -> list[Finding]:
    from shifu.grading import grade_course  # nbgrader and jupyter_client load when grading starts

    for a in assignments:
        dest = scratch / "submitted" / UNTOUCHED / a
        shutil.copytree(layout.release_dir(scratch) / a, dest)
    outcomes = grade_course(scratch, assignments, workers=workers, timeout=timeout, db_url=db_url, force=True,
                            feedback=False)
    scores = {s.assignment: s for s in read_scores(scratch, db_url) if s.student == UNTOUCHED}
    findings = [Finding(o.assignment, "untouched", False, f"autograde failed: {o.reason}") for o in outcomes if not o.graded]
    for a in assignments:
        problems = []
        s = scores.get(a)
        if s is None:
            problems.append("the untouched copy was not graded")
        else:
            scored = {k: v for k, v in s.cells.items() if v[0] > 0}
            if scored:
                problems += [f"untouched answer scores {v[0]:g}/{v[1]:g} in {k}" for k, v in sorted(scored.items())]
        graded_dir = scratch / "autograded" / UNTOUCHED / a
        notebooks = sorted(graded_dir.glob("*.ipynb"))
        if s is not None and not notebooks:
            problems.append("no autograded notebook was written")
        for nb in notebooks:
            problems += _cell_errors(nb)
        if problems:
            findings += [Finding(a, "untouched", False, p) for p in problems]
        else:
            total = f"0/{s.max_score:g}" if s else "0"
            findings.append(Finding(a, "untouched", True, f"untouched release runs to the end and scores {total}"))
    return findings


def check_course(course: Path | None = None, assignments: list[str] | None = None, workers: int | None = None,
                 timeout: int | None = 300, keep: Path | None = None) -> CheckReport:
    """Run every check; the scratch course lives in a temp folder (or `keep`, to inspect it afterwards)."""
    from shifu.content import paths

    course = (course or paths.course_dir()).resolve()
    names = select(course, assignments)
    workers = workers or default_workers()
    report = CheckReport(grader=GRADER_NAME)
    t0 = time.perf_counter()
    report.findings += validate_sources(course, names, workers, None)
    report.timings["validate"] = time.perf_counter() - t0

    tmp = Path(tempfile.mkdtemp(prefix="shifu-check-")) if keep is None else keep
    scratch = tmp / "course"
    try:
        scratch.mkdir(parents=True, exist_ok=False)
        shutil.copy2(course / "nbgrader_config.py", scratch / "nbgrader_config.py")
        for a in names:
            shutil.copytree(layout.source_dir(course) / a, layout.source_dir(scratch) / a)
        db_url = "sqlite:///" + str(scratch / "gradebook.db")
        t1 = time.perf_counter()
        built = build_course(scratch, names, db_url=db_url)
        report.timings["build"] = time.perf_counter() - t1
        report.findings += [Finding(b.assignment, "build", b.ok, f"release built ({b.seconds:.1f} s)" if b.ok else b.error or "no release notebook")
                            for b in built]
        good = [b.assignment for b in built if b.ok]
        report.findings += check_release(course, scratch, good)
        t2 = time.perf_counter()
        report.findings += check_untouched(scratch, good, workers, timeout, db_url)
        report.timings["untouched"] = time.perf_counter() - t2
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    report.timings["total"] = time.perf_counter() - t0
    return report
