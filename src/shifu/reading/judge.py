"""An optional LLM judge: per-criterion reasoning, a suggested score and a Chinese comment for the mentor.

It only suggests. Autograded points always come from the rule-based rubric (shifu.reading.rubric); nothing in
the grading path calls this module. The trainee's text goes to the model as delimited data, with an
explicit instruction that nothing inside it is an instruction. Any OpenAI-compatible endpoint works
(settings from shifu.llm.config: SHIFU_LLM_BASE_URL / SHIFU_LLM_API_KEY / SHIFU_LLM_MODEL or a
config file), through shifu.llm.client: reasoning in the answer is removed before the JSON is read,
and parameters or a system role the server refuses are adapted once. The API key never appears in a
result, a log line or an error.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from shifu.llm import client as llm_client
from shifu.content import paths
from shifu.content.errors import ShifuError
from shifu.llm.config import LLMConfig, load_llm_config
from shifu.reading.rubric import ScoreResult, load_rubric, score_reply, score_transcript
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.roleplay.transcript import Transcript, as_transcript
from shifu.content.yamlio import Strict, check_placeholders, load_model_cached, require_shipped

log = logging.getLogger("shifu.reading.judge")

_OPEN, _CLOSE = "<trainee_text>", "</trainee_text>"


class _Reasons(Strict):
    no_config: str = Field(min_length=1)
    unreachable: str = Field(min_length=1)
    bad_format: str = Field(min_length=1)


class _Speakers(Strict):
    buyer: str = Field(min_length=1)
    trainee: str = Field(min_length=1)
    outcome: str = Field(min_length=1)


class _Suggestion(Strict):
    """How `shifu course suggest` writes the judge's opinion into a formgrader comment (judge.yaml `suggestion`)."""

    label: str = Field(min_length=1)
    transcript: str = Field(min_length=1)
    criterion: str = Field(min_length=1)

    @field_validator("label")
    @classmethod
    def _label(cls, v: str) -> str:
        return check_placeholders(v, set())

    @field_validator("transcript")
    @classmethod
    def _transcript(cls, v: str) -> str:
        return check_placeholders(v, {"transcript", "comment"})

    @field_validator("criterion")
    @classmethod
    def _criterion(cls, v: str) -> str:
        return check_placeholders(v, {"label", "score", "max", "reasoning"})


class JudgePrompts(Strict):
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)
    fallback: str = Field(min_length=1)
    criterion_line: str = Field(min_length=1)
    reasons: _Reasons
    speakers: _Speakers
    suggestion: _Suggestion


@dataclass(frozen=True)
class JudgedCriterion:
    id: str
    reasoning: str
    score: float  # suggested points, 0..max
    max: float


@dataclass(frozen=True)
class JudgeResult:
    """The model's suggestion. `ok` is False when the model could not be used; `comment` then says why."""

    ok: bool
    comment: str
    criteria: list[JudgedCriterion] = field(default_factory=list)
    model: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "model": self.model, "comment": self.comment, "error": self.error,
                "criteria": [{"id": c.id, "reasoning": c.reasoning, "score": c.score, "max": c.max} for c in self.criteria]}


class _Answer(BaseModel):
    class Item(BaseModel):
        id: str
        reasoning: str = ""
        score: float

    criteria: list[Item] = Field(default_factory=list)
    comment: str = Field(min_length=1)


def load_prompts() -> JudgePrompts:
    p = require_shipped(paths.grader_dir() / "judge.yaml")
    return load_model_cached(p, JudgePrompts, guide="the repository's grader/judge.yaml")


def _as_data(text: str) -> str:
    """Trainee text cannot close the data block it sits in."""
    return re.sub(r"</?\s*trainee_text\s*>", "[tag removed]", text, flags=re.IGNORECASE)


def build_messages(sc: Scenario, trainee_text: str, rule: ScoreResult, prompts: JudgePrompts) -> list[dict[str, str]]:
    """The chat messages: scenario, rubric and rule scores as context; the trainee's text as delimited data."""
    rubric = load_rubric(sc.rubric)
    scored = {c.id: c for c in rule.criteria}
    criteria = "\n".join(
        prompts.criterion_line.format(id=c.id.value, label=c.label, max=scored[c.id.value].max, description=c.description)
        for c in rubric.criteria if c.id.value in scored and scored[c.id.value].max > 0)
    rule_scores = ";".join(f"{c.id} {c.points:g}/{c.max:g}" for c in rule.criteria if c.max > 0)
    ctx = sc.context
    user = prompts.user.format(
        title=sc.title, persona=f"{sc.persona.name},{sc.persona.temperament}", summary=sc.summary,
        shop=ctx.shop, product=ctx.product, order_status=ctx.order_status,
        policies="\n".join(f"- {p.text}" for p in ctx.policies) or "-",
        facts="\n".join(f"- {f.fact}" for f in sc.hidden_facts) or "-",
        accepts=";".join(r.description for r in sc.accepts),
        never=";".join(f"{r.description}({r.why})" for r in sc.never_offer) or "-",
        rubric_label=rubric.label, criteria=criteria, rule_scores=rule_scores,
        trainee_text=_as_data(trainee_text),
    )
    return [{"role": "system", "content": prompts.system.format()}, {"role": "user", "content": user}]


