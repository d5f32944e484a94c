"""The sentences grader-side scoring writes into feedback (grader/grading.yaml), and its copy threshold.

Read once per file change, so a trainer can reword them without touching code. Every sentence
keeps its {placeholders}; a missing or broken file is a ShifuError naming the file and field.
"""
from __future__ import annotations


from pydantic import Field

from shifu.content import paths
from shifu.content.yamlio import Strict, load_model_cached, require_shipped


class ReplyText(Strict):
    unpaired_quotes: str
    unpaired_quotes_read: str
    syntax_error: str
    not_text: str
    no_answer: str
    raised_before: str
    untouched: str


class Outcomes(Strict):
    resolved: str
    escalated: str
    abandoned: str
    ongoing: str


class TranscriptText(Strict):
    missing: str
    rejected: str
    unreadable: str
    wrong_scenario: str
    unknown_scenario: str
    too_long: str
    no_replies: str
    no_buyer: str
    out_of_order: str
    empty_reply: str
    after_end: str
    buyer_mismatch: str
    replayed: str
    llm_voiced: str
    timing_formative: str
    attempts: str
    attempt_chosen: str
    attempt_last_finished: str
    attempt_current: str
    outcomes: Outcomes


class QuizText(Strict):
    right: str
    wrong: str
    no_answer: str
    not_a_value: str


class KernelText(Strict):
    not_scored_here: str
    output_truncated: str


class Copies(Strict):
    min_reply_chars: int = Field(ge=1)


class GradingText(Strict):
    reply: ReplyText
    transcript: TranscriptText
    quiz: QuizText
    kernel: KernelText
    copies: Copies


def grading_text() -> GradingText:
    """grader/grading.yaml; ShifuError naming the file when it is missing or a field is wrong."""
    p = require_shipped(paths.grader_dir() / "grading.yaml")
    return load_model_cached(p, GradingText, guide="the repository's copy (keep the {placeholders})")
