"""提交前检查: what is still missing in a trainee's saved notebook, said in Chinese, before handing it in.

It reads the notebook file as saved (never the kernel's memory) and the role-play attempts beside it,
the same way the grader will: written replies (shifu.grading.rescore.read_reply_source), quiz answers
(a literal value assigned), role-plays (shifu.roleplay.attempts: the attempt that will be handed in, finished or
not) and cells whose saved output is an error. It gives no points: only what is done and what is not.
The sentences are in course/authoring/course.yaml (`precheck`).
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from shifu.course.answers import reply_text
from shifu.course.notebook import transcript_name
from shifu.course.spec import course_text


@dataclass
class Check:
    """done / missing: one sentence each, in notebook order. notebook: the file read."""

    notebook: Path
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.missing


def _words() -> dict[str, str]:
    return dict(course_text()["precheck"])


def _quiz_answered(source: str, variable: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return False
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            try:
                ast.literal_eval(node.value)
                return True
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return False
    return False


def check_notebook(path: str | Path) -> Check:
    """Everything a trainee must have done in the saved notebook at `path` (and its folder); never raises
    on what the notebook holds. Raises OSError / nbformat errors only when the file cannot be read."""
    from shifu.roleplay.attempts import attempts, hand_in
    from shifu.grading.rescore import read_reply_source

    path = Path(path)
    w = _words()
    nb = nbformat.read(path, as_version=4)
    out = Check(path)
    exercise = 0
    for index, cell in enumerate(nb.cells, start=1):
        info: dict[str, Any] = dict(cell.get("metadata", {}).get("shifu", {}) or {})
        kind = info.get("kind")
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", []) or []):
            out.missing.append(w["cell_error"].format(cell=index))
        if kind == "reply":
            exercise += 1
            var = str(info.get("variable", ""))
            got = read_reply_source(cell.source, var)
            if got.text is None:
                out.missing.append(w["reply_unreadable"].format(n=exercise, reason=got.reason))
            elif not reply_text(got.text):
                out.missing.append(w["reply_missing"].format(n=exercise))
            else:
                out.done.append(w["reply_done"].format(n=exercise, chars=len(got.text.strip())))
        elif kind == "quiz":
            var = str(info.get("variable", ""))
            if _quiz_answered(cell.source, var):
                out.done.append(w["quiz_done"].format(variable=var))
            else:
                out.missing.append(w["quiz_missing"].format(variable=var))
        elif kind == "roleplay" and info.get("graded"):
            name = transcript_name(str(info.get("scenario", "")))
            found = attempts(path.parent, name)
            if not found:
                out.missing.append(w["roleplay_missing"])
                continue
            graded = hand_in(path.parent, name)
            attempt = next((a for a in found if a.path == graded), None)
            if attempt is None or not attempt.finished:
                out.missing.append(w["roleplay_unfinished"].format(number=attempt.number if attempt else len(found)))
            else:
                outcome = course_text()["precheck"]["outcomes"].get(attempt.outcome, attempt.outcome)
                out.done.append(w["roleplay_done"].format(number=attempt.number, count=len(found), outcome=outcome))
    return out


def find_notebook(folder: str | Path = ".", session: str | None = None) -> Path | None:
    """The notebook this kernel belongs to: JupyterLab's session path when it names a file here, else the
    only course notebook (one with `shifu.assignment` metadata) in `folder`; None when that is not clear."""
    for candidate in (session, os.environ.get("JPY_SESSION_NAME")):
        if candidate and Path(candidate).suffix == ".ipynb":
            p = Path(candidate)
            p = p if p.is_absolute() else Path(folder) / p.name
            if p.is_file():
                return p
    course = []
    for p in sorted(Path(folder).glob("*.ipynb")):
        try:
            meta = nbformat.read(p, as_version=4).metadata
        except Exception:  # an unreadable notebook here is not the one being checked
            continue
        if meta.get("shifu", {}).get("assignment"):
            course.append(p)
    return course[0] if len(course) == 1 else None


def report(check: Check) -> str:
    """The check as the trainee reads it: what is missing first, then what is done, then the verdict."""
    w = _words()
    lines = [w["heading"].format(notebook=check.notebook.name)]
    lines += [f"✗ {m}" for m in check.missing]
    lines += [f"✓ {d}" for d in check.done]
    lines.append(w["ready"] if check.ready else w["not_ready"].format(count=len(check.missing)))
    return "\n".join(lines)
