"""Where Shifu's content lives.

Content (scenarios, grader YAML, the course, data) sits at the project root, beside `src/`.
`SHIFU_HOME` points elsewhere, e.g. a mentor's own copy of the content.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("SHIFU_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "scenarios").is_dir() and (parent / "grader").is_dir():
            return parent
    return Path.cwd().resolve()


def venv_bin() -> str:
    """The folder of the Python running Shifu (the venv's bin): jupyter, nbgrader, alembic and shifu live there."""
    return str(Path(sys.executable).parent)


def venv_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """`base` (default: this process's environment) with the venv's bin first on PATH, plus `extra`.

    nbgrader shells out to `alembic`, JupyterLab to `jupyter-*`: `.venv/bin/shifu` must work without an
    activated venv (issue 10: one home for this rule).
    """
    env = dict(os.environ if base is None else base)
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if venv_bin() not in parts:
        parts.insert(0, venv_bin())
    env["PATH"] = os.pathsep.join(parts)
    env.update(extra)
    return env


def ensure_venv_on_path() -> None:
    """Put the venv's bin on this process's PATH (for libraries that shell out, e.g. nbgrader → alembic)."""
    os.environ["PATH"] = venv_env()["PATH"]


def scenarios_dir() -> Path:
    return project_root() / "scenarios"


def grader_dir() -> Path:
    return project_root() / "grader"


def course_dir() -> Path:
    return project_root() / "course"


def data_dir() -> Path:
    return project_root() / "data"


def is_plain_file(path: Path) -> bool:
    """A regular file that is not a link: what Shifu reads from a trainee's folder. A link can point at a
    classmate's file; a FIFO or device named like a transcript would block the reader."""
    return path.is_file() and not path.is_symlink()
