"""Default limits for cohort grading, kept apart from the executor so the CLI can show them without
importing nbgrader and jupyter_client (seconds of start-up)."""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_NOTEBOOK_TIMEOUT = 600

# nbclient waits this long for a cell's last output after its reply. Its default (4 s) failed valid
# notebooks on a loaded 2-core machine (issue 16); a late message is the machine's fault, not the trainee's.
IOPUB_TIMEOUT = 60
# seconds a kernel may take to start and answer (nbclient's startup_timeout)
STARTUP_TIMEOUT = 120
# Output a notebook's kernel may send back that the grader keeps, in characters (text, or the encoded
# data of images and HTML). Everything a kernel prints is held in the grader's memory until nbgrader's
# LimitOutput trims it (to ~10 000 characters per output), so a cell printing gigabytes could exhaust
# the grader itself; past these budgets output is dropped as it arrives and the cell says so.
OUTPUT_CELL_CHARS = 2_000_000
OUTPUT_NOTEBOOK_CHARS = 8_000_000
# characters of a judged test cell's output kept (what the kernel printed while answering, the test's own prints)
KEEP_OUTPUT_CHARS = 100_000
# Largest single message the grader accepts from a kernel (zmq MAXMSGSIZE): a bigger one is dropped by
# zmq before it is read into memory (the cell's output is then noted as cut: execute.KernelRun.run).
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

# an infrastructure failure (kernel start, lost output) is retried this many times with a fresh kernel
INFRASTRUCTURE_RETRIES = 1


@dataclass(frozen=True)
class SandboxLimits:
    """rlimits of one grading kernel and everything it starts.

    memory_bytes: address space (RLIMIT_AS) of each process; pandas and numpy need ~1 GiB of it.
    cpu_seconds: CPU time of each process (RLIMIT_CPU); the notebook timeout stops wall time first.
    processes: RLIMIT_NPROC inside the box (a fork bomb stops there).
    file_bytes: largest file a process may write (RLIMIT_FSIZE).
    0 means no limit.
    """

    memory_bytes: int = 2 * 1024 ** 3
    cpu_seconds: int = 900
    processes: int = 256
    file_bytes: int = 256 * 1024 ** 2


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers(cores: int | None = None) -> int:
    """Notebooks executing at once: small notebooks mostly wait on messages and sleeps, so one more than the cores."""
    return (cores or available_cores()) + 1
