"""The transcript format: JSONL, one record a line, append-only, on disk after every turn.

Line 1 is the session record (scenario, voice, seed); then turn records (buyer 0, then trainee k and
buyer k for k = 1, 2, ...); an end record closes a finished conversation. The outcome can be recomputed
from the trainee turns alone, whatever voiced the buyer (shifu.roleplay.transcript.replay). A process killed
mid-turn leaves at most a partial last line, which the reader skips and a resumed session overwrites.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shifu.content.errors import Problem, ShifuError, display_path

VERSION = 1


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SessionRecord(_Record):
    type: Literal["session"] = "session"
    version: int = VERSION
    scenario: str
    backend: str
    seed: int
    started: str
    trainee: str | None = None
    # "service": written by the hub's role-play service (its clock, the trainee cannot edit it);
    # "self": written in the trainee's own kernel, so reply times are formative only
    recorded_by: Literal["service", "self"] = "self"


class TurnRecord(_Record):
    type: Literal["turn"] = "turn"
    turn: int
    role: Literal["buyer", "trainee"]
    text: str
    ts: str
    latency_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # the widget never writes another
    mood_before: int
    mood_after: int
    signals: list[str] = []
    revealed: list[str] = []
    backend: str


class EndRecord(_Record):
    type: Literal["end"] = "end"
    ts: str
    outcome: Literal["resolved", "escalated", "abandoned"]
    escalation: str | None = None
    facts_revealed: list[str] = []
    resolution: str | None = None


_MODELS: dict[str, type[_Record]] = {"session": SessionRecord, "turn": TurnRecord, "end": EndRecord}


@dataclass
class Transcript:
    path: Path | None
    session: SessionRecord
    turns: list[TurnRecord] = field(default_factory=list)
    end: EndRecord | None = None
    truncated: bool = False  # the last line was cut short (a process killed mid-write) and was skipped

    @property
    def scenario(self) -> str:
        return self.session.scenario

    def trainee_turns(self) -> list[TurnRecord]:
        return [t for t in self.turns if t.role == "trainee"]

    def buyer_turns(self) -> list[TurnRecord]:
        return [t for t in self.turns if t.role == "buyer"]

    @property
    def replies(self) -> list[str]:
        return [t.text for t in self.trainee_turns()]

    @property
    def outcome(self) -> str:
        return self.end.outcome if self.end else "ongoing"


def _parse_line(raw: str, shown: str, lineno: int) -> _Record:
    try:
        obj = json.loads(raw)
    except RecursionError:  # brackets nested thousands deep: no record the engine writes, and not a crash
        raise ShifuError([Problem(shown, "(JSON)", f"line {lineno} is nested too deeply to be a transcript record",
                                  "restore the line from a backup or start a new session", lineno)]) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        # an integer of thousands of digits (Python refuses to convert it): no record the engine writes
        raise ShifuError([Problem(shown, "(JSON)", f"line {lineno} holds a number too long to be a transcript value",
                                  "restore the line from a backup or start a new session", lineno)]) from None
    if not isinstance(obj, dict) or obj.get("type") not in _MODELS:
        raise ShifuError([Problem(shown, "type", f"line {lineno} is not a session, turn or end record",
                                  "the file is not a Shifu transcript, or was edited by hand", lineno)])
    try:
        return _MODELS[obj["type"]].model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ShifuError([Problem(shown, ".".join(str(x) for x in err["loc"]), f"{err['msg']} (line {lineno})",
                                  "restore the line from a backup or start a new session", lineno)]) from None


def parse_transcript(text: str, path: Path | None = None) -> Transcript:
    """Parse transcript text; a cut-short final line is skipped, anything else malformed is an error."""
    shown = display_path(path) if path else "(transcript)"
    raw_lines = text.split("\n")
    complete = raw_lines[:-1]
    tail = raw_lines[-1]
    records: list[_Record] = []
    truncated = False
    for i, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            records.append(_parse_line(raw, shown, i))
        except json.JSONDecodeError as exc:
            raise ShifuError([Problem(shown, "(JSON)", f"line {i} is not valid JSON: {exc.msg}",
                                      "restore the line from a backup or start a new session", i)]) from None
    if tail.strip():
        try:
            records.append(_parse_line(tail, shown, len(raw_lines)))
        except (json.JSONDecodeError, ShifuError):
            truncated = True
    if not records or not isinstance(records[0], SessionRecord):
        raise ShifuError([Problem(shown, "session", "the first line must be the session record",
                                  "this is not a Shifu transcript, or its beginning was lost", 1)])
    out = Transcript(path=path, session=records[0], truncated=truncated)
    for rec in records[1:]:
        if isinstance(rec, TurnRecord):
            out.turns.append(rec)
        elif isinstance(rec, EndRecord):
            out.end = rec
    return out


def read_transcript(path: str | Path) -> Transcript:
    """Read a transcript file (tolerates a truncated last line)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShifuError([Problem(display_path(p), "(file)", "does not exist", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShifuError([Problem(display_path(p), "(file)", f"cannot be read: {exc}", "check the path and permissions")]) from None
    return parse_transcript(text, p)


def mark_recorded_by_service(text: str) -> str:
    """Transcript text as the hub's role-play service serves it: the session line (line 1) says
    "recorded_by": "service" (its clock measured the reply times). Other lines are left as they are.

    Raises json.JSONDecodeError when line 1 is not JSON (the service writes it, so it always is)."""
    lines = text.split("\n")
    if lines and lines[0].strip():
        first = json.loads(lines[0])
        if first.get("type") == "session":
            first["recorded_by"] = "service"
            lines[0] = json.dumps(first, ensure_ascii=False)
    return "\n".join(lines)


def as_transcript(source: str | Path | Transcript) -> Transcript:
    """`source` itself when it is a Transcript already read, else the file it names (read_transcript)."""
    return source if isinstance(source, Transcript) else read_transcript(source)


class TranscriptWriter:
    """Appends records; every record is flushed, every turn is fsync'd."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_tail(self.path)
        self._fh: IO[str] | None = open(self.path, "a", encoding="utf-8")

    def write(self, record: _Record, sync: bool = True) -> None:
        """Append one record. It is flushed to the OS at once (a killed process cannot lose it);
        `sync` also forces it to the disk (a crashed machine cannot either) — once per turn is enough."""
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _drop_partial_tail(path: Path) -> None:
    """Cut a partial last line (left by a killed process) so the next record starts on its own line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        try:
            json.loads(data[cut:].decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            fh.truncate(cut)
        else:
            fh.write(b"\n")  # a whole record that only lacks its newline: keep it
