"""The trainer-edited YAML progress and review read: competencies, rubric criteria, thresholds, weights.

Every file is validated on load; a mistake becomes a ShifuError naming the file, line, field and fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.content.yamlio import Strict, dotted, line_for, load_model, load_yaml



class _Open(BaseModel):
    """For files other parts of Shifu also write to: unknown keys are theirs, not errors."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# ---------------------------------------------------------------- competencies.yaml

class SubSkill(_Open):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)


class CompetencyDef(_Open):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    sub_skills: list[SubSkill] = Field(default_factory=list)


class Level(_Open):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    min_score: float | None = Field(default=None, ge=0, le=100)


class CompetenciesFile(_Open):
    competencies: list[CompetencyDef] = Field(min_length=1)
    levels: list[Level] = Field(min_length=2)

    @model_validator(mode="after")
    def _one_insufficient_level(self) -> "CompetenciesFile":
        if sum(1 for lv in self.levels if lv.min_score is None) != 1:
            raise ValueError("exactly one level must have `min_score: null` (the insufficient-evidence level)")
        return self


# ---------------------------------------------------------------- progress.yaml

class ProficiencyRules(Strict):
    min_items: int = Field(ge=1)
    max_age_days: float = Field(gt=0)
    half_life_days: float = Field(gt=0)
    undated_weight: float = Field(ge=0, le=1)


class ResponseTime(Strict):
    benchmark_s: float = Field(gt=0)


class AtRisk(Strict):
    """Who needs a mentor now (proficiency.at_risk); the comments in progress.yaml give each rule's reason."""

    behind_median_points: float = Field(gt=0, le=100)
    weak_ability_points: float = Field(gt=0, le=100)
    below_score: float = Field(ge=0, le=100)
    falling_points: float = Field(gt=0, le=100)
    missing_submissions: int = Field(ge=1)
    missing_window: int = Field(ge=1)
    insufficient_abilities: int = Field(ge=1)


class TrendRules(Strict):
    """A trainee's recent assignments against their earlier ones, in the order they handed them in."""

    recent_assignments: int = Field(ge=1)
    min_earlier: int = Field(ge=1)


class Improvement(Strict):
    top: int = Field(ge=1)


class Tables(Strict):
    """How long tables are shown: the first `top` rows open, the rest folded (<details>)."""

    top: int = Field(ge=1)
    max_rows: int = Field(ge=1)


class Calibration(Strict):
    """How `shifu calibrate` sets mentors' grades beside the automatic ones (see progress.yaml)."""

    mentor_cells: str = Field(min_length=1)     # regex on the grade id of a 导师点评 cell
    signature: str = Field(min_length=1)        # regex with a `mentor` group, searched in the cell's formgrader comment
    roster: str = Field(min_length=1)           # default roster file name in the course folder
    min_pairs: int = Field(ge=2)
    bias_points: float = Field(gt=0)
    top: int = Field(ge=1)

    @model_validator(mode="after")
    def _patterns(self) -> "Calibration":
        import re

        for name in ("mentor_cells", "signature"):
            try:
                rx = re.compile(getattr(self, name))
            except re.error as exc:
                raise ValueError(f"{name}: not a regular expression ({exc})")
            if name == "signature" and "mentor" not in rx.groupindex:
                raise ValueError("signature: needs a named group (?P<mentor>…) that captures the mentor's name")
        return self


# The `text:` templates reports fill in, with the values each may use. Checked on load, so a typo in a
# `{name}` is an error naming the key, never a KeyError in the middle of a report.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "risk_behind": ("score", "median", "gap"),
    "risk_weak": ("ability", "score", "median"),
    "risk_falling": ("recent", "earlier", "drop", "n"),
    "risk_missing": ("n", "assignments"),
    "risk_no_evidence": ("n", "total"),
    "as_of": ("date", "source"),
    "folded": ("shown", "total"),
    "improved_note": ("n",),
    "review_explain": ("total", "parts"),
    "review_kpi": ("score", "bar_verdict", "bar", "months", "period", "components", "share", "contribution"),
    "review_kpi_none": ("period",),
    "review_competencies": ("score", "abilities", "items", "automatic", "mentor", "details", "share", "contribution"),
    "review_apprentices": ("score", "passed", "count", "share", "contribution"),
    "review_needs_kpi": ("months", "needed"),
    "review_needs_abilities": ("abilities", "total", "needed"),
    "review_formula": ("kpi", "competencies", "apprentices", "bar"),
    "review_kpi_formula": ("cap", "min_months"),
    "review_competency_formula": ("min_abilities", "max_age_days"),
    "review_above_100": ("cap",),
    "review_period": ("start", "end"),
    "calibration_summary": ("pairs", "spearman", "difference", "bias", "min_pairs"),
}


