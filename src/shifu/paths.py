"""Where Shifu's content lives.

Content (scenarios, grader YAML, the course, data) sits at the project root, beside `src/`.
`SHIFU_HOME` points elsewhere, e.g. a mentor's own copy of the content.
"""
from __future__ import annotations

import os
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


def scenarios_dir() -> Path:
    return project_root() / "scenarios"


def grader_dir() -> Path:
    return project_root() / "grader"


def course_dir() -> Path:
    return project_root() / "course"


def data_dir() -> Path:
    return project_root() / "data"
