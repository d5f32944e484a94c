"""Every benchmark in bench/ still runs, at a tiny size: a bench that rots fails here, not when quoted.

Each runs as its own process, as a mentor would run it; the numbers are not checked (the machine
is shared), only that the bench finishes and its own consistency checks pass (exit 0).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

# the tiny-size arguments of each bench; bench_signals has none (it already takes seconds)
TINY = {
    "bench_grading.py": ["--students", "3"],
    "bench_course.py": ["--tiny"],
    "bench_engine.py": ["--turns", "20", "--calls", "2", "--model-ms", "1"],
    "bench_progress.py": ["--trainees", "5", "--assignments", "2", "--sample", "2"],
    "bench_signals.py": [],
    "bench_tables.py": ["--rows", "500"],
}


def test_every_bench_has_a_tiny_size() -> None:
    assert sorted(p.name for p in (ROOT / "bench").glob("bench_*.py")) == sorted(TINY)


@pytest.mark.parametrize("bench", sorted(TINY))
def test_bench_runs(bench: str, tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / bench), *TINY[bench]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"{bench} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{bench} printed nothing"


def test_eval_any_runs_the_harness_against_the_shifu_on_the_path(tmp_path: Path) -> None:
    """bench/eval_any.py (how the numbers of an older reader in bench/eval_baseline.md are measured) loads the
    harness by file path: a move of that file must fail here, not when a baseline is next measured."""
    data = tmp_path / "eval"
    data.mkdir()
    src = (ROOT / "tests" / "data" / "eval" / "own_cases.yaml").read_text(encoding="utf-8")
    (data / "own_cases.yaml").write_text(src, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "eval_any.py"), "--data", str(data),
                           "--no-conversations"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "empathy" in proc.stdout and str(ROOT / "src" / "shifu") in proc.stdout
