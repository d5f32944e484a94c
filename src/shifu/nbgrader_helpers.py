"""Helpers for nbgrader autograder test cells: partial credit from the rubric.

nbgrader gives a test cell 0 points when it raises or writes anything to stderr, and takes a number
between 0 and the cell's points as partial credit when that number is the cell's last output. So
these helpers never raise on what a trainee wrote, keep every warning off stderr, print their
reasons (in Chinese, for the trainee's feedback) on stdout, and return that number.
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from .feedback_text import feedback_text
from .rubric import ScoreResult, score_reply, score_transcript
from .transcript import read_transcript


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Nothing reaches stderr while scoring: warnings are silenced and stray writes are swallowed."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _share(result: ScoreResult, criterion: str | None) -> tuple[float, list[str]]:
    """Fraction of the rubric earned (whole rubric or one criterion), and lines explaining it."""
    text = feedback_text().nbgrader
    if criterion is None:
        lines = [text.total.format(total=result.total, max=result.max)]
        lines += [text.total_line.format(label=c.label, points=c.points, max=c.max, tip=c.tip)
                  for c in result.criteria if c.applicable]
        return (result.total / result.max if result.max > 0 else 0.0), lines
    try:
        c = result.criterion(criterion)
    except KeyError:
        return 0.0, [text.unknown_criterion.format(criterion=criterion)]
    if not c.applicable or c.max <= 0:
        return 0.0, [text.not_applicable.format(label=c.label, tip=c.tip)]
    lines = [text.criterion.format(label=c.label, points=c.points, max=c.max)]
    lines += [text.evidence_line.format(turn=e.turn, quote=e.quote) for e in c.evidence[:3]]
    lines.append(text.tip_line.format(tip=c.tip))
    return c.points / c.max, lines


def _cell_points(points: float, score: Callable[[], ScoreResult], criterion: str | None) -> float:
    with _quiet():
        try:
            text = feedback_text().nbgrader
        except Exception as exc:  # even broken content must not break the grading run
            print(f"0: {_reason(exc)}")
            return 0.0
        try:
            cap = float(points)
        except (TypeError, ValueError):
            print(text.bad_points)
            return 0.0
        if not math.isfinite(cap) or cap <= 0:
            return 0.0
        try:
            share, lines = _share(score(), criterion)
        except Exception as exc:  # a trainee's input must never break the grading run
            print(text.cannot_score.format(reason=_reason(exc)))
            return 0.0
    for line in lines:
        print(line)
    return min(cap, max(0.0, round(share * cap, 2)))


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def reply_points(answer: str, scenario_id: str, buyer: str, points: float, criterion: str | None = None) -> float:
    """Points for one written reply: the criterion's share (or the whole rubric's) of `points`."""
    text = answer if isinstance(answer, str) else ("" if answer is None else str(answer))
    if not text.strip():
        with _quiet():
            try:
                print(feedback_text().nbgrader.empty_reply)
            except Exception:
                print("0")
        return 0.0
    return _cell_points(points, lambda: score_reply(scenario_id, text, buyer=buyer or ""), criterion)


def transcript_points(path: str, scenario_id: str, points: float, criterion: str | None = None) -> float:
    """Points for a saved role-play transcript; a missing or unreadable transcript earns 0 with the reason printed."""
    try:
        p = Path(path)
        exists = p.is_file()
    except (TypeError, ValueError, OSError):
        exists = False
    if not exists:
        with _quiet():
            try:
                print(feedback_text().nbgrader.no_transcript.format(path=path))
            except Exception:
                print(f"0: {path!s}")
        return 0.0
    return _cell_points(points, lambda: _score_saved(p, scenario_id), criterion)


def _score_saved(path: Path, scenario_id: str) -> ScoreResult:
    transcript = read_transcript(path)
    if transcript.scenario != scenario_id:
        raise ValueError(feedback_text().nbgrader.wrong_scenario.format(found=transcript.scenario, expected=scenario_id))
    return score_transcript(transcript, scenario=scenario_id)
