"""The LLM buyer's prompt and the checks on what comes back, from grader/buyer_voice.yaml."""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import field_validator

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.reading.vocab import BuyerState, Escalation
from shifu.content.yamlio import Strict, cached_by_file, check_placeholders, line_for, load_model, load_yaml, require_shipped
from shifu.roleplay.voices import VoiceRequest

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _fitting_examples(req: VoiceRequest) -> list[str]:
    """The scenario's lines for the state that fit the conversation (an example that mentions an offer
    nobody made would lead the model to mention it too); all of them when none fits."""
    from shifu.roleplay.voices.scripted import Heard, fits

    assert req.state is not None
    heard = Heard.of(req)
    return [line.text for line in req.scenario.lines.options(req.state) if fits(line, heard)] \
        or req.scenario.lines.for_state(req.state)


class VoiceStyle(Strict):

    system: str
    turn: str
    opening: str
    states: dict[BuyerState, str]
    reveal: str
    no_reveal: str = ""
    demands: dict[str, str] = {}  # grader/engine.yaml demand id -> what to ask for this turn (the turn's {demand})
    no_demand: str = ""
    no_facts_told: str  # the system prompt's {facts} before the buyer has told anything
    escalations: dict[Escalation, str]
    role_reversal_starts: list[str]
    breaks_character: list[str]
    strip_prefixes: list[str] = []
    fallback_notice: str
    unexpected_error: str  # fallback_notice's {reason} for an error in the program; {error}: its kind
    bad_output: str  # fallback_notice's {reason} when the model's line was rejected twice; {problem}: why
    conversation_start: str  # the user line before the buyer's opening: chat templates start with user
    adapted_notice: str  # {what}: what was changed because the server refused it
    exam_seed_refused: str = ""  # added to adapted_notice when exam mode's seed was refused
    max_chars: int = 200

    @field_validator("unexpected_error")
    @classmethod
    def _error_slot(cls, v: str) -> str:
        return check_placeholders(v, {"error"})

    @field_validator("bad_output")
    @classmethod
    def _problem_slot(cls, v: str) -> str:
        return check_placeholders(v, {"problem"})

    @field_validator("no_facts_told")
    @classmethod
    def _no_slot(cls, v: str) -> str:
        return check_placeholders(v, set())

    def messages(self, req: VoiceRequest) -> list[dict[str, str]]:
        """System persona, the conversation so far, then this turn's instruction."""
        sc = req.scenario
        told = [sc.hidden_fact(f).fact for f in req.revealed]
        system = self.system.format(
            name=sc.persona.name, temperament=sc.persona.temperament, shop=sc.context.shop,
            product=sc.context.product, order_id=sc.context.order_id, amount_yuan=f"{sc.context.amount_yuan:g}",
            order_status=sc.context.order_status, logistics=sc.context.logistics, goal=sc.goal,
            facts=";".join(told) if told else self.no_facts_told)
        out = [{"role": "system", "content": system}]
        for role, text in req.history:
            out.append({"role": "assistant" if role == "buyer" else "user", "content": text})
        if req.state is None:
            out.append({"role": "user", "content": self.opening.format(examples=" / ".join(sc.lines.opening))})
            return out
        escalation = self.escalations.get(req.escalation or sc.persona.escalation, "")
        reveal = (self.reveal.format(facts=";".join(sc.hidden_fact(f).fact for f in req.reveal))
                  if req.reveal else self.no_reveal)
        out.append({"role": "user", "content": self.turn.format(
            mood=req.mood, instruction=self.states[req.state].format(escalation=escalation), reveal=reveal,
            demand=self.demand_words(req), examples=" / ".join(_fitting_examples(req)), reply=req.reply)})
        return out

    def demand_words(self, req: VoiceRequest) -> str:
        """What the model is told she asks for this turn (nothing once the conversation is over).

        Raises ShifuError when grader/buyer_voice.yaml has no words for the engine's demand."""
        if req.demand is None or req.state not in (BuyerState.angry, BuyerState.calming, BuyerState.probing):
            return self.no_demand
        if req.demand not in self.demands:
            raise ShifuError([Problem("grader/buyer_voice.yaml", f"demands.{req.demand}",
                                      f"no words for the demand {req.demand!r} of grader/engine.yaml",
                                      f"add `{req.demand}: <what she asks for>` under `demands:`")])
        return self.demands[req.demand]

    def clean(self, text: str, buyer_name: str) -> str:
        """Drop wrapping quotes and speaker labels a model adds."""
        text = text.strip().strip('"“”「」\'').strip()
        for pattern in self.strip_prefixes:
            text = re.sub("^" + pattern.replace("{name}", re.escape(buyer_name)), "", text).strip()
        return text.strip('"“”「」\'').strip()

    def reversed_roles(self, text: str) -> bool:
        head = text.lstrip(" \t\n\"“「'")
        return any(re.match(p, head) for p in self.role_reversal_starts)

    def problem(self, text: str) -> str | None:
        """Why a finished line cannot be the buyer's, or None when it can."""
        if not text:
            return "empty reply"
        if self.reversed_roles(text):
            return "spoke as the agent"
        if any(re.search(p, text) for p in self.breaks_character):
            return "broke character"
        if not _CJK.search(text):
            return "not Chinese"
        if len(text) > self.max_chars:
            return "too long"
        return None


def _load(p: Path) -> VoiceStyle:
    shown = display_path(p)
    style = load_model(p, VoiceStyle, guide="the comments in grader/buyer_voice.yaml")
    for field in ("role_reversal_starts", "breaks_character", "strip_prefixes"):
        for i, pattern in enumerate(getattr(style, field)):
            try:
                re.compile(pattern.replace("{name}", "x"))
            except re.error as exc:
                lines = load_yaml(p)[1]
                raise ShifuError([Problem(shown, f"{field}[{i}]", f"not a valid regular expression: {exc}", "fix the pattern",
                                          line_for(lines, (field, i)))]) from None
    return style


def load_style(path: Path | None = None) -> VoiceStyle:
    p = require_shipped(Path(path) if path else paths.grader_dir() / "buyer_voice.yaml")
    return cached_by_file(p, _load)
