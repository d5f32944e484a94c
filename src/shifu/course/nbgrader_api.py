"""nbgrader's own API, configured from a course directory's nbgrader_config.py.

In-process calls avoid one nbgrader start-up per assignment (several seconds each on 2 cores).
"""
from __future__ import annotations

import logging
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from ..errors import Problem, ShifuError, display_path
from ..paths import ensure_venv_on_path


def load_config(course: Path, db_url: str | None = None, timeout: int | None = None) -> Config:
    """The course's nbgrader configuration, with the course root forced to `course` and optional overrides."""
    cfg_file = course / "nbgrader_config.py"
    config = Config()
    if cfg_file.exists():
        try:
            config = PyFileConfigLoader(cfg_file.name, path=str(course)).load_config()
        except Exception as exc:  # a trainer's typo in the config file: say where
            raise ShifuError([Problem(display_path(cfg_file), "(python)", f"cannot be loaded: {exc}",
                                      "fix the line named above, or restore the file from the repository")]) from None
    config.CourseDirectory.root = str(course.resolve())
    if db_url:
        config.CourseDirectory.db_url = db_url
    elif "db_url" not in config.CourseDirectory:
        config.CourseDirectory.db_url = "sqlite:///" + str((course / "gradebook.db").resolve())
    if timeout is not None:
        config.Execute.timeout = timeout
    return config


def nbgrader_api(course: Path, db_url: str | None = None, timeout: int | None = None):
    """An NbGraderAPI bound to this course (alembic on PATH, quiet logs)."""
    ensure_venv_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(course, db_url, timeout)
    config.NbGraderAPI.log_level = logging.WARNING
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def error_tail(result: dict, lines: int = 6) -> str:
    """The useful end of a failed nbgrader call: its error, else the last log lines."""
    text = (result.get("error") or result.get("log") or "").strip().splitlines()
    return "\n".join(text[-lines:])
