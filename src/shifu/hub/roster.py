"""The cohort roster (hub/cohort.yaml): user names and roles.

Shape: ``users: [{name: str, role: trainee|mentor|admin}]``. Names become Unix user names, so they
follow the portable rule (lower-case letter first, then lower-case letters, digits, - and _, at most
32 characters). Errors name the file, the entry and the fix.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from shifu.content.errors import Problem, ShifuError, display_path
from shifu.content.yamlio import Strict, load_model

Role = Literal["trainee", "mentor", "admin"]
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class Member(Strict):
    name: str
    role: Role


class Roster(Strict):
    users: list[Member]

    def names(self, *roles: str) -> list[str]:
        return [m.name for m in self.users if not roles or m.role in roles]

    @property
    def trainees(self) -> list[str]:
        return self.names("trainee")

    @property
    def mentors(self) -> list[str]:
        """Mentors and admins: both grade and read every transcript."""
        return self.names("mentor", "admin")

    @property
    def admins(self) -> list[str]:
        return self.names("admin")


def default_roster_path() -> Path:
    from shifu.content import paths

    return paths.project_root() / "hub" / "cohort.yaml"


def load_roster(path: str | Path | None = None) -> Roster:
    """Read and check a roster file. Raises ShifuError naming the file, entry and fix."""
    p = Path(path) if path else default_roster_path()
    shown = display_path(p)
    roster = load_model(p, Roster, guide="hub/cohort.yaml", first_key="users")
    seen: set[str] = set()
    for i, m in enumerate(roster.users):
        if not _NAME.match(m.name):
            raise ShifuError([Problem(shown, f"users.{i}.name", f"{m.name!r} cannot be a Unix user name",
                                      "use lower-case letters, digits, - and _, starting with a letter (at most 32)")])
        if m.name in seen:
            raise ShifuError([Problem(shown, f"users.{i}.name", f"{m.name!r} is listed twice", "list each user once")])
        seen.add(m.name)
    if not roster.mentors:
        raise ShifuError([Problem(shown, "users", "no mentor or admin", "add at least one user with role: mentor")])
    return roster
