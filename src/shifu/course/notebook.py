"""What course notebooks call from their cells: open the role-play, find its transcript.

Grading runs every cell again (nbgrader sets NBGRADER_EXECUTION); the chat widget must not open
then, or it could start a new conversation on top of the one the trainee saved.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .spec import course_text

REFERENCE_DIR = "reference"  # beside a source notebook only; nbgrader never copies it (CourseDirectory.ignore)


def transcript_name(scenario_id: str) -> str:
    return f"{scenario_id}.jsonl"


def roleplay_transcript(scenario_id: str, folder: str | os.PathLike[str] = ".") -> str:
    """The transcript a test cell grades: the trainee's own, else the reference one beside a source notebook."""
    own = Path(folder) / transcript_name(scenario_id)
    ref = Path(folder) / REFERENCE_DIR / transcript_name(scenario_id)
    if not own.exists() and ref.exists():
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