class ProgressRules(Strict):
    proficiency: ProficiencyRules
    response_time: ResponseTime
    at_risk: AtRisk
    trend: TrendRules
    improvement: Improvement
    calibration: Calibration
    tables: Tables
    heatmap_max_rows: int = Field(ge=5)
    text: dict[str, str]
    columns: dict[str, str] = Field(default_factory=dict)   # table column id → the heading a mentor reads

    @model_validator(mode="after")
    def _templates(self) -> "ProgressRules":
        for key, names in TEMPLATES.items():
            if key not in self.text:
                continue
            try:
                self.text[key].format(**{n: _Any() for n in names})
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"text.{key}: {self.text[key]!r} uses {exc} — it may use only "
                                 + ", ".join("{" + n + "}" for n in names))
        return self

    def t(self, key: str) -> str:
        """A label from `text:`; the key itself when a trainer removed it, so a chart never fails on wording."""
        return self.text.get(key, key)

    def say(self, key: str, **values: object) -> str:
        """A `text:` template filled with values (names checked on load); the key and values when it is missing."""
        template = self.text.get(key)
        if template is None:
            return key + " " + " ".join(f"{k}={v}" for k, v in values.items())
        return template.format(**values)


class _Any:
    """Stands for any value when a template is checked: accepts every format spec."""

    def __format__(self, spec: str) -> str:
        return ""


# ---------------------------------------------------------------- review.yaml

class Parts(Strict):
    kpi: float = Field(ge=0)
    competencies: float = Field(ge=0)
    apprentices: float = Field(ge=0)


class KpiComponent(Strict):
    label: str = Field(min_length=1)
    column: str = Field(min_length=1)
    better: Literal["higher", "lower"]
    target: float = Field(gt=0)
    points: float = Field(gt=0)
    # A share (conversion, positive reviews, complaints): read as a fraction, "32.81%" → 0.3281.
    # Unset: a rate when the target is at most 1.
    rate: bool | None = None

    @property
    def is_rate(self) -> bool:
        return self.rate if self.rate is not None else self.target <= 1


class KpiRules(Strict):
    bar: float = Field(gt=0)
    cap: float = Field(ge=1)
    min_months: int = Field(ge=1, le=6)
    components: dict[str, KpiComponent] = Field(min_length=1)
    agent_column: str = "agent_id"
    month_column: str = "month"
    default_files: list[str] = Field(default_factory=lambda: ["agent_kpi.csv"])


class TableRules(Strict):
    """How exported tables are read (shifu.content.tabular): rows whose first cell is a total marker are skipped."""

    total_markers: list[str] = Field(min_length=1)


class ApprenticeRules(Strict):
    """The words a `passed_probation` cell may hold."""

    passed: list[str] = Field(min_length=1)
    failed: list[str] = Field(min_length=1)


class ReviewCompetencies(Strict):
    min_abilities: int = Field(ge=0, le=5)
    max_age_days: float = Field(gt=0)


class ReviewRules(Strict):
    parts: Parts
    kpi: KpiRules
    competencies: ReviewCompetencies
    tables: TableRules
    apprentices: ApprenticeRules


# ---------------------------------------------------------------- loading

def _validate(path: Path, model: type[BaseModel]) -> Any:
    return load_model(path, model, guide="the comments in the repository's copy")


def load_progress_rules(grader_dir: Path | None = None) -> ProgressRules:
    return _validate((grader_dir or paths.grader_dir()) / "progress.yaml", ProgressRules)


def load_review_rules(grader_dir: Path | None = None) -> ReviewRules:
    return _validate((grader_dir or paths.grader_dir()) / "review.yaml", ReviewRules)


@dataclass(frozen=True)
class Tag:
    """What a grade id's `__<tag>` means: which of the five abilities, and which sub-skill if any."""

    competency: str
    skill: str  # the sub-skill id, or the competency id itself


