"""Points for one graded cell, from data only: a reply's text, a checked transcript.

Used by the grader in its own process (shifu.grading.rescore) and, for formative feedback while a
notebook is validated or worked on, by the helpers notebooks call (shifu.course.nbgrader_helpers). Both
get the same number and the same reasons. Never raises on what a trainee wrote: a bad input is 0
points with the reason, in the trainee's words (grader/feedback.yaml, grader/grading.yaml).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from shifu.content import paths
from shifu.reading.feedback_text import feedback_text
from shifu.reading.rubric import ScoreResult, score_reply, score_transcript
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.roleplay.transcript.replay import Checked, check_transcript
from shifu.grading.wording import grading_text


@dataclass(frozen=True)
class CellScore:
    """points: between 0 and the cell's points, rounded to 0.01. lines: the reasons shown in feedback."""

    points: float
    lines: list[str] = field(default_factory=list)


@lru_cache(maxsize=64)
def _cached_scenario(scenario_id: str, path: str, mtime_ns: int) -> Scenario:
    return load_scenario(scenario_id)


def scenario(scenario_id: str) -> Scenario:
    """A scenario loaded once per file version (a grading run scores hundreds of cells with a handful of them).

    Raises ShifuError (from shifu.roleplay.scenario) for an unknown or broken scenario.
    """
    path = paths.scenarios_dir() / f"{scenario_id}.yaml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return load_scenario(scenario_id)  # not a file of the library: let the loader say why
    return _cached_scenario(scenario_id, str(path), mtime)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _cap(points: float) -> float | None:
    try:
        cap = float(points)
    except (TypeError, ValueError):
        return None
    return cap if math.isfinite(cap) and cap > 0 else None


def _on(points: float, of: float, cap: float | None) -> tuple[float, float]:
    """points/of on the cell's scale (its nbgrader points, cap) — the one scale the trainee's feedback shows —
    or the rubric's own when no cap is given."""
    if cap is None or of <= 0:
        return points, of
    return _points(points / of, cap), cap


def share(result: ScoreResult, criterion: str | None, cap: float | None = None) -> tuple[float, list[str]]:
    """Fraction of the rubric earned (whole rubric, or one criterion) and the lines explaining it.

    cap: the cell's points; the lines then show points on that scale (1.8/3, not the rubric's 12/20), so
    every figure in a trainee's feedback sits on the scale of the score nbgrader records for the cell.
    For the whole rubric each criterion shows its share of the cell's points.
    """
    text = feedback_text().nbgrader
    if criterion is None:
        total, top = _on(result.total, result.max, cap)
        lines = [text.total.format(total=total, max=top)]
        for c in result.criteria:
            if c.applicable:
                got = _points(c.points / result.max, cap) if cap is not None and result.max > 0 else c.points
                most = _points(c.max / result.max, cap) if cap is not None and result.max > 0 else c.max
                lines.append(text.total_line.format(label=c.label, points=got, max=most, tip=c.tip))
        return (result.total / result.max if result.max > 0 else 0.0), lines
    try:
        c = result.criterion(criterion)
    except KeyError:
        return 0.0, [text.unknown_criterion.format(criterion=criterion)]
    if not c.applicable or c.max <= 0:
        return 0.0, [text.not_applicable.format(label=c.label, tip=c.tip)]
    got, top = _on(c.points, c.max, cap)
    lines = [text.criterion.format(label=c.label, points=got, max=top)]
    lines += [text.evidence_line.format(turn=e.turn, quote=e.quote) for e in c.evidence[:3]]
    lines.append(text.tip_line.format(tip=c.tip))
    return c.points / c.max, lines


def is_placeholder(text: str) -> bool:
    """The text nbgrader leaves where a solution was (its code stub, in any wording): comment lines and
    `raise NotImplementedError()` only. Nothing a trainee wrote; never scored as a reply."""
    left = [ln.strip() for ln in text.strip().splitlines()]
    left = [ln for ln in left if ln and not ln.startswith("#") and ln.replace(" ", "") != "raiseNotImplementedError()"]
    return not left and "NotImplementedError" in text


