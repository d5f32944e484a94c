"""`shifu grade` against PostgreSQL: a throw-away server on a unix socket in a temporary folder.

Skipped where PostgreSQL's server programs or the psycopg2 driver are not installed.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

from shifu.grading import FAILED, GRADED, grade_course  # noqa: E402

pytestmark = pytest.mark.slow

PORT = 54329 + os.getpid() % 500


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; there it runs as the `postgres` system user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="module")
def postgres() -> tuple[str, str]:
    pytest.importorskip("psycopg2")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        pytest.skip("running as root and there is no `postgres` user to run the server")
    folder = Path(tempfile.mkdtemp(prefix="shifu-pg-"))  # under /tmp: the server user must reach it
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    run = lambda cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=60)  # noqa: E731
    init = run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "shifu", "--auth=trust", "-E", "UTF8"]))
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr[-300:]}")
    start = run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                                 "-o", f"-k {folder} -c listen_addresses='' -p {PORT} -c fsync=off", "start"]))
    if start.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stderr[-300:]}")
    try:
        for name in ("shifu_ours", "shifu_plain"):
            made = run([str(bindir / "createdb"), "-h", str(folder), "-p", str(PORT), "-U", "shifu", name])
            assert made.returncode == 0, made.stderr
        url = "postgresql+psycopg2://shifu@/{}?host=" + str(folder) + f"&port={PORT}"
        yield url.format("shifu_ours"), url.format("shifu_plain")
    finally:
        run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]))
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_gradebook_matches_plain_nbgrader(postgres: tuple[str, str], tmp_path: Path) -> None:
    ours_url, plain_url = postgres
    ours = gc.build_course(tmp_path / "ours", cell_timeout=5, db_url=ours_url)
    gc.submit(ours, "good", gc.answered(ours, gc.GOOD, "亲,抱歉久等了。"))
    gc.submit(ours, "poor", gc.answered(ours, gc.POOR))
    gc.submit(ours, "broken", "{ not json")
    plain = tmp_path / "plain"
    shutil.copytree(ours, plain)
    gc.generate_assignment(plain, gc.ASSIGNMENT, {gc.NOTEBOOK: gc.source_notebook()}, db_url=plain_url)

    results = {r.student: r for r in grade_course(ours, workers=3, db_url=ours_url)}
    assert {s: (r.status, r.score) for s, r in results.items()} == {
        "good": (GRADED, 3), "poor": (GRADED, 2), "broken": (FAILED, 0)}
    assert all(r.feedback for s, r in results.items() if s != "broken")

    # plain nbgrader, pointed at the other database through the course config's SHIFU_GRADEBOOK_URL
    env = dict(os.environ, SHIFU_GRADEBOOK_URL=plain_url,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", gc.ASSIGNMENT],
                          cwd=plain, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr[-2000:]  # the broken notebook
    assert gc.gradebook_snapshot(ours_url) == gc.gradebook_snapshot(plain_url)
