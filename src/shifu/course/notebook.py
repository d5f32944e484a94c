"""What course notebooks call from their cells: open the role-play, find its transcript.

Grading runs every cell again (nbgrader sets NBGRADER_EXECUTION); the chat widget must not open
then, or it could start a new conversation on top of the one the trainee saved.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .spec import course_text

REFERENCE_DIR = "reference"  # course/reference/<assignment>/, beside course/source: never released (layout.reference_dir)


def transcript_name(scenario_id: str) -> str:
    return f"{scenario_id}.jsonl"


def reference_transcript(scenario_id: str, folder: str | os.PathLike[str] = ".") -> Path:
    """Where the reference transcript of a source notebook in `folder` (course/source/<assignment>) lives:
    course/reference/<assignment>/<scenario>.jsonl."""
    here = Path(folder).resolve()
    return here.parent.parent / REFERENCE_DIR / here.name / transcript_name(scenario_id)


def roleplay_transcript(scenario_id: str, folder: str | os.PathLike[str] = ".") -> str:
    """The transcript a test cell reads: the attempt the trainee hands in (shifu.attempts.hand_in); in a
    source folder without one (`nbgrader validate`, a mentor trying the notebook), the reference
    transcript. The grader never calls this: it reads the submission's own files only (shifu.grading.rescore)."""
    from ..attempts import hand_in

    own = hand_in(folder, transcript_name(scenario_id))
    if not own.exists() and os.environ.get("NBGRADER_EXECUTION") != "autograde":
        ref = reference_transcript(scenario_id, folder)
        if ref.exists():
            return str(ref)
    return str(own)


def _message(key: str, **fields: Any) -> str:
    try:
        return str(course_text()["messages"][key]).format(**fields)
    except Exception:  # the wording file is optional at this point: never break a trainee's cell over it
        return " ".join(f"{k}={v}" for k, v in fields.items())


def start_roleplay(scenario_id: str, transcript_dir: str = ".", trainee: str | None = None) -> Any:
    """Show the chat widget for one scenario; while grading, only say which transcript is graded."""
    transcript = transcript_name(scenario_id)
    if os.environ.get("NBGRADER_EXECUTION"):
        print(_message("roleplay_grading", transcript=transcript))
        return None
    try:
        from ..widget import roleplay
    except ImportError as exc:
        print(_message("roleplay_unavailable", reason=f"{type(exc).__name__}: {exc}"))
        return None
    print(_message("roleplay_saved_to", transcript=transcript))
    return roleplay(scenario_id, transcript_dir=transcript_dir, trainee=trainee or os.environ.get("SHIFU_TRAINEE"))


def _reply_magic(line: str, cell: str) -> None:
    """`%%reply NAME`: the cell's text (hint lines dropped) becomes the string variable NAME; says what it kept."""
    from .answers import reply_text

    import IPython

    name = line.strip()
    shell = IPython.get_ipython()
    if not name.isidentifier() or shell is None:
        print(_message("reply_bad_name", line=line.strip()))
        return
    text = reply_text(cell)
    shell.user_ns[name] = text
    print(_message("reply_saved", chars=len(text)) if text else _message("reply_empty"))


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext shifu.course.notebook`: registers the `%%reply` cell magic (shifu.course.answers)."""
    from .answers import MAGIC

    ipython.register_magic_function(_reply_magic, magic_kind="cell", magic_name=MAGIC)


def _register_magic() -> None:
    """Make `%%reply` available in the running kernel (any cell that imports this module registers it)."""
    try:
        import IPython

        shell = IPython.get_ipython()
    except ImportError:
        return
    if shell is not None:
        load_ipython_extension(shell)


_register_magic()
