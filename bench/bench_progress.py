"""Time the full cohort progress report on a synthetic gradebook (default 10,000 trainees × 20 assignments).

Targets (issue 12): under 30 s and under 1.5 GB peak memory on a 2-core machine, printed as ratios.
The gradebook is built in a child process, so the peak RSS printed is the report's (reading,
evidence, proficiency, charts, HTML, CSV), not the builder's.

Populating: assignments, notebooks and grade cells through Gradebook's add_* methods; the 20,000
submissions, their notebooks and grades as bulk ORM inserts (`Gradebook.db.execute(insert(Model), rows)`)
on nbgrader's own session and models — add_submission commits once per submission, far too slow here.
Reading: the report reads through shifu.grading.gradebook_tables (bulk ORM queries on Gradebook.db).
Baseline in the same run: reading a sample of trainees the per-object way
(Gradebook.find_submission_notebook(...).grades), scaled to the whole cohort.

    python bench/bench_progress.py [--trainees 10000] [--assignments 20] [--cells 6] [--tracemalloc]

The machine may be shared with other busy processes: timings are noisy, compare ratios.
"""
from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

TAGS = ["de_escalation", "need_tracing", "policy_accuracy", "conversion", "communication", "product",
        "operations", "business", "kpi_reporting", "forecasting_staffing", "complaint_analysis", "nps_analysis"]


TARGET_S = 30.0
TARGET_MB = 1500.0


def build(db: Path, trainees: int, assignments: int, cells: int, seed: int = 7) -> int:
    from nbgrader import api as nb
    from sqlalchemy import insert

    from shifu.content.paths import ensure_venv_on_path

    # nbgrader's Gradebook runs `alembic heads` (by name, through PATH) when it creates a database: run as
    # `.venv/bin/python bench/…` without the venv activated, that fails with FileNotFoundError: 'alembic'.
    ensure_venv_on_path()

    rng = random.Random(seed)
    start = datetime(2026, 1, 5)
    with nb.Gradebook(f"sqlite:///{db}", course_id="shifu") as gb:
        cell_ids: dict[str, list[tuple[str, float, bool]]] = {}
        nb_ids: dict[str, str] = {}
        for a in range(assignments):
            name = f"a{a:02d}"
            gb.add_assignment(name, duedate=start + timedelta(days=7 * a))
            nbk = gb.add_notebook("main", name)
            nb_ids[name] = nbk.id
            cell_ids[name] = []
            for c in range(cells):
                tag = TAGS[(a + c) % len(TAGS)] if c < cells - 1 else ("mystery" if a % 5 == 0 else TAGS[c % len(TAGS)])
                manual = c == 1
                # the manual cell is a mentor's 导师点评 (review__<tag>), so the calibration section has pairs
                gc = gb.add_grade_cell(f"review__{tag}" if manual else f"q{c}__{tag}", "main", name, max_score=float(rng.choice([2, 4, 5])),
                                       cell_type="markdown" if manual else "code")
                cell_ids[name].append((gc.id, gc.max_score, manual))
        assignment_ids = {a.name: a.id for a in gb.assignments}
        students = [f"t{i:04d}" for i in range(trainees)]
        gb.db.execute(insert(nb.Student), [{"id": s, "first_name": "", "last_name": ""} for s in students])
        subs, snbs, grades, n_grades = [], [], [], 0

        def flush() -> None:
            nonlocal n_grades
            if subs:
                gb.db.execute(insert(nb.SubmittedAssignment), subs)
                gb.db.execute(insert(nb.SubmittedNotebook), snbs)
            if grades:
                gb.db.execute(insert(nb.Grade), grades)
            n_grades += len(grades)
            subs.clear(), snbs.clear(), grades.clear()

        for s_i, s in enumerate(students):
            if len(grades) >= 100_000:
                flush()
            skill = rng.uniform(0.35, 0.95)
            for a_i, name in enumerate(assignment_ids):
                if rng.random() < 0.03:  # a few missing submissions
                    continue
                sa_id, sn_id = uuid.uuid4().hex, uuid.uuid4().hex
                ts = start + timedelta(days=7 * a_i, hours=rng.randint(-48, 48))
                subs.append({"id": sa_id, "assignment_id": assignment_ids[name], "student_id": s, "timestamp": ts})
                snbs.append({"id": sn_id, "assignment_id": sa_id, "notebook_id": nb_ids[name]})
                growth = min(1.0, skill + 0.01 * a_i)
                for cell_id, mx, manual in cell_ids[name]:
                    pending = manual and rng.random() < 0.05
                    score = round(mx * min(1.0, max(0.0, rng.gauss(growth, 0.15))), 1)
                    grades.append({"id": uuid.uuid4().hex, "cell_id": cell_id, "notebook_id": sn_id,
                                   "auto_score": None if manual else score,
                                   "manual_score": None if (not manual or pending) else score,
                                   "needs_manual_grade": pending})
        flush()
        gb.db.commit()
        return n_grades


