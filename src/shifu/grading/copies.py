"""Identical work across the trainees of one assignment: flagged for the mentor, never a change of points.

Two written replies count as identical when they are the same once all whitespace is removed and
at least `copies.min_reply_chars` long (grader/grading.yaml): short stock phrases are not copies.
Two transcripts count as identical when their trainee replies are, turn by turn (whatever the file
is called, whoever the session line names). A mentor decides what a flag means; scores stay as graded.
"""
from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from shifu.content.errors import ShifuError
from shifu.reading.phrases import normalize, to_simplified
from shifu.roleplay.transcript import read_transcript
from shifu.grading.rescore import CellSpec, submitted_replies, untouched_replies
from shifu.grading.wording import grading_text

def _norm(text: str) -> str:
    """The reader's normal form (invisible characters, width, 繁體 → 简体) with only letters and digits
    kept: a copy disguised with zero-width marks, spaces, punctuation or traditional characters is still
    a copy, as the reader scores it identically."""
    return "".join(c for c in normalize(to_simplified(text)) if c.isalnum())


def symlinks_in(folder: Path) -> list[Path]:
    """Symbolic links (and anything that is not a plain file or folder) in a submitted folder.

    nbgrader copies what a link points to, as the grader: a link to the source notebook, the gradebook,
    a classmate's work or /dev/zero would bring it into the submission. Such a submission is refused.
    """
    out: list[Path] = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            out.append(path)
    return out


@dataclass
class Copies:
    """key → students who handed in exactly that work; what each key is, for the mentor's note."""

    groups: dict[tuple, list[str]] = field(default_factory=dict)
    labels: dict[tuple, str] = field(default_factory=dict)

    @classmethod
    def find(cls, folders: dict[str, Path],
             notebooks: dict[str, tuple[dict[str, CellSpec], NotebookNode | None]]) -> "Copies":
        """folders: student → their submitted folder of this assignment. notebooks: notebook id → (specs, release)."""
        minimum = grading_text().copies.min_reply_chars
        groups: dict[tuple, set[str]] = defaultdict(set)
        labels: dict[tuple, str] = {}
        for student, folder in folders.items():
            if symlinks_in(folder):
                continue  # refused when it is graded; links are never followed here
            for nb_id, (specs, release) in notebooks.items():
                path = folder / f"{nb_id}.ipynb"
                try:
                    nb = nbformat.read(path, as_version=4)
                    replies = submitted_replies(nb, specs, untouched_replies(release, specs))
                except Exception:  # unreadable or odd in shape: its own grading reports it, nobody else's fails
                    continue
                variables = {s.answer_cell: s.variable for s in specs.values()}
                for answer, reply in replies.items():
                    text = _norm(reply.text or "")
                    if len(text) >= minimum:
                        key = ("reply", nb_id, answer, text)
                        groups[key].add(student)
                        labels[key] = f"reply {variables.get(answer, answer)} in {nb_id}.ipynb"
            for path in sorted(folder.glob("*.jsonl")):
                with contextlib.suppress(ShifuError, OSError, ValueError, RecursionError):
                    t = read_transcript(path)
                    replies = tuple(_norm(r) for r in t.replies)
                    if sum(len(r) for r in replies) >= minimum:
                        key = ("transcript", t.scenario, replies)
                        groups[key].add(student)
                        labels[key] = f"role-play transcript of {t.scenario}"
        shared = {k: sorted(v) for k, v in groups.items() if len(v) > 1}
        return cls(shared, {k: labels[k] for k in shared})

    def notes(self, student: str) -> list[str]:
        """Lines for shifu grade's reasons; empty when the student's work is their own."""
        out = []
        for key, students in self.groups.items():
            if student in students:
                others = ", ".join(s for s in students if s != student)
                out.append(f"possible copy, for the mentor (points unchanged): {self.labels[key]} is identical to {others}'s")
        return sorted(out)