@dataclass
class Taxonomy:
    """Competencies, sub-skills, levels, and rubric criteria → competency: everything a tag can mean."""

    competencies: list[CompetencyDef]
    levels: list[Level]
    criteria: dict[str, str] = field(default_factory=dict)  # criterion id → competency or sub-skill id (first rubric)
    rubric_criteria: dict[str, dict[str, str]] = field(default_factory=dict)  # rubric id → criterion → target
    scenario_rubrics: dict[str, str] = field(default_factory=dict)  # scenario id → rubric id
    ambiguous: set[str] = field(default_factory=set)  # criteria that rubrics map to different competencies
    criterion_labels: dict[str, str] = field(default_factory=dict)  # criterion id → its label (first rubric that has one)
    notes: list[str] = field(default_factory=list)

    @property
    def ability_ids(self) -> list[str]:
        return [c.id for c in self.competencies]

    @property
    def sub_skills(self) -> dict[str, str]:
        """sub-skill id → the ability it belongs to."""
        return {s.id: c.id for c in self.competencies for s in c.sub_skills}

    def label(self, skill: str) -> str:
        for c in self.competencies:
            if c.id == skill:
                return c.label
            for s in c.sub_skills:
                if s.id == skill:
                    return s.label
        return self.criterion_labels.get(skill, skill)

    def resolve(self, tag: str, rubric: str | None = None) -> Tag | None:
        """The meaning of a tag: a competency id, a sub-skill id, or a rubric criterion id.

        A criterion means what the given rubric says (rubrics may map one criterion differently);
        without a rubric, what the first rubric that names it says.
        """
        subs = self.sub_skills
        if tag in self.ability_ids:
            return Tag(tag, tag)
        if tag in subs:
            return Tag(subs[tag], tag)
        target = self.rubric_criteria.get(rubric or "", {}).get(tag) or self.criteria.get(tag)
        if target is None:
            return None
        return Tag(subs.get(target, target), target)

    def level_for(self, score: float | None) -> Level:
        """The highest level whose min_score the score reaches; the insufficient level for None."""
        insufficient = next(lv for lv in self.levels if lv.min_score is None)
        if score is None or score != score:  # None or NaN
            return insufficient
        ranked = sorted((lv for lv in self.levels if lv.min_score is not None), key=lambda lv: lv.min_score or 0)
        chosen = ranked[0]
        for lv in ranked:
            if score >= (lv.min_score or 0):
                chosen = lv
        return chosen


def load_taxonomy(grader_dir: Path | None = None) -> Taxonomy:
    root = grader_dir or paths.grader_dir()
    comp = _validate(root / "competencies.yaml", CompetenciesFile)
    tax = Taxonomy(competencies=list(comp.competencies), levels=list(comp.levels))
    known = set(tax.ability_ids) | set(tax.sub_skills)
    rubric_dir = root / "rubrics"
    for path in sorted(rubric_dir.glob("*.yaml")) if rubric_dir.is_dir() else []:
        _read_rubric_criteria(path, known, tax)
    tax.scenario_rubrics = _scenario_rubrics(root.parent / "scenarios")
    return tax


def _scenario_rubrics(folder: Path) -> dict[str, str]:
    """scenario id → rubric id, read leniently: validating scenarios is `shifu scenarios validate`'s job."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: scenario files are long
    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("rubric"), str):
            out[str(data.get("id") or path.stem)] = data["rubric"]
    return out


def _read_rubric_criteria(path: Path, known: set[str], tax: Taxonomy) -> None:
    """Collect `criteria: [{id, competency, …}]` from one rubric; other keys belong to the rubric's owner."""
    shown = display_path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ShifuError([Problem(shown, "(top level)", "must be a mapping with a `criteria:` list",
                                  "write `criteria:` followed by entries with `id` and `competency`", 1)])
    rubric_id = str(data.get("id") or path.stem)
    raw = data.get("criteria")
    if raw is None:
        tax.notes.append(f"{shown}: no `criteria:` yet — its criterion tags are reported as unmapped")
        return
    if isinstance(raw, dict):  # `criteria: {timeliness: {competency: …}}` is read the same way
        raw = [{"id": k, **(v if isinstance(v, dict) else {"competency": v})} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise ShifuError([Problem(shown, "criteria", "must be a list", "write one `- id: …` entry per criterion",
                                  line_for(lines, ("criteria",)))])
    problems: list[Problem] = []
    for i, item in enumerate(raw):
        loc = ("criteria", i)
        if not isinstance(item, dict):
            problems.append(Problem(shown, dotted(loc), "must be a mapping with `id` and `competency`",
                                    "write `- id: de_escalation` and `competency: communication`", line_for(lines, loc)))
            continue
        cid, comp = item.get("id"), item.get("competency")
        if not isinstance(cid, str) or not cid:
            problems.append(Problem(shown, dotted(loc + ("id",)), "is missing or not text", "give the criterion id, e.g. `id: de_escalation`", line_for(lines, loc)))
            continue
        if not isinstance(comp, str) or comp not in known:
            problems.append(Problem(shown, dotted(loc + ("competency",)),
                                    f"{comp!r} is not a competency or sub-skill in competencies.yaml",
                                    f"use one of: {', '.join(sorted(known))}", line_for(lines, loc + ("competency",))))
            continue
        tax.rubric_criteria.setdefault(rubric_id, {})[cid] = comp
        if isinstance(item.get("label"), str) and item["label"]:
            tax.criterion_labels.setdefault(cid, item["label"])
        previous = tax.criteria.setdefault(cid, comp)
        if previous != comp:
            tax.ambiguous.add(cid)
    if problems:
        raise ShifuError(problems)
