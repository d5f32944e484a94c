"""The sentences grader-side scoring writes into feedback (grader/grading.yaml), and its copy threshold.

Read once per file change, so a trainer can reword them without touching code. Every sentence
keeps its {placeholders}; a missing or broken file is a ShifuError naming the file and field.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .. import paths
from ..errors import Problem, ShifuError, display_path
from ..yamlio import load_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplyText(_Strict):
    unpaired_quotes: str
    syntax_error: str
    not_text: str
    no_answer: str
    raised_before: str
    untouched: str


class Outcomes(_Strict):
    resolved: str
    escalated: str
    abandoned: str
    ongoing: str


class TranscriptText(_Strict):
    missing: str
    rejected: str
    unreadable: str
    wrong_scenario: str
    no_replies: str
    no_buyer: str
    out_of_order: str
    empty_reply: str
    after_end: str
    buyer_mismatch: str
    replayed: str
    llm_voiced: str
    timing_formative: str
    outcomes: Outcomes


class QuizText(_Strict):
    right: str
    wrong: str
    no_answer: str
    not_a_value: str


class KernelText(_Strict):
    not_scored_here: str
    output_truncated: str


class Copies(_Strict):
    min_reply_chars: int = Field(ge=1)


class GradingText(_Strict):
    reply: ReplyText
    transcript: TranscriptText
    quiz: QuizText
    kernel: KernelText
    copies: Copies


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> GradingText:
    return load_model(Path(path), GradingText, guide="the repository's copy (keep the {placeholders})")


def grading_text() -> GradingText:
    """grader/grading.yaml; ShifuError naming the file when it is missing or a field is wrong."""
    p = paths.grader_dir() / "grading.yaml"
    if not p.exists():
        raise ShifuError([Problem(display_path(p), "(file)", "is missing", "restore grader/grading.yaml from the repository")])
    return _cached(str(p), p.stat().st_mtime_ns)