def _parse(raw: str, rule: ScoreResult) -> tuple[list[JudgedCriterion], str]:
    text = raw.strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, flags=re.DOTALL)
    if fenced:
        text = fenced.group(1)
    elif not text.startswith("{") and "{" in text:
        text = text[text.index("{"): text.rindex("}") + 1]
    answer = _Answer.model_validate(json.loads(text))
    maxima = {c.id: c.max for c in rule.criteria if c.max > 0}
    out = []
    for item in answer.criteria:
        if item.id in maxima and not any(c.id == item.id for c in out):
            top = maxima[item.id]
            out.append(JudgedCriterion(item.id, item.reasoning.strip(), round(min(top, max(0.0, item.score)), 2), top))
    return out, answer.comment.strip()


def _judge(sc: Scenario, trainee_text: str, rule: ScoreResult, config: LLMConfig | None, client: Any) -> JudgeResult:
    prompts = load_prompts()
    try:
        cfg = config or load_llm_config()
    except ShifuError as exc:
        reason = str(exc).splitlines()[0]
        return JudgeResult(False, prompts.fallback.format(reason=prompts.reasons.no_config), error=reason)
    api = client or llm_client.make_client(cfg, max_retries=cfg.max_retries)
    messages = build_messages(sc, trainee_text, rule, prompts)
    try:
        # response_format is asked for; a server that refuses it is asked again without (the prompt asks for
        # JSON anyway). Reasoning the model writes into its answer is removed before parsing.
        done = llm_client.chat(cfg, messages, client=api, temperature=0.0, extra={"response_format": {"type": "json_object"}})
        raw = done.text
    except llm_client.LLMError as exc:
        reason = cfg.redact(exc.reason)
        log.warning("LLM judge unavailable: %s", reason)
        why = prompts.reasons.bad_format if exc.kind in ("malformed", "length") else prompts.reasons.unreachable
        return JudgeResult(False, prompts.fallback.format(reason=why), model=cfg.model, error=reason)
    try:
        criteria, comment = _parse(raw, rule)
    except (ValueError, ValidationError) as exc:
        reason = cfg.redact(f"the model did not answer with the JSON asked for ({type(exc).__name__})")
        log.warning("LLM judge: %s", reason)
        return JudgeResult(False, prompts.fallback.format(reason=prompts.reasons.bad_format), model=cfg.model, error=reason)
    return JudgeResult(True, cfg.redact(comment), [JudgedCriterion(c.id, cfg.redact(c.reasoning), c.score, c.max)
                                                   for c in criteria], model=cfg.model)


def judge_reply(scenario: Scenario | str, reply: str, buyer: str = "", config: LLMConfig | None = None,
                client: Any = None) -> JudgeResult:
    """The model's reading of one reply, next to the rule-based score. Never raises on network or model trouble."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    rule = score_reply(sc, reply, buyer=buyer)
    who = load_prompts().speakers
    text = f"{who.trainee}:{reply}"
    if buyer:
        text = f"{who.buyer}:{buyer}\n{text}"
    return _judge(sc, text, rule, config, client)


def judge_transcript(source: str | Path | Transcript, scenario: Scenario | str | None = None,
                     config: LLMConfig | None = None, client: Any = None) -> JudgeResult:
    """The model's reading of a whole role-play, next to the rule-based score."""
    tr = as_transcript(source)
    ref = scenario if scenario is not None else tr.scenario
    sc = ref if isinstance(ref, Scenario) else load_scenario(ref)
    rule = score_transcript(tr, scenario=sc)
    who = load_prompts().speakers
    lines = [f"{who.buyer if t.role == 'buyer' else who.trainee}:{t.text}" for t in tr.turns]
    if tr.end is not None:
        lines.append(who.outcome.format(outcome=tr.end.outcome))
    return _judge(sc, "\n".join(lines), rule, config, client)
