"""Default limits for cohort grading, kept apart from the executor so the CLI can show them without
importing nbgrader and jupyter_client (seconds of start-up)."""
from __future__ import annotations

import os

DEFAULT_NOTEBOOK_TIMEOUT = 600


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers(cores: int | None = None) -> int:
    """Notebooks executing at once: small notebooks mostly wait on messages and sleeps, so one more than the cores."""
    return (cores or available_cores()) + 1
