"""nbgrader, configured for one course folder: its configuration, its API, its autograde app.

The one place a course's nbgrader configuration is read (issue 10):
- `load_config`: the course's nbgrader_config.py as a traitlets Config (building releases, validating
  reference answers, the lab's exchange), with the gradebook URL decided by gradebook.gradebook_url;
- `nbgrader_api`: nbgrader's NbGraderAPI bound to it, in this process (one nbgrader start-up saved per
  assignment, several seconds each on 2 cores);
- `open_course`: what `nbgrader autograde` run inside the course would load (the course's
  nbgrader_config.py, the user's Jupyter config, the SHIFU_GRADEBOOK_URL it reads), through nbgrader's
  own AutogradeApp, so `shifu grade` and plain `nbgrader autograde` can never disagree about paths,
  timeouts or the gradebook.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from shifu.content.errors import Problem, ShifuError, display_path
from shifu.content.paths import ensure_venv_on_path
from shifu.grading.gradebook import gradebook_url

LOG_NAME = ".nbgrader.log"
CONFIG_NAME = "nbgrader_config.py"


# -- the configuration and the API (building, validating, the lab) ---------------------------------

def load_config(course: Path, db_url: str | None = None, timeout: int | None = None) -> Config:
    """The course's nbgrader configuration, with the course root forced to `course` and optional overrides.

    db_url: the gradebook, overriding the course's (see gradebook.gradebook_url). timeout: seconds a cell
    may run (Execute.timeout). Errors: a config file that cannot be loaded is a ShifuError naming it.
    """
    cfg_file = course / CONFIG_NAME
    config = Config()
    if cfg_file.exists():
        try:
            config = PyFileConfigLoader(cfg_file.name, path=str(course)).load_config()
        except Exception as exc:  # a trainer's typo in the config file: say where
            raise ShifuError([Problem(display_path(cfg_file), "(python)", f"cannot be loaded: {exc}",
                                      "fix the line named above, or restore the file from the repository")]) from None
    config.CourseDirectory.root = str(course.resolve())
    config.CourseDirectory.db_url = gradebook_url(course, db_url, config)
    if timeout is not None:
        config.Execute.timeout = timeout
    return config


def nbgrader_api(course: Path, db_url: str | None = None, timeout: int | None = None) -> Any:
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


# -- the autograde app (grading) -------------------------------------------------------------------

@dataclass
class NbgraderCourse:
    """nbgrader's app (config + logger) and course directory for one grading run."""

    root: Path
    app: object  # nbgrader.apps.AutogradeApp
    coursedir: object  # nbgrader.coursedir.CourseDirectory

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url  # type: ignore[attr-defined]

    @property
    def log(self) -> logging.Logger:
        return self.app.log  # type: ignore[attr-defined]

    @property
    def log_path(self) -> Path:
        return self.root / LOG_NAME


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """nbgrader resolves some paths against the working directory, as its own converters do."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def open_course(course_dir: Path, db_url: str | None = None) -> NbgraderCourse:
    """Load nbgrader's configuration for COURSE_DIR; DB_URL, when given, overrides the gradebook.

    Errors (ShifuError, field "course" or "config"): no such folder; a folder that is not an nbgrader
    course (no nbgrader_config.py, no source/); a configuration nbgrader cannot load.
    """
    from nbgrader.apps import AutogradeApp

    root = Path(course_dir).expanduser().resolve()
    if not root.is_dir():
        raise ShifuError([Problem(display_path(root), "course", "no such folder",
                                  f"name the course folder (the one holding {CONFIG_NAME})")])
    if not (root / CONFIG_NAME).exists() and not (root / "source").is_dir():
        raise ShifuError([Problem(display_path(root), "course", f"this is not an nbgrader course (no {CONFIG_NAME}, no source/)",
                                  f"name the course folder (the one holding {CONFIG_NAME})")])
    ensure_venv_on_path()  # nbgrader shells out to `alembic`, installed beside this Python
    AutogradeApp.clear_instance()
    app = AutogradeApp()
    saved_path = list(sys.path)
    try:
        with working_directory(root):
            app.initialize(argv=[], root=str(root))
    except SystemExit as exc:
        raise ShifuError([Problem(display_path(root / CONFIG_NAME), "config",
                                  f"nbgrader could not load the course configuration (exit {exc.code})",
                                  "run `nbgrader autograde --help` in the course folder to see the error")]) from None
    except Exception as exc:  # a syntax error in the config file, a bad trait value
        raise ShifuError([Problem(display_path(root / CONFIG_NAME), "config", f"{type(exc).__name__}: {exc}",
                                  "correct the file; nbgrader loads it as Python")]) from None
    finally:
        sys.path[:] = saved_path
    coursedir = app.coursedir
    coursedir.db_url = gradebook_url(root, db_url, app.config)
    _log_to_file(app, root / LOG_NAME)
    return NbgraderCourse(root=Path(coursedir.root).resolve(), app=app, coursedir=coursedir)


def _log_to_file(app: object, path: Path) -> None:
    """nbgrader's log goes to the course's .nbgrader.log, so the terminal shows only progress and results."""
    log: logging.Logger = app.log  # type: ignore[attr-defined]
    for handler in list(log.handlers):
        log.removeHandler(handler)
        if isinstance(handler, logging.FileHandler):
            handler.close()
    try:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(message)s"))
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
