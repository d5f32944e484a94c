"""What course notebooks call from their cells: open the role-play, find its transcript.

Grading runs every cell again (nbgrader sets NBGRADER_EXECUTION); the chat widget must not open
then, or it could start a new conversation on top of the one the trainee saved.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shifu.course.spec import course_text

REFERENCE_DIR = "reference"  # course/reference/<assignment>/, beside course/source: never released (layout.reference_dir)


def transcript_name(scenario_id: str) -> str:
    return f"{scenario_id}.jsonl"


def reference_transcript(scenario_id: str, folder: str | os.PathLike[str] = ".") -> Path:
    """Where the reference transcript of a source notebook in `folder` (course/source/<assignment>) lives:
    course/reference/<assignment>/<scenario>.jsonl."""
    here = Path(folder).resolve()
    return here.parent.parent / REFERENCE_DIR / here.name / transcript_name(scenario_id)


def roleplay_transcript(scenario_id: str, folder: str | os.PathLike[str] = ".") -> str:
    """The transcript a test cell reads: the attempt the trainee hands in (shifu.roleplay.attempts.hand_in); in a
    source folder without one (`nbgrader validate`, a mentor trying the notebook), the reference
    transcript. The grader never calls this: it reads the submission's own files only (shifu.grading.rescore)."""
    from shifu.roleplay.attempts import hand_in

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
        from shifu.roleplay.widget import roleplay
    except ImportError as exc:
        print(_message("roleplay_unavailable", reason=f"{type(exc).__name__}: {exc}"))
        return None
    print(_message("roleplay_saved_to", transcript=transcript))
    return roleplay(scenario_id, transcript_dir=transcript_dir, trainee=trainee or os.environ.get("SHIFU_TRAINEE"))


def check_before_submit(notebook: str | os.PathLike[str] | None = None) -> bool:
    """提交前检查: print what is missing in the saved notebook (unanswered exercises, unfinished role-play,
    cells that stopped with an error) and what is done, in Chinese; True when nothing is missing.

    notebook: the .ipynb to check; default the notebook this kernel runs (JupyterLab's session) or
    the only course notebook in the current folder. Never raises: a problem is printed as a sentence.
    """
    if os.environ.get("NBGRADER_EXECUTION"):  # grading or validating: the grader says what is missing
        return True
    from shifu.course.precheck import check_notebook, find_notebook, report

    session = None
    try:
        import IPython

        shell = IPython.get_ipython()
        session = shell.user_ns.get("__session__") if shell is not None else None
    except ImportError:
        pass
    path = Path(notebook) if notebook is not None else find_notebook(".", session)
    if path is None:
        print(_message("precheck_no_notebook"))
        return False
    try:
        result = check_notebook(path)
    except Exception as exc:  # a notebook that cannot be read: say so, never a traceback
        print(_message("precheck_unreadable", name=Path(path).name, reason=f"{type(exc).__name__}: {exc}"))
        return False
    print(report(result))
    return result.ready


def practice_feedback(variable: str, scenario_id: str, buyer: str, criteria: dict[str, float]) -> None:
    """Formative 证据/建议 for the reply the `%%reply <variable>` cell stored, per criterion (practice modules).

    Uses the grader's own scoring (shifu.grading.scoring.reply_cell), so what it says is what grading
    will say of the same text. Prints nothing while nbgrader runs the notebook.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return
    try:
        import IPython

        shell = IPython.get_ipython()
        text = shell.user_ns.get(variable) if shell is not None else None
    except ImportError:
        text = None
    if not isinstance(text, str) or not text.strip():
        print(_message("feedback_no_reply", variable=variable))
        return
    from shifu.grading.scoring import reply_cell

    total = 0.0
    for criterion, points in criteria.items():
        score = reply_cell(text, scenario_id, buyer, float(points), criterion)
        total += score.points
        print("\n".join(score.lines))
    print(_message("feedback_total", points=round(total, 2), max=sum(float(p) for p in criteria.values())))


def practice_feedback_roleplay(scenario_id: str, criteria: dict[str, float], folder: str | os.PathLike[str] = ".") -> None:
    """Formative 证据/建议 for the role-play attempt that would be handed in, once it is finished (practice modules).

    Scored exactly as the grader scores it (replayed, self-recorded reply times not counted). Prints
    nothing while nbgrader runs the notebook.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return
    from shifu.roleplay.attempts import attempts, hand_in
    from shifu.grading.scoring import TranscriptScores

    name = transcript_name(scenario_id)
    path = hand_in(folder, name)
    attempt = next((a for a in attempts(folder, name) if a.path == path), None)
    if attempt is None:
        print(_message("feedback_no_roleplay"))
        return
    if not attempt.finished:
        print(_message("feedback_roleplay_unfinished", number=attempt.number))
        return
    scores = TranscriptScores(path, scenario_id)
    total = 0.0
    print(_message("feedback_roleplay_attempt", number=attempt.number, name=path.name))
    for criterion, points in criteria.items():
        score = scores.cell(float(points), criterion)
        total += score.points
        print("\n".join(line for line in score.lines if line not in (scores.checked.notes if scores.checked else [])))
    print(_message("feedback_total", points=round(total, 2), max=sum(float(p) for p in criteria.values())))


def _reply_magic(line: str, cell: str) -> None:
    """`%%reply NAME`: the cell's text (hint lines dropped) becomes the string variable NAME; says what it kept."""
    from shifu.course.answers import reply_text

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
    from shifu.course.answers import MAGIC

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
