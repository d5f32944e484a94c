"""Errors a user can act on: each names the file, the field and the fix."""
from __future__ import annotations

from dataclasses import dataclass, replace
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
        # a setting with no file behind it (a number of workers, a count) is named by its field alone
        text = ": ".join(part for part in (where, self.field, self.message) if part)
        return f"{text} — fix: {self.fix}" if self.fix else text


class ShifuError(Exception):
    """A user-facing error; the CLI prints it as one line (or one line per problem), never a traceback."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="", field="", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def hint(self, flags: dict[str, str]) -> "ShifuError":
        """The same problems, where a command-line flag sets a problem's field its fix ends "(use FLAG)".

        Library errors speak of files, settings and fields; only a command knows its flags, so a command
        catches the error and re-raises `exc.hint({"out": "--out"})`. flags: Problem.field -> flag text.
        """
        return ShifuError([replace(p, fix=f"{p.fix} (use {flags[p.field]})".lstrip()) if p.field in flags else p
                           for p in self.problems])


def display_path(path: Path | str) -> str:
    """A path relative to the working directory when it is below it, so messages stay short."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
