"""Errors a user can act on: each names the file, the field and the fix."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input file."""

    file: str
    field: str
    message: str
    fix: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.field}: {self.message}"
        return f"{text} — fix: {self.fix}" if self.fix else text


class ShifuError(Exception):
    """A user-facing error; the CLI prints it as one line (or one line per problem), never a traceback."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="", field="", message=problems)]
        self.problems = problems
        super().__init__("\n".join(_plain(p) for p in problems))


def _plain(p: Problem) -> str:
    if not p.file and not p.field:
        return p.message + (f" — fix: {p.fix}" if p.fix else "")
    return str(p)


def display_path(path: Path | str) -> str:
    """A path relative to the working directory when it is below it, so messages stay short."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
