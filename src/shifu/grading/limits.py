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
