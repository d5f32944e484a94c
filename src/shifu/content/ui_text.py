"""The role-play's trainee-facing labels, from grader/ui.yaml, shared by the terminal and the widget."""
from __future__ import annotations

from shifu.content import paths
from shifu.roleplay.scenario import Scenario
from shifu.content.yamlio import Strict, load_model_cached


class _Text(Strict):
    """Base of the label groups in grader/ui.yaml."""


class ContextText(_Text):
    title: str
    shop: str
    product: str
    order: str
    status: str
    logistics: str
    note: str
    policy: str


class ReadingAllowance(_Text):
    """Seconds before the first reply's clock starts: the order card's characters / chars_per_s, within [min_s, max_s]."""

    chars_per_s: float
    min_s: float
    max_s: float

    def seconds(self, chars: int) -> float:
        return min(self.max_s, max(self.min_s, chars / self.chars_per_s if self.chars_per_s > 0 else self.max_s))


class AttemptText(_Text):
    option: str
    hand_in: str
    new: str
    shown_finished: str
    shown_ongoing: str
    unreadable: str
    new_failed: str
    choose_failed: str


class UIText(_Text):
    context: ContextText
    mood: str
    patience: str
    trainee_name: str
    trainee_prompt: str
    input_placeholder: str
    send: str
    finish: str
    timer: str
    timer_reading: str
    timer_idle: str
    send_hint: str
    reading: ReadingAllowance
    attempts: AttemptText
    send_failed: str
    finish_failed: str
    last_latency: str
    latency: str
    terminal_help: str
    outcomes: dict[str, str]
    escalations: dict[str, str]
    result: str
    mood_turns: str
    resolution: str
    uncovered: str
    missed: str
    uncovered_mark: str
    missed_mark: str
    unanswered: str  # debrief: a reply that left unanswered what the buyer asked; {turn}, {value}
    demand_asked: dict[str, str] = {}  # grader/engine.yaml demand id -> what she asked for (the debrief's {value})
    saved: str
    llm_fallback: str

    def outcome(self, outcome: str, escalation: str | None = None) -> str:
        head = self.outcomes.get(outcome, outcome)
        return f"{head}({self.escalations.get(escalation, escalation)})" if escalation else head

    def context_lines(self, sc: Scenario) -> list[str]:
        """What the trainee sees of the order, one line each (plain text: the caller escapes it)."""
        c, t = sc.context, self.context
        lines = [t.shop.format(value=c.shop), t.product.format(value=c.product),
                 t.order.format(order_id=c.order_id, amount=c.amount_yuan), t.status.format(value=c.order_status)]
        if c.logistics:
            lines.append(t.logistics.format(value=c.logistics))
        lines += [t.note.format(value=n) for n in c.notes]
        lines += [t.policy.format(value=p.text) for p in c.policies]
        return lines


def ui_text() -> UIText:
    p = paths.grader_dir() / "ui.yaml"
    return load_model_cached(p, UIText, guide="the comments in grader/ui.yaml")
