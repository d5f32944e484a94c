"""Course check and demo timings on this machine (noisy when other work shares the cores: say so when quoting).

    python bench/bench_course.py            # course check with the default workers vs one worker, then the demo
    python bench/bench_course.py --quick    # only the default course check and the demo
    python bench/bench_course.py --tiny     # one assignment, two demo trainees: a smoke run (tests/test_bench_smoke.py)

Ratios: the course check against a one-worker run measured in the same run, and the demo against
its 10-minute budget on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from shifu.content import paths
from shifu.course import layout
from shifu.course.check import check_course
from shifu.course.demo import run_demo
from shifu.grading.limits import default_workers

DEMO_BUDGET_S = 600.0


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the one-worker baseline")
    ap.add_argument("--tiny", action="store_true", help="one assignment and two demo trainees, no baseline (smoke run)")
    args = ap.parse_args()
    only = layout.source_assignments(paths.course_dir())[:1] if args.tiny else None
    demo_size = {"trainees": 2, "assignments": only} if args.tiny else {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cores: {os.cpu_count()}, load average at start: {load:.1f}")
    workers = default_workers()
    secs, report = timed(check_course, assignments=only, workers=workers)
    print(f"course check, {workers} workers: {secs:.0f} s (ok={report.ok}; "
          + ", ".join(f"{k} {v:.0f} s" for k, v in report.timings.items()) + ")")
    if not (args.quick or args.tiny) and workers > 1:
        base, _ = timed(check_course, workers=1)
        print(f"course check, 1 worker (baseline): {base:.0f} s; speed-up {base / secs:.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        dsecs, result = timed(run_demo, Path(tmp) / "demo", say=lambda line: print("  " + line), **demo_size)
        print(f"demo, {len(result.outcomes)} submissions: {dsecs:.0f} s = {dsecs / DEMO_BUDGET_S:.2f} of the 600 s budget")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
