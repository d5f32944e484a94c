"""Open a course the way `nbgrader autograde` run inside it would: same config files, same settings.

nbgrader's configuration (the course's nbgrader_config.py, the user's Jupyter config, the
SHIFU_GRADEBOOK_URL it reads) is loaded by nbgrader's own AutogradeApp, so `shifu grade` and
plain `nbgrader autograde` can never disagree about paths, timeouts or the gradebook.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import Problem, ShifuError, display_path

LOG_NAME = ".nbgrader.log"


@dataclass
class Course:
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


def redact(db_url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return db_url


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """nbgrader resolves some paths against the working directory, as its own converters do."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def ensure_tools_on_path() -> None:
    """nbgrader shells out to `alembic`, installed beside this Python."""
    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir, *parts])


def open_course(course_dir: Path, db_url: str | None = None) -> Course:
    """Load nbgrader's configuration for COURSE_DIR; DB_URL, when given, overrides the gradebook."""
    from nbgrader.apps import AutogradeApp

    root = Path(course_dir).expanduser().resolve()
    if not root.is_dir():
        raise ShifuError([Problem(display_path(root), "course", "no such folder",
                                  "pass the course folder with --course DIR (it holds nbgrader_config.py)")])
    if not (root / "nbgrader_config.py").exists() and not (root / "source").is_dir():
        raise ShifuError([Problem(display_path(root), "course", "this is not an nbgrader course (no nbgrader_config.py, no source/)",
                                  "pass the course folder with --course DIR")])
    ensure_tools_on_path()
    AutogradeApp.clear_instance()
    app = AutogradeApp()
    saved_path = list(sys.path)
    try:
        with working_directory(root):
            app.initialize(argv=[], root=str(root))
    except SystemExit as exc:
        raise ShifuError([Problem(display_path(root / "nbgrader_config.py"), "config",
                                  f"nbgrader could not load the course configuration (exit {exc.code})",
                                  "run `nbgrader autograde --help` in the course folder to see the error")]) from None
    except Exception as exc:  # a syntax error in the config file, a bad trait value
        raise ShifuError([Problem(display_path(root / "nbgrader_config.py"), "config", f"{type(exc).__name__}: {exc}",
                                  "correct the file; nbgrader loads it as Python")]) from None
    finally:
        sys.path[:] = saved_path
    coursedir = app.coursedir
    if db_url:
        coursedir.db_url = db_url
    _log_to_file(app, root / LOG_NAME)
    return Course(root=Path(coursedir.root).resolve(), app=app, coursedir=coursedir)


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