def _points(frac: float, cap: float) -> float:
    return min(cap, max(0.0, round(frac * cap, 2)))


def reply_cell(answer: str | None, scenario_id: str, buyer: str, points: float, criterion: str | None = None) -> CellScore:
    """One written reply scored against one criterion (or the whole rubric), out of `points`."""
    cap = _cap(points)
    if cap is None:
        return CellScore(0.0, [feedback_text().nbgrader.bad_points])
    text = answer if isinstance(answer, str) else ("" if answer is None else str(answer))
    if not text.strip():
        return CellScore(0.0, [feedback_text().nbgrader.empty_reply])
    if is_placeholder(text):
        return CellScore(0.0, [grading_text().reply.untouched])
    try:
        frac, lines = share(score_reply(scenario(scenario_id), text, buyer=buyer or ""), criterion, cap)
    except Exception as exc:  # a trainee's input must never break the grading run
        return CellScore(0.0, [feedback_text().nbgrader.cannot_score.format(reason=_reason(exc))])
    return CellScore(_points(frac, cap), lines)


class TranscriptScores:
    """One transcript file, checked once and scored once for every criterion cell that grades it."""

    def __init__(self, path: str | Path, scenario_id: str):
        self.path = Path(path)
        self.scenario_id = scenario_id

    @cached_property
    def checked(self) -> Checked | None:
        """None when the file is missing."""
        if not self.path.is_file():
            return None
        return check_transcript(self.path, self.scenario_id, scenario(self.scenario_id))

    @cached_property
    def untimed(self) -> ScoreResult:
        assert self.checked is not None and self.checked.untimed is not None
        return score_transcript(self.checked.untimed, scenario=scenario(self.scenario_id))

    @cached_property
    def timed(self) -> ScoreResult:
        assert self.checked is not None and self.checked.timed is not None
        return score_transcript(self.checked.timed, scenario=scenario(self.scenario_id))

    def cell(self, points: float, criterion: str | None = None, with_times: bool = False) -> CellScore:
        """Points for one criterion of the replayed conversation; self-reported reply times never earn points.

        with_times: score the recorded reply times too. The grader sets it only for the hub role-play
        service's transcript of record (rescore.of_record); elsewhere it is formative (`nbgrader validate`).
        """
        cap = _cap(points)
        if cap is None:
            return CellScore(0.0, [feedback_text().nbgrader.bad_points])
        words = grading_text().transcript
        try:
            checked = self.checked
            if checked is None:
                return CellScore(0.0, [words.missing.format(name=self.path.name)])
            if not checked.accepted:
                return CellScore(0.0, [checked.reason])
            frac, lines = share(self.timed if with_times else self.untimed, criterion, cap)
            if criterion is not None and not with_times:
                lines = self._formative_timing(criterion, lines, cap)
        except Exception as exc:  # a broken scenario or rubric must show as a reason, not a traceback in feedback
            return CellScore(0.0, [feedback_text().nbgrader.cannot_score.format(reason=_reason(exc))])
        return CellScore(_points(frac, cap), lines + checked.notes)

    def _formative_timing(self, criterion: str, lines: list[str], cap: float) -> list[str]:
        """A criterion that only the reply times can score (响应时效): 0 points, the recorded figure as formative."""
        try:
            if self.untimed.criterion(criterion).applicable:
                return lines  # scored without the times: nothing formative to add (the timed replay is not needed)
            timed = self.timed.criterion(criterion)
        except KeyError:
            return lines
        if not timed.applicable:
            return lines
        words = grading_text().transcript
        formative = _points(timed.points / timed.max, cap) if timed.max > 0 else 0.0
        return [words.timing_formative.format(label=timed.label, max=cap, points=formative)]


def transcript_cell(path: str | Path, scenario_id: str, points: float, criterion: str | None = None,
                    with_times: bool = False) -> CellScore:
    """One criterion (or the whole rubric) of a saved role-play, out of `points` (with_times: formative, see cell)."""
    return TranscriptScores(path, scenario_id).cell(points, criterion, with_times)
