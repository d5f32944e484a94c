"""The sentences scoring puts together (evidence notes, the `shifu score` table, nbgrader cell
feedback), read from grader/feedback.yaml so a trainer can reword them without touching code."""
from __future__ import annotations



from shifu.content import paths
from shifu.content.yamlio import Strict, load_model_cached, require_shipped


class EvidenceText(Strict):
    latency: str
    accepted: str
    accepted_plain: str
    revealed: str


class TableText(Strict):
    heading: str
    buyer: str
    title: str
    criterion: str
    score: str
    evidence: str
    tip: str
    not_scored: str
    evidence_line: str
    note: str


class NbgraderText(Strict):
    empty_reply: str
    bad_points: str
    total: str
    total_line: str
    criterion: str
    evidence_line: str
    tip_line: str
    unknown_criterion: str
    not_applicable: str
    cannot_score: str
    no_transcript: str
    wrong_scenario: str


class PageText(Strict):
    """The trainee's feedback page (shifu.grading.feedback_items): item names and the words around scores."""

    title: str
    score: str
    top: str
    comments: str
    late_penalty: str
    item_exercise: str
    item_answer: str
    item_roleplay: str
    item_review: str
    item_lab: str
    item_other: str


class FeedbackText(Strict):
    evidence: EvidenceText
    table: TableText
    nbgrader: NbgraderText
    page: PageText


def feedback_text() -> FeedbackText:
    p = require_shipped(paths.grader_dir() / "feedback.yaml")
    return load_model_cached(p, FeedbackText, guide="the repository's copy (keep the {placeholders})")
