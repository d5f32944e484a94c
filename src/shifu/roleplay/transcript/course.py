"""Role-play transcripts (JSONL) saved in a course's submitted/ and autograded/ folders.

Layout: <course>/<submitted|autograded>/<trainee>/<assignment>/**/*.jsonl. The trainee and the
assignment come from the folders (nbgrader's own record of who submitted what), not from the
free-text `trainee` field a widget user typed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from shifu.content import clock
from shifu.content.paths import is_plain_file
from shifu.content.errors import ShifuError
from shifu.roleplay.transcript.records import read_transcript


@dataclass
class TranscriptFile:
    """One transcript of a course, as progress reads it: who and which assignment (from the folders), the
    scenario, when it started (naive UTC), the outcome its end record states ("" when none), and the
    (turn, latency_s) of each timed trainee turn. All as written in the file: points come only from
    replaying it (shifu.roleplay.transcript.replay)."""

    path: Path
    trainee: str
    assignment: str
    scenario: str = ""
    started: pd.Timestamp | None = None
    outcome: str = ""
    latencies: list[tuple[int, float]] = field(default_factory=list)  # (turn, latency_s) of trainee turns
    bad_lines: int = 0  # a cut-short last line, skipped
    error: str = ""  # why the file could not be read at all


def find_transcripts(course_dir: Path) -> list[tuple[Path, str, str]]:
    """(path, trainee, assignment) for each transcript; autograded/ wins over submitted/ for the same file."""
    found: dict[tuple[str, str, str], Path] = {}
    for stage in ("submitted", "autograded"):
        base = course_dir / stage
        if not base.is_dir():
            continue
        for path in sorted(base.glob("*/*/**/*.jsonl")):
            # a link (to a classmate's file) or a special file (a FIFO would block the whole cohort) is no transcript
            rel = path.relative_to(base)
            if not is_plain_file(path) or any((base / p).is_symlink() for p in rel.parents if p != Path(".")):
                continue
            trainee, assignment = rel.parts[0], rel.parts[1]
            found[(trainee, assignment, str(Path(*rel.parts[2:])))] = path
    return [(p, key[0], key[1]) for key, p in sorted(found.items())]


def _timestamp(value: object, tz: ZoneInfo | None) -> pd.Timestamp | None:
    """A transcript time as naive UTC (shifu.content.clock): with its own offset, or local time in the course zone.
    None when there is none, or it is no time a session can have started (before 1970, after 2200)."""
    ts = _any_timestamp(value, tz)
    return ts if ts is not None and 1970 <= ts.year <= 2200 else None


def _any_timestamp(value: object, tz: ZoneInfo | None) -> pd.Timestamp | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return pd.Timestamp(clock.utc_naive(value, tz))
    except ShifuError:
        pass
    try:  # a form the clock does not know (e.g. a date only): pandas' reading, local time
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else clock.local_to_utc(ts, tz or clock.time_zone())


def read_transcript_file(path: Path, trainee: str, assignment: str, tz: ZoneInfo | None = None) -> TranscriptFile:
    """One transcript through shifu.roleplay.transcript's reader; an unreadable file is kept with its reason, never raised.

    tz: the course's zone, for times written without one (default clock.time_zone()).
    """
    tf = TranscriptFile(path=path, trainee=trainee, assignment=assignment)
    try:
        t = read_transcript(path)
    except ShifuError as exc:
        tf.error = str(exc)
        return tf
    tf.bad_lines = int(t.truncated)
    tf.scenario = t.scenario
    tz = tz or clock.time_zone()
    tf.started = _timestamp(t.session.started, tz) or (_timestamp(t.turns[0].ts, tz) if t.turns else None)
    tf.outcome = t.end.outcome if t.end else ""
    tf.latencies = [(turn.turn, float(turn.latency_s)) for turn in t.trainee_turns()
                    if turn.latency_s is not None and 0 <= turn.latency_s < float("inf")]
    return tf


def read_transcripts(course_dir: Path) -> list[TranscriptFile]:
    """Every transcript of the course (find_transcripts), each summarised by read_transcript_file."""
    tz = clock.time_zone(course_dir)
    return [read_transcript_file(p, t, a, tz) for p, t, a in find_transcripts(course_dir)]
