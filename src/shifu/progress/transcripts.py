"""Role-play transcripts (JSONL) saved in a course's submitted/ and autograded/ folders.

Layout: <course>/<submitted|autograded>/<trainee>/<assignment>/**/*.jsonl. The trainee and the
assignment come from the folders (nbgrader's own record of who submitted what), not from the
free-text `trainee` field a widget user typed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

# A transcript scorer returns, per rubric criterion: (criterion id, competency or None, points, max).
CriterionRow = tuple[str, str | None, float, float]
Scorer = Callable[[Path], list[CriterionRow]]


@dataclass
class TranscriptFile:
    path: Path
    trainee: str
    assignment: str
    scenario: str = ""
    started: pd.Timestamp | None = None
    outcome: str = ""
    latencies: list[tuple[int, float]] = field(default_factory=list)  # (turn, latency_s) of trainee turns
    bad_lines: int = 0


def find_transcripts(course_dir: Path) -> list[tuple[Path, str, str]]:
    """(path, trainee, assignment) for each transcript; autograded/ wins over submitted/ for the same file."""
    found: dict[tuple[str, str, str], Path] = {}
    for stage in ("submitted", "autograded"):
        base = course_dir / stage
        if not base.is_dir():
            continue
        for path in sorted(base.glob("*/*/**/*.jsonl")):
            rel = path.relative_to(base)
            trainee, assignment = rel.parts[0], rel.parts[1]
            found[(trainee, assignment, str(Path(*rel.parts[2:])))] = path
    return [(p, key[0], key[1]) for key, p in sorted(found.items())]


def _timestamp(value: object) -> pd.Timestamp | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def read_transcript_file(path: Path, trainee: str, assignment: str) -> TranscriptFile:
    """Parse one transcript, skipping (and counting) lines that are not JSON objects, e.g. a truncated last line."""
    tf = TranscriptFile(path=path, trainee=trainee, assignment=assignment)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        tf.bad_lines += 1
        return tf
    first_turn_ts = None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            tf.bad_lines += 1
            continue
        if not isinstance(obj, dict):
            tf.bad_lines += 1
            continue
        kind = obj.get("type")
        if kind == "session":
            tf.scenario = str(obj.get("scenario") or "")
            tf.started = _timestamp(obj.get("started"))
        elif kind == "turn":
            first_turn_ts = first_turn_ts or _timestamp(obj.get("ts"))
            lat = obj.get("latency_s")
            if obj.get("role") == "trainee" and isinstance(lat, (int, float)) and not isinstance(lat, bool) and lat >= 0:
                tf.latencies.append((int(obj.get("turn") or 0), float(lat)))
        elif kind == "end":
            tf.outcome = str(obj.get("outcome") or "")
    if tf.started is None:
        tf.started = first_turn_ts
    return tf


def rubric_scorer() -> Scorer | None:
    """shifu.rubric.score_transcript as a Scorer, or None where the rubric module is not installed."""
    try:
        from ..rubric import score_transcript  # type: ignore[attr-defined]
    except ImportError:
        return None

    def score(path: Path) -> list[CriterionRow]:
        result = score_transcript(path)
        return [(c.id, getattr(c, "competency", None), float(c.points), float(c.max))
                for c in result.criteria if getattr(c, "applicable", True)]  # not applicable: not evidence

    return score


def read_transcripts(course_dir: Path) -> list[TranscriptFile]:
    return [read_transcript_file(p, t, a) for p, t, a in find_transcripts(course_dir)]


def latency_table(files: Iterable[TranscriptFile]) -> pd.DataFrame:
    """One row per transcript: its date and the trainee's mean reply latency."""
    rows = [
        {"trainee": f.trainee, "assignment": f.assignment, "file": str(f.path), "scenario": f.scenario,
         "date": f.started, "turns": len(f.latencies),
         "mean_latency_s": sum(v for _, v in f.latencies) / len(f.latencies)}
        for f in files if f.latencies
    ]
    out = pd.DataFrame(rows, columns=["trainee", "assignment", "file", "scenario", "date", "turns", "mean_latency_s"])
    out["date"] = pd.to_datetime(out["date"])
    return out