def per_object_read(db: Path, sample: int) -> float:
    """Seconds to read `sample` trainees' grades one submitted notebook at a time through the Gradebook API."""
    from nbgrader import api as nb

    t0 = time.perf_counter()
    n = 0
    with nb.Gradebook(f"sqlite:///{db}", course_id="shifu") as gb:
        names = [a for (a,) in gb.db.query(nb.Assignment.name)]
        # the ids alone: `gb.students` would load every student with their submissions as objects
        for (s,) in gb.db.query(nb.Student.id).order_by(nb.Student.id).limit(sample):
            for a in names:
                try:
                    snb = gb.find_submission_notebook("main", a, s)
                except nb.MissingEntry:
                    continue
                n += sum(1 for g in snb.grades if g.score is not None)
    return time.perf_counter() - t0


def _build_apart(db: Path, trainees: int, assignments: int, cells: int) -> int:
    """build() in a child process: its lists of a million rows must not count in the report's peak memory."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        return pool.apply(build, (db, trainees, assignments, cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trainees", type=int, default=10_000)
    ap.add_argument("--assignments", type=int, default=20)
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--sample", type=int, default=20, help="trainees read the per-object way for the baseline")
    ap.add_argument("--tracemalloc", action="store_true", help="also measure Python peak allocation (slower run)")
    args = ap.parse_args()

    from shifu.progress.config import load_progress_rules
    from shifu.progress.evidence import collect_evidence
    from shifu.progress.report import cohort_view, write_cohort

    work = Path(tempfile.mkdtemp(prefix="shifu-bench-"))
    try:
        course = work / "course"
        course.mkdir()
        db = course / "gradebook.db"
        t0 = time.perf_counter()
        n_grades = _build_apart(db, args.trainees, args.assignments, args.cells)
        t_build = time.perf_counter() - t0
        print(f"synthetic gradebook: {args.trainees} trainees × {args.assignments} assignments, {n_grades} grades "
              f"({db.stat().st_size / 1e6:.1f} MB), built in {t_build:.1f} s")

        def full_report() -> dict[str, float]:
            marks = {}
            t = time.perf_counter()
            ev = collect_evidence(course, f"sqlite:///{db}")
            marks["read + evidence"] = time.perf_counter() - t
            rules = load_progress_rules()
            t = time.perf_counter()
            view = cohort_view(ev, rules, as_of=datetime(2026, 5, 31))
            marks["proficiency + charts"] = time.perf_counter() - t
            t = time.perf_counter()
            write_cohort(view, rules, work / "out")
            marks["HTML + CSV"] = time.perf_counter() - t
            from shifu.progress.calibration import calibrate

            t = time.perf_counter()
            cal = calibrate(ev, rules)  # already inside cohort_view; timed alone to show its share
            marks["calibration (alone)"] = time.perf_counter() - t
            marks["calibration pairs"] = cal.overall["pairs"]
            marks["evidence rows"] = len(ev.table)
            marks["at risk"] = len(view.at_risk)
            return marks

        t0 = time.perf_counter()
        marks = full_report()
        total = time.perf_counter() - t0 - marks["calibration (alone)"]
        print(f"calibration / full report = {marks['calibration (alone)'] / total:.2f}")
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
        for k, v in marks.items():
            print(f"  {k:22s} {v:10.2f}" + ("" if k in ("evidence rows", "calibration pairs", "at risk") else " s"))
        print(f"full cohort report: {total:.2f} s, {total / TARGET_S:.2f} of the {TARGET_S:.0f} s target; "
              f"peak RSS {peak_rss:.0f} MB, {peak_rss / TARGET_MB:.2f} of the {TARGET_MB:.0f} MB target")
        print(f"per 1,000 trainees: {1000 * total / max(1, args.trainees):.2f} s; at risk {marks['at risk']:.0f} of {args.trainees} "
              f"({marks['at risk'] / max(1, args.trainees):.1%})")
        html = work / "out" / "index.html"
        print(f"report: index.html {html.stat().st_size / 1e6:.2f} MB, evidence.csv "
              f"{(work / 'out' / 'evidence.csv').stat().st_size / 1e6:.1f} MB")

        sample = min(args.sample, args.trainees)
        t_obj = per_object_read(db, sample)
        scaled = t_obj * args.trainees / max(1, sample)
        print(f"baseline, per-object API reads: {sample} trainees in {t_obj:.2f} s → {scaled:.1f} s for all "
              f"{args.trainees} (bulk read + evidence is {scaled / max(marks['read + evidence'], 1e-9):.0f}× faster; "
              f"full report / per-object read = {total / scaled:.2f})")
        if args.tracemalloc:
            tracemalloc.start()
            full_report()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"tracemalloc peak (Python allocations during one full report): {peak / 1e6:.0f} MB")
        print("note: the machine may be shared; timings are noisy")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
