"""Helper for tests/test_grading_attacks.py: grade one submission whose answer cell prints N MiB, then print
the grader process's peak memory. Run as a script (a fresh process per measurement): `python grading_flood_run.py N`."""
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc
from shifu.grading import grade_course
n = int(sys.argv[1])
course = gc.build_course(Path(tempfile.mkdtemp()) / "course", cell_timeout=300)
code = "" if n == 0 else f"import sys\nfor _ in range({n}):\n    sys.stdout.write('x' * (1024 * 1024) + '\\n')\n"
gc.submit(course, "flood", gc.answered(course, gc.GOOD + code))
t = time.time()
res = grade_course(course, workers=1)
print("N", n, "secs", round(time.time() - t, 1), "maxrss_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
      [(r.student, r.status, r.score, r.reasons[:2]) for r in res])
