"""A role-play conversation laid out for people: in the terminal and as chat bubbles in HTML.

What is shown is the conversation as the grader replays it (shifu.roleplay.transcript.replay): the trainee's
replies from the file, the buyer's lines, moods and signals from the engine. A transcript that fails
the replay is shown as written, under a warning that its numbers do not count. Words come from
grader/transcript_view.yaml; whether a signal reads as good or bad comes from its mood effect in
grader/engine.yaml (the same model the buyer's mood uses).

The HTML uses only Bootstrap 3 classes (alert, label, row/col, panel) and tags that nbconvert's
sanitizer keeps (div, span, strong, em): nbgrader's formgrader page and its feedback page both load
Bootstrap 3, and the feedback page is sanitized (shifu.grading.feedback), so inline styles would be
stripped. Every piece of trainee or buyer text is escaped.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from shifu.content import paths
from shifu.content.terminal import visible
from shifu.content.ui_text import ui_text
from shifu.roleplay.transcript import Transcript, TurnRecord
from shifu.content.yamlio import Strict, load_model_cached


class TranscriptViewText(Strict):
    """grader/transcript_view.yaml."""

    title: str
    roles: dict[str, str]
    mood: str
    mood_change: str
    latency: str
    signals: str
    no_signals: str
    revealed: str
    outcome: str
    separator: str
    replayed: str
    llm_voiced: str
    not_replayed: str
    unfinished: str
    unknown_scenario: str
    unanswered: str = ""  # a reply that left her question unanswered; {value}: what she asked (ui.yaml demand_asked)
    signal_labels: dict[str, str]

    def signal(self, name: str) -> str:
        return self.signal_labels.get(name, name)


def view_text() -> TranscriptViewText:
    """The wording, re-read when the file changes; ShifuError naming file and field when it is wrong."""
    return load_model_cached(paths.grader_dir() / "transcript_view.yaml", TranscriptViewText,
                             guide="the comments in grader/transcript_view.yaml")


def _tone(signal: str) -> int:
    """+1 a signal that calms the buyer, -1 one that angers her, 0 neither (grader/engine.yaml signals.*.mood)."""
    from shifu.roleplay.engine_rules import load_rules
    from shifu.reading.vocab import Signal

    try:
        effect = load_rules().signals.get(Signal(signal))
    except ValueError:
        return 0
    if effect is None or effect.mood == 0:
        return 0
    return 1 if effect.mood > 0 else -1


@dataclass(frozen=True)
class Shown:
    """A conversation ready to lay out. checked: replayed by the grader (its moods count);
    warning: why it is shown as written instead (empty when checked); notes: lines under it."""

    transcript: Transcript
    title: str
    checked: bool
    warning: str = ""
    notes: tuple[str, ...] = ()
    facts: dict[str, str] | None = None  # hidden-fact id → the fact, to say what a question uncovered
    unanswered: dict[int, str] | None = None  # trainee turn → the demand it left unanswered (replayed only)


def _scenario_bits(scenario_id: str) -> tuple[str, dict[str, str]]:
    try:
        from shifu.roleplay.scenario import load_scenario

        sc = load_scenario(scenario_id)
    except Exception:  # an unknown or broken scenario: the id still names the conversation
        return scenario_id, {}
    return sc.title, {f.id: f.fact for f in sc.hidden_facts}


def shown_from_check(checked, path: Path | str, why: str = "") -> Shown | None:  # checked: replay.Checked | None
    """What to show for one checked transcript file; None when there is nothing to show (no file, no turns).

    why: the reason it was not replayed, when `checked` is None."""
    from shifu.content.errors import ShifuError
    from shifu.roleplay.transcript import read_transcript

    words = view_text()
    if checked is not None and checked.accepted and checked.timed is not None:
        t = checked.timed
        title, facts = _scenario_bits(t.scenario)
        notes = [words.llm_voiced if checked.llm_voiced else words.replayed]
        if t.end is None:
            notes.append(words.unfinished)
        return Shown(t, title, True, notes=tuple(notes), facts=facts, unanswered=dict(checked.unanswered))
    try:
        t = read_transcript(path)
    except ShifuError:
        return None
    if not t.turns:
        return None
    reason = checked.reason if checked is not None else why
    title, facts = _scenario_bits(t.scenario)
    return Shown(t, title, False, warning=words.not_replayed.format(reason=reason.rstrip("。.")), facts=facts)


def show_file(path: Path | str) -> Shown:
    """Read and replay one transcript file (its own scenario). Raises ShifuError when it cannot be read at all."""
    from shifu.content.errors import Problem, ShifuError, display_path
    from shifu.roleplay.transcript import read_transcript
    from shifu.roleplay.transcript.replay import check_transcript

    t = read_transcript(path)
    why = ""
    try:
        checked = check_transcript(t)  # against the scenario it names
    except ShifuError:
        checked = None  # the scenario is unknown here: shown as written
        why = view_text().unknown_scenario.format(scenario=t.scenario)
    shown = shown_from_check(checked, path, why)
    if shown is None:
        raise ShifuError([Problem(display_path(path), "turns", "the transcript holds no turns",
                                  "play the role-play and save it, then show it again")])
    return shown


def _outcome(t: Transcript) -> str:
    from shifu.content.ui_text import ui_text

    ui = ui_text()
    if t.end is None:
        return ui.outcome("ongoing")
    return ui.outcome(t.end.outcome, t.end.escalation)


def _mood(turn: TurnRecord) -> str:
    words = view_text()
    if turn.mood_before == turn.mood_after:
        return words.mood.format(after=turn.mood_after)
    return words.mood_change.format(before=turn.mood_before, after=turn.mood_after, delta=turn.mood_after - turn.mood_before)


def _facts(turn: TurnRecord, shown: Shown) -> str:
    facts = shown.facts or {}
    return view_text().separator.join(facts.get(f, f) for f in turn.revealed)


def _newly_revealed(turns: list[TurnRecord]) -> list[list[str]]:
    """Per turn, the hidden facts first revealed by it (a record repeats the ones known so far)."""
    seen: set[str] = set()
    out = []
    for turn in turns:
        new = [f for f in turn.revealed if f not in seen] if turn.role == "trainee" else []
        seen.update(turn.revealed)
        out.append(new)
    return out


def render_text(shown: Shown) -> str:
    """The conversation for a terminal: one block per turn (role, mood, reply time, text, signals)."""
    words = view_text()
    t = shown.transcript
    lines = [words.title.format(title=shown.title, scenario=t.scenario)]
    if shown.warning:
        lines.append(shown.warning)
    for turn, new in zip(t.turns, _newly_revealed(t.turns)):
        head = [f"[{turn.turn}] {words.roles.get(turn.role, turn.role)}", _mood(turn)]
        if turn.role == "trainee" and turn.latency_s is not None:
            head.append(words.latency.format(latency=turn.latency_s))
        lines.append("")
        lines.append(" · ".join(head))
        lines += [f"    {line}" for line in turn.text.splitlines() or [""]]
        if turn.role == "trainee":
            names = [words.signal(s) for s in turn.signals]
            lines.append("    " + (words.signals.format(value=words.separator.join(names)) if names else words.no_signals))
            if new:
                lines.append("    " + words.revealed.format(value=_facts(TurnRecord(**{**turn.model_dump(), "revealed": new}), shown)))
            if (shown.unanswered or {}).get(turn.turn) and words.unanswered:
                lines.append("    " + _unanswered((shown.unanswered or {})[turn.turn]))
    lines.append("")
    lines.append(words.outcome.format(value=_outcome(t)))
    lines += list(shown.notes)
    return visible("\n".join(lines)) + "\n"  # trainee text: shown, never obeyed by the terminal


def _unanswered(demand: str) -> str:
    """The line under a reply that left her question unanswered ("没回答买家问的:几点、哪天能办好")."""
    return view_text().unanswered.format(value=ui_text().demand_asked.get(demand, demand))


def _label(text: str, tone: int) -> str:
    kind = {1: "label-success", -1: "label-danger"}.get(tone, "label-default")
    return f'<span class="label {kind}">{html.escape(text)}</span>'


def _bubble(turn: TurnRecord, new: list[str], shown: Shown) -> str:
    words = view_text()
    e = html.escape
    meta = [f"<strong>{e(words.roles.get(turn.role, turn.role))}</strong>",
            _label(_mood(turn), (turn.mood_after > turn.mood_before) - (turn.mood_after < turn.mood_before))]
    if turn.role == "trainee" and turn.latency_s is not None:
        meta.append(f'<span class="text-muted">{e(words.latency.format(latency=turn.latency_s))}</span>')
    body = "<br>".join(e(line) for line in turn.text.splitlines())
    parts = [f'<div>{" ".join(meta)}</div>', f"<div>{body}</div>"]
    if turn.role == "trainee":
        labels = " ".join(_label(words.signal(s), _tone(s)) for s in turn.signals)
        parts.append(f'<div class="small">{labels if labels else e(words.no_signals)}</div>')
        if new:
            fake = TurnRecord(**{**turn.model_dump(), "revealed": new})
            parts.append(f'<div class="small text-muted">{e(words.revealed.format(value=_facts(fake, shown)))}</div>')
        if (shown.unanswered or {}).get(turn.turn) and words.unanswered:
            parts.append(f'<div class="small">{_label(_unanswered((shown.unanswered or {})[turn.turn]), -1)}</div>')
    if turn.role == "buyer":
        return (f'<div class="row"><div class="col-xs-9"><div class="alert alert-warning">{"".join(parts)}'
                '</div></div></div>')
    return (f'<div class="row"><div class="col-xs-9 col-xs-offset-3"><div class="alert alert-info">{"".join(parts)}'
            '</div></div></div>')


def render_html(shown: Shown) -> str:
    """The conversation as chat bubbles (buyer left, trainee right), each with its mood and signals."""
    words = view_text()
    e = html.escape
    t = shown.transcript
    out = ['<div class="shifu-transcript panel panel-default">',
           f'<div class="panel-heading"><strong>{e(words.title.format(title=shown.title, scenario=t.scenario))}</strong></div>',
           '<div class="panel-body">']
    if shown.warning:
        out.append(f'<div class="alert alert-danger">{e(shown.warning)}</div>')
    out += [_bubble(turn, new, shown) for turn, new in zip(t.turns, _newly_revealed(t.turns))]
    out.append(f'<div><strong>{e(words.outcome.format(value=_outcome(t)))}</strong></div>')
    out += [f'<div class="small text-muted">{e(n)}</div>' for n in shown.notes]
    out.append("</div></div>")
    return "\n".join(out)


def notebook_output(scores) -> dict | None:  # scores: shifu.grading.scoring.TranscriptScores
    """A display_data output (HTML bubbles, text fallback) for a graded role-play cell; None when nothing to show.

    scores: the grader's TranscriptScores for the file (its replay is reused, not run again). Never
    raises: a transcript the view cannot lay out is simply not shown (the cell's score and reasons
    are still there).
    """
    from nbformat.v4 import new_output

    try:
        shown = shown_from_check(scores.checked, scores.path)
        if shown is None:
            return None
        return new_output("display_data", data={"text/html": render_html(shown), "text/plain": render_text(shown)})
    except Exception:  # the view must never cost a trainee points or break a grading run
        return None
