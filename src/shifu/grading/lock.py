"""One `shifu grade` per course at a time.

Two runs at once delete each other's autograded folders and overwrite each other's grades (issue
16: a trainee ended at 0.0 instead of 3.1). The lock is an flock on <course>/.shifu/grade.lock;
the file also says who holds it (pid, host, start time) so a second run can name the holder. The
kernel drops an flock when its process dies, even by kill -9, so a lock left by a dead run is
free: the next run takes it over and says whose it was.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Iterator

from shifu.content.errors import Problem, ShifuError, display_path

STATE_DIR = ".shifu"
LOCK_NAME = "grade.lock"


class CourseLocked(ShifuError):
    """Another grading run holds the course."""


def lock_path(course_root: Path) -> Path:
    return Path(course_root) / STATE_DIR / LOCK_NAME


def _holder_text(info: dict) -> str:
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started {info.get('started', '?')}"


@contextlib.contextmanager
def course_lock(course_root: Path, notes: list[str] | None = None) -> Iterator[dict]:
    """Hold the grading lock of COURSE_ROOT; CourseLocked naming the holder when another run has it.

    notes: receives a line when a lock left by a run that is gone is taken over. Yields what the
    lock file now says about this run ({pid, host, started}).
    """
    path = lock_path(course_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(fd)
            raise CourseLocked([Problem(display_path(path), "lock",
                                        f"another `shifu grade` is grading this course ({_holder_text(info)})",
                                        "wait for it to finish, or stop that process; grading twice at once "
                                        "overwrites grades")]) from None
        before = _read(fd)
        if before.get("pid") and notes is not None:
            notes.append(f"took over the grading lock left by {_holder_text(before)}, which is no longer running; "
                         "its unfinished submissions are graded again")
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)  # a clean end leaves an empty lock file: nothing to take over
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> dict:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data.decode() or "{}")
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}
