"""Cohort grading speed: `shifu grade` against plain `nbgrader autograde`, same cohort, same run.

Builds a synthetic cohort (small pandas notebooks like the course labs: read a CSV, compute a few
figures; most right, some partly wrong, one raising, a couple sleeping, one looping until the cell
timeout), copies the course twice, then times, each as its own process from a cold start:

  baseline   nbgrader autograde ASSIGNMENT          (serial, one kernel at a time; run before and after)
  shifu      shifu grade --assignment ASSIGNMENT    (parallel, warm kernels; includes feedback HTML)

and, for reference, `nbgrader generate_feedback` on the baseline copy. It checks that both
gradebooks hold the same grades, then prints the times and ratios. The machine may be busy with
other work: the load average is printed beside the numbers.

    .venv/bin/python bench/bench_grading.py [--students 40] [--workers N[,N...]] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import grading_course as gc  # noqa: E402

ASSIGNMENT = "lab_orders"
NOTEBOOK = "orders"
CELL_TIMEOUT = 10

ORDERS_CSV = "order_id,shop,minutes_to_reply,refund,rating\n" + "".join(
    f"{i},{['旗舰店', '专营店', '自营店'][i % 3]},{(i * 7) % 23 + 1},{int(i % 5 == 0)},{(i * 3) % 5 + 1}\n"
    for i in range(1, 201))

LOAD = "import pandas as pd\norders = pd.read_csv('orders.csv')\norders.head()\n"
ANSWER = '''def reply_stats(df):
    """Mean reply minutes per shop, and the refund rate overall."""
    ### BEGIN SOLUTION
    return df.groupby("shop")["minutes_to_reply"].mean().round(2).to_dict(), round(df["refund"].mean(), 3)
    ### END SOLUTION
'''
TEST_PARTIAL = '''score = 0.0
means, rate = reply_stats(orders)
if abs(rate - 0.2) < 1e-9:
    score += 1.0
if set(means) == {"旗舰店", "专营店", "自营店"} and abs(sum(means.values()) - 36.0) < 1.0:
    score += 1.0
score
'''
TEST_ASSERT = "means, rate = reply_stats(orders)\nassert means['自营店'] < 20\n"

RIGHT = ('def reply_stats(df):\n    return df.groupby("shop")["minutes_to_reply"].mean().round(2).to_dict(), '
         'round(df["refund"].mean(), 3)\n')
HALF = 'def reply_stats(df):\n    return {}, round(df["refund"].mean(), 3)\n'
RAISES = 'def reply_stats(df):\n    return df["reply_minutes"].mean(), 0\n'
SLEEPS = 'import time\ntime.sleep(2)\n' + RIGHT
LOOPS = 'while True:\n    pass\n'


def source_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    load = new_code_cell(LOAD)
    answer = new_code_cell(ANSWER)
    answer.metadata = {"nbgrader": {"grade": False, "grade_id": "stats", "locked": False, "schema_version": 3,
                                    "solution": True, "task": False}}
    partial = new_code_cell(TEST_PARTIAL)
    partial.metadata = {"nbgrader": {"grade": True, "grade_id": "stats_test__analysis", "locked": True, "points": 2,
                                     "schema_version": 3, "solution": False, "task": False}}
    check = new_code_cell(TEST_ASSERT)
    check.metadata = {"nbgrader": {"grade": True, "grade_id": "stats_assert__analysis", "locked": True, "points": 1,
                                   "schema_version": 3, "solution": False, "task": False}}
    nb.cells = [new_markdown_cell("# 各店铺回复时长"), load, answer, partial, check]
    return nb


def build(course: Path, students: int) -> dict[str, int]:
    gc.write_config(course, cell_timeout=CELL_TIMEOUT)
    (course / "source" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (course / "source" / ASSIGNMENT / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    gc.generate_assignment(course, ASSIGNMENT, {NOTEBOOK: source_notebook()})
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    kinds = {"right": 0, "half": 0, "raises": 0, "sleeps 2 s": 0, "loops": 0}
    for i in range(students):
        kind, answer = ("sleeps 2 s", SLEEPS) if i in (7, 23) else ("loops", LOOPS) if i == 31 else \
            ("raises", RAISES) if i % 9 == 4 else ("half", HALF) if i % 4 == 1 else ("right", RIGHT)
        kinds[kind] += 1
        nb = nbformat.from_dict(release)
        gc.cell(nb, "stats").source = answer
        gc.submit(course, f"trainee{i:03d}", nb, assignment=ASSIGNMENT, notebook=NOTEBOOK)
    return kinds


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuMeter:
    """CPU seconds of a command and everything it started.

    getrusage(RUSAGE_CHILDREN) counts only processes that were waited for: a sandboxed kernel is the
    child of bwrap's own init, and a kernel killed at shutdown is reaped by no one who reports it. So
    where a cgroup (v1 cpuacct) can be made, the command runs in one and its usage is read from there;
    otherwise rusage is used and the method says so."""

    def __init__(self) -> None:
        self.group: Path | None = None
        if CPUACCT.is_dir() and os.access(CPUACCT, os.W_OK):
            group = CPUACCT / f"shifu-bench-{os.getpid()}"
            try:
                group.mkdir(exist_ok=True)
                self.group = group
            except OSError:
                self.group = None
        self.method = "cgroup cpuacct" if self.group else "rusage of waited-for children"

    def run(self, cmd: list[str], cwd: Path, env: dict) -> tuple[subprocess.CompletedProcess, float]:
        if self.group is None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return proc, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        usage = self.group / "cpuacct.usage"
        start = int(usage.read_text())
        procs = str(self.group / "cgroup.procs")

        def join() -> None:  # in the child, before exec: it and all it starts are counted
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, preexec_fn=join)
        for _ in range(100):  # kernels being shut down may outlive the command by a moment
            if not (self.group / "cgroup.procs").read_text().strip():
                break
            time.sleep(0.1)
        return proc, (int(usage.read_text()) - start) / 1e9

    def close(self) -> None:
        if self.group is not None:
            for _ in range(50):
                try:
                    self.group.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


METER: CpuMeter | None = None


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command and every process it started (its kernels)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert METER is not None
    start = time.monotonic()
    proc, cpu = METER.run(cmd, cwd, env)
    took = time.monotonic() - start
    if proc.returncode not in (0, 1):  # nbgrader exits 1 when any submission failed
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--workers", default="", help="shifu grade --workers, or a comma list to compare several "
                    "(default: its own default)")
    ap.add_argument("--keep", type=Path, default=None, help="build the cohort here and keep it")
    args = ap.parse_args()
    global METER
    METER = CpuMeter()
    try:
        run_bench(args)
    finally:
        METER.close()


def run_bench(args: argparse.Namespace) -> None:
    from shifu.grading.limits import available_cores, default_workers

    work = args.keep or Path(tempfile.mkdtemp(prefix="shifu-bench-"))
    base = work / "course"
    if base.exists():
        shutil.rmtree(base)
    kinds = build(base, args.students)
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()] or [default_workers()]
    copies = {"nbgrader": work / "nbgrader", "nbgrader-again": work / "nbgrader-again",
              **{w: work / f"shifu-w{w}" for w in worker_counts}}
    for copy in copies.values():
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(base, copy)

    bindir = Path(sys.executable).parent
    baseline = copies["nbgrader"]
    load_before = os.getloadavg()
    # the baseline runs before and after shifu, so a change in the machine's load hits both sides alike
    t_before, cpu_before = timed([str(bindir / "nbgrader"), "autograde", ASSIGNMENT], baseline)
    shifu_runs = {}
    for w in worker_counts:
        cmd = [str(bindir / "shifu"), "grade", "--course", str(copies[w]), "--assignment", ASSIGNMENT,
               "--no-progress", "--workers", str(w)]
        shifu_runs[w] = timed(cmd, copies[w])
    t_feedback, cpu_feedback = timed([str(bindir / "nbgrader"), "generate_feedback", ASSIGNMENT], baseline)
    t_after, cpu_after = timed([str(bindir / "nbgrader"), "autograde", ASSIGNMENT], copies["nbgrader-again"])
    t_plain, cpu_plain = (t_before + t_after) / 2, (cpu_before + cpu_after) / 2
    load_after = os.getloadavg()

    n = args.students
    print(f"cohort: {n} submissions of {ASSIGNMENT} ({', '.join(f'{v} {k}' for k, v in kinds.items())}); "
          f"cell timeout {CELL_TIMEOUT} s")
    assert METER is not None
    print(f"CPU measured by {METER.method}")
    print(f"cores: {available_cores()}  default workers: {default_workers()}  "
          f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"nbgrader autograde              {t_plain:7.1f} s  ({t_plain / n:.2f} s per submission)  CPU {cpu_plain:6.1f} s"
          f"  (mean of {t_before:.1f} s before and {t_after:.1f} s after the shifu runs)")
    print(f"nbgrader generate_feedback      {t_feedback:7.1f} s                             CPU {cpu_feedback:6.1f} s")
    identical = True
    theirs = gc.gradebook_snapshot("sqlite:///" + str(baseline / "gradebook.db"))
    for w, (took, cpu) in shifu_runs.items():
        ours = gc.gradebook_snapshot("sqlite:///" + str(copies[w] / "gradebook.db"))
        same = ours == theirs
        identical &= same
        print(f"shifu grade --workers {w:<2} (+ feedback) {took:7.1f} s  ({took / n:.2f} s per submission)  "
              f"CPU {cpu:6.1f} s  speed-up {t_plain / took:.2f}x vs autograde, "
              f"{(t_plain + t_feedback) / took:.2f}x vs autograde + feedback; same gradebook: {same}")
        for key in sorted(set(theirs["submissions"]) | set(ours["submissions"])):
            if theirs["submissions"].get(key) != ours["submissions"].get(key):
                print(f"  differs: {key}\n    nbgrader: {theirs['submissions'].get(key)}\n"
                      f"    shifu:    {ours['submissions'].get(key)}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
