"""Role-play transcripts, in one place: the JSONL format, reading and writing it, walking its trainee
turns in context, checking a file by replaying it, and finding the files in a course.

- records.py — the format: session, turn and end records; `read_transcript`, `parse_transcript`,
  `TranscriptWriter` (append-only, every turn on disk before the next starts).
- context.py — `replies_in_context`: each trainee turn with the conversation it answered; the one walk
  the engine (replay, resume) and the rubric (score_transcript) share.
- replay.py — `check_transcript`: a file is evidence to replay, not a record to believe; `play_script`
  makes a fresh transcript from a list of replies through the real engine.
- course.py — transcripts in a course's submitted/ and autograded/ folders, one summary per file.

This package's own namespace holds the format (records.py), the names most callers need; the other
modules are imported by name (they pull in the engine, pandas or the scenario loader).
"""
from shifu.roleplay.transcript.records import (VERSION, EndRecord, SessionRecord, Transcript, TranscriptWriter, TurnRecord, as_transcript,
                      mark_recorded_by_service, now_iso, parse_transcript, read_transcript)

__all__ = ["VERSION", "EndRecord", "SessionRecord", "Transcript", "TranscriptWriter", "TurnRecord", "as_transcript",
           "mark_recorded_by_service", "now_iso", "parse_transcript", "read_transcript"]
