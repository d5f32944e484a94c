"""A role-play's attempts beside the notebook, and the one the trainee hands in.

For a transcript named `S.jsonl` (S: the scenario id), one folder holds:

- `S.jsonl` — the current attempt: the chat widget appends every turn to it;
- `S.<n>.jsonl` — earlier attempts, n = 1, 2, … in the order they were set aside ("开始新的一次");
  nothing is ever deleted or overwritten;
- `S.handin.json` — `{"hand_in": "S.2.jsonl"}`: the attempt the trainee chose to hand in (optional).

Which attempt is graded (`hand_in`): the chosen one when the choice names an attempt that exists,
else the newest finished one (it has an end record: 结束并保存, or the buyer resolved or escalated),
else the current file. The choice file is the trainee's and is not believed either: it can only
pick one of these files, and the chosen transcript is still replayed like any other
(shifu.roleplay.transcript.replay).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from shifu.content.errors import ShifuError
from shifu.content.paths import is_plain_file
from shifu.roleplay.transcript import read_transcript

SUFFIX = ".jsonl"
CHOICE_SUFFIX = ".handin.json"
# the widget writes `{"hand_in": "S.<n>.jsonl"}`, well under this; a bigger file is not read into memory
CHOICE_MAX_BYTES = 4096


@dataclass(frozen=True)
class Attempt:
    """One attempt's file. number: 1 = the oldest. finished: it has an end record. outcome: the end
    record's outcome (resolved / escalated / abandoned) or "ongoing"; "unreadable" when the file can't be read.
    replies: the trainee's turns in it."""

    path: Path
    number: int
    current: bool
    finished: bool
    outcome: str
    replies: int


def _stem(name: str) -> str:
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def choice_path(folder: str | Path, name: str) -> Path:
    """Where the hand-in choice for transcript `name` (e.g. late-parcel-wrong-station.jsonl) is kept."""
    return Path(folder) / f"{_stem(name)}{CHOICE_SUFFIX}"


def _archived(folder: Path, stem: str) -> list[tuple[int, Path]]:
    pattern = re.compile(rf"^{re.escape(stem)}\.(\d{{1,6}}){re.escape(SUFFIX)}$")
    out = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = pattern.match(p.name)
            if m and is_plain_file(p):
                out.append((int(m.group(1)), p))
    return sorted(out)


def _describe(path: Path, number: int, current: bool) -> Attempt:
    try:
        t = read_transcript(path)
    except ShifuError:
        return Attempt(path, number, current, False, "unreadable", 0)
    replies = len(t.trainee_turns())
    return Attempt(path, number, current, t.end is not None, t.end.outcome if t.end is not None else "ongoing", replies)


def attempts(folder: str | Path, name: str) -> list[Attempt]:
    """Every attempt of transcript `name` in `folder`, oldest first; the current file (if any) last."""
    folder = Path(folder)
    stem = _stem(name)
    archived = _archived(folder, stem)
    out = [_describe(p, i, False) for i, (_, p) in enumerate(archived, start=1)]
    current = folder / f"{stem}{SUFFIX}"
    if is_plain_file(current) and current.stat().st_size > 0:
        out.append(_describe(current, len(out) + 1, True))
    return out


def set_aside(path: str | Path) -> Path:
    """Move the current attempt to the next free `S.<n>.jsonl` (never overwriting one) and return its new path."""
    path = Path(path)
    taken = [n for n, _ in _archived(path.parent, _stem(path.name))]
    n = (max(taken) if taken else 0) + 1
    while (target := path.with_name(f"{_stem(path.name)}.{n}{SUFFIX}")).exists():
        n += 1
    path.rename(target)
    choice = choice_path(path.parent, path.name)
    if _chosen_name(choice) == path.name:  # the choice follows the attempt it named
        choose(path.parent, path.name, target.name)
    return target


def _chosen_name(choice: Path) -> str | None:
    try:
        if choice.is_symlink() or choice.stat().st_size > CHOICE_MAX_BYTES:
            return None  # not a choice the widget wrote: the default attempt is graded
        data = json.loads(choice.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
        return None
    value = data.get("hand_in") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def choose(folder: str | Path, name: str, attempt_name: str) -> Path:
    """Record that attempt file `attempt_name` is the one to hand in for transcript `name`; returns the choice file.

    Raises ShifuError when `attempt_name` is not one of that transcript's attempts in `folder`.
    """
    folder = Path(folder)
    if attempt_name not in {a.path.name for a in attempts(folder, name)}:
        raise ShifuError(f"{attempt_name}: not an attempt of {name} in {folder} — fix: pick one of the files listed beside it")
    path = choice_path(folder, name)
    path.write_text(json.dumps({"hand_in": attempt_name}, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def chosen(folder: str | Path, name: str, found: list[Attempt] | None = None) -> Attempt | None:
    """The attempt the choice file names, when it names an existing attempt of `name`; else None."""
    want = _chosen_name(choice_path(folder, name))
    if want is None:
        return None
    return next((a for a in (found if found is not None else attempts(folder, name)) if a.path.name == want), None)


def hand_in(folder: str | Path, name: str) -> Path:
    """The file graded for transcript `name`: the chosen attempt, else the newest finished one, else the
    current file `folder/name` (which may not exist: then there is nothing to grade)."""
    found = attempts(folder, name)
    pick = chosen(folder, name, found) or next((a for a in reversed(found) if a.finished), None)
    return pick.path if pick is not None else Path(folder) / name
