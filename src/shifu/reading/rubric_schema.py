"""The rubric files in grader/rubrics/: schema and loading.

A rubric is content a trainer edits: criteria, points, which signals earn or cost points, the
thresholds and the Chinese tips. This module only checks a file and reports every problem with the
file, the field and the fix; scoring lives in shifu.reading.rubric.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.reading.vocab import Competency, Signal
from shifu.content.yamlio import Strict, cached_by_file, dotted, line_for, load_yaml


class CriterionId(str, Enum):
    """The fixed criterion ids: course grade ids (`q1_reply__de_escalation`) and progress charts use them."""

    timeliness = "timeliness"
    de_escalation = "de_escalation"
    need_tracing = "need_tracing"
    consensus_solution = "consensus_solution"
    policy_accuracy = "policy_accuracy"
    compliance = "compliance"
    conversion = "conversion"
    closing_loop = "closing_loop"


# What a gain or loss can be measured on, besides the signal names in shifu.reading.vocab.Signal.
EXTRA_MEASURES = {
    "facts_probed": "share of the scenario's hidden facts the trainee's questions targeted (over a conversation: asked or revealed)",
    "forbidden_offer": "offered one of the scenario's never_offer resolutions (over-promise or breach)",
    "injection": "wrote instructions aimed at the grader or the model",
    "outcome_resolved": "the conversation ended with the buyer accepting a resolution (transcripts only)",
}
MEASURES = {s.value for s in Signal} | set(EXTRA_MEASURES)
TRANSCRIPT_ONLY = {"outcome_resolved"}


class Item(Strict):
    """One thing that earns (gain) or costs (loss) a share of a criterion's points."""

    measure: str = Field(description="a signal name (src/shifu/reading/vocab.py Signal) or one of EXTRA_MEASURES")
    share: float = Field(gt=0, le=1, description="fraction of the criterion's points")
    tip: str = Field(min_length=1, description="what to do instead (gains: when missing; losses: when present)")

    @model_validator(mode="after")
    def _known(self) -> "Item":
        if self.measure not in MEASURES:
            raise ValueError(f"unknown measure {self.measure!r}")
        return self


class Latency(Strict):
    benchmark_s: float = Field(gt=0, description="full points at or under this many seconds")
    zero_after_s: float = Field(gt=0, description="no points at or over this many seconds")
    tip: str = Field(min_length=1, description="shown when replies were slower than the benchmark")

    @model_validator(mode="after")
    def _order(self) -> "Latency":
        if self.zero_after_s <= self.benchmark_s:
            raise ValueError("zero_after_s must be larger than benchmark_s")
        return self


class Judge(Strict):
    """How the criterion is judged, as data."""

    base: float = Field(default=0.0, ge=0, le=1, description="share every reply with substance earns (clean-record criteria)")
    gains: list[Item] = Field(default_factory=list)
    losses: list[Item] = Field(default_factory=list)
    latency: Latency | None = None

    @model_validator(mode="after")
    def _something(self) -> "Judge":
        if self.latency is None and not self.gains and self.base == 0:
            raise ValueError("a criterion needs gains, a base share or a latency rule")
        return self


class Source(Strict):
    seed: str = Field(pattern=r"^00[0-4]$")
    fact: str = Field(min_length=1)


class Criterion(Strict):
    id: CriterionId
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    competency: Competency
    points: float = Field(gt=0)
    judge: Judge
    tip_full: str = Field(min_length=1, description="shown when the criterion earned full points")
    tip_na: str = Field(default="", description="shown when the criterion cannot be judged (e.g. no reply time)")
    source: Source


class Tips(Strict):
    low_substance: str = Field(min_length=1)
    injection: str = Field(min_length=1)
    empty: str = Field(min_length=1)


class Rubric(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    substance_floor: float = Field(gt=0, le=1, description="a reply with less substance earns proportionally less")
    injection_factor: float = Field(ge=0, le=1, description="every criterion's points are multiplied by this when a reply addresses the grader or model")
    tips: Tips
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Rubric":
        ids = [c.id.value for c in self.criteria]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"criterion {dup[0]!r} is listed twice")
        return self

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.criteria)

    def criterion(self, cid: str) -> Criterion:
        for c in self.criteria:
            if c.id.value == cid:
                return c
        raise KeyError(cid)

    def criterion_ids(self) -> list[str]:
        return [c.id.value for c in self.criteria]


def _fix_for(kind: str, msg: str) -> str:
    if kind == "missing":
        return "add the field (see grader/rubrics/README.md)"
    if kind == "extra_forbidden":
        return "remove it or correct its spelling (see grader/rubrics/README.md)"
    if kind == "enum":
        return "use one of the allowed values"
    if "unknown measure" in msg:
        return "use a signal name from src/shifu/reading/vocab.py (Signal) or one of: " + ", ".join(sorted(EXTRA_MEASURES))
    if kind.startswith(("greater", "less")):
        return "bring the value into the allowed range"
    if kind.endswith(("_type", "_parsing")):
        return "write a value of the expected type"
    return "correct the value"


def parse_rubric(path: Path) -> Rubric:
    """Load and validate one rubric file; raise ShifuError listing every problem."""
    shown = display_path(path)
    if not path.exists():
        raise ShifuError([Problem(shown, "(file)", "does not exist", "create it or use an existing rubric id")])
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ShifuError([Problem(shown, "(top level)", "must be a mapping of fields", "start the file with `id: ...`", 1)])
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = {"missing": "required field is missing", "extra_forbidden": "unknown field"}.get(err["type"], err["msg"])
            problems.append(Problem(shown, dotted(loc), msg, _fix_for(err["type"], err["msg"]), line_for(lines, loc)))
        raise ShifuError(problems) from None
    if rubric.id != path.stem:
        raise ShifuError([Problem(shown, "id", f"id {rubric.id!r} does not match the file name {path.stem!r}",
                                  f"rename the file to {rubric.id}.yaml or change the id", line_for(lines, ("id",)))])
    return rubric


def rubrics_dir() -> Path:
    return paths.grader_dir() / "rubrics"


def load_rubric(rubric_id: str) -> Rubric:
    """A rubric by id (grader/rubrics/<id>.yaml), validated; re-read when the file changes."""
    path = rubrics_dir() / f"{rubric_id}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in rubrics_dir().glob("*.yaml"))) or "none"
        raise ShifuError([Problem(display_path(path), "(file)", f"unknown rubric {rubric_id!r}", f"use one of: {known}")])
    return cached_by_file(path, parse_rubric)


def rubric_catalog() -> tuple[dict[str, Rubric], list[Problem]]:
    """Every rubric that loads, and the problems of those that don't (never stops at the first)."""
    good: dict[str, Rubric] = {}
    problems: list[Problem] = []
    d = rubrics_dir()
    for path in sorted(d.glob("*.yaml")) if d.is_dir() else []:
        try:
            good[path.stem] = load_rubric(path.stem)
        except ShifuError as exc:
            problems.extend(exc.problems)
    return good, problems
