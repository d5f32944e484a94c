"""The difficult-buyer scenario: schema, loading and validation.

A scenario is one YAML file in scenarios/. The pydantic model below is the contract between the
content a trainer writes and everything that reads it (engine, backends, rubric, course).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.reading.vocab import BuyerState, Channel, Competency, Escalation, Family, Signal
from shifu.content.yamlio import Strict, line_for, load_model, load_yaml

NonEmpty = Annotated[str, Field(min_length=1)]
_SLUG = r"^[a-z0-9][a-z0-9_-]*$"
Slug = Annotated[str, Field(pattern=_SLUG)]


class Trigger(Strict):
    """A signal this buyer is especially sensitive to, and why (for the trainee's debrief)."""

    signal: Signal
    note: NonEmpty


class Persona(Strict):
    name: NonEmpty
    temperament: NonEmpty
    escalates_on: list[Trigger] = Field(min_length=1)
    calms_on: list[Trigger] = Field(min_length=1)
    patience: int = Field(ge=1, le=20, strict=True, description="bad turns the buyer tolerates before escalating")
    starting_mood: int = Field(default=30, ge=0, le=100, strict=True, description="0 furious … 100 delighted")
    escalation: Escalation = Escalation.platform_complaint


class Policy(Strict):
    """A policy fact the trainee can see, with cues that recognise right and wrong statements of it."""

    id: Slug
    text: NonEmpty
    correct_cues: list[NonEmpty] = Field(default_factory=list)
    wrong_cues: list[NonEmpty] = Field(default_factory=list)


class Limits(Strict):
    """What the agent may give in this scenario, so the reader can compare amounts as numbers (issue 14)."""

    max_compensation_yuan: float | None = Field(default=None, ge=0, description="largest compensation an agent may offer (yuan); None: no limit known")
    return_waiver_allowed: bool = Field(default=False, description="may the agent refund or replace without the goods coming back")


class OrderContext(Strict):
    shop: NonEmpty
    product: NonEmpty
    order_id: NonEmpty
    amount_yuan: float = Field(ge=0, strict=True)
    order_status: NonEmpty
    logistics: str = ""
    placed: str = ""
    notes: list[NonEmpty] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)


class HiddenFact(Strict):
    """Something the buyer knows but says only when the trainee asks the right kind of question."""

    id: Slug
    fact: NonEmpty
    uncovered_by: NonEmpty = Field(description="the kind of question that uncovers it: an id in grader/question_kinds.yaml")
    cues: list[NonEmpty] = Field(default_factory=list, description="extra words that, in a question, target this fact")
    reveal: list[NonEmpty] = Field(min_length=1, description="buyer lines that reveal the fact")
    volunteers_at_mood: int | None = Field(
        default=None, ge=0, le=100, strict=True,
        description="the buyer tells it unasked after a helpful turn that brings her mood to this; none: only when asked")


class Resolution(Strict):
    id: Slug
    description: NonEmpty
    cues: list[NonEmpty] = Field(min_length=1, description="words that show a reply offers this resolution")


class ForbiddenResolution(Resolution):
    kind: str = Field(pattern="^(over_promise|breach)$")
    why: NonEmpty


class LineCondition(Strict):
    """What must have happened in the conversation for a buyer line to make sense.

    Every key given must hold; a list holds when any one of its items does. "The agent" is the
    trainee: everything counts from the first reply up to and including the one being answered.
    """

    offered: list[Slug] = Field(default_factory=list, description="the agent has offered one of these (accepts / never_offer ids)")
    asked: list[Slug] = Field(default_factory=list, description="the agent has asked for one of these hidden facts (ids)")
    said: list[NonEmpty] = Field(default_factory=list, description="the agent has written one of these words (a department, a figure)")
    mentioned: list[NonEmpty] = Field(default_factory=list, description="anyone (the agent or the buyer's earlier lines) has written one of these words")
    revealed: list[Slug] = Field(default_factory=list, description="the buyer has already told one of these hidden facts (ids)")
    question: bool | None = Field(default=None, description="the reply being answered asks the buyer something (true) or not (false)")
    signals: list[Signal] = Field(default_factory=list, description="the reply being answered shows one of these signals")

    @model_validator(mode="after")
    def _not_empty(self) -> "LineCondition":
        if not (self.offered or self.asked or self.said or self.mentioned or self.revealed or self.signals
                or self.question is not None):
            raise ValueError("a condition needs at least one of offered, asked, said, mentioned, revealed, question, signals")
        return self


class BuyerLine(Strict):
    """One buyer line, optionally said only when `when` holds and never when `unless` holds.

    In YAML a line is either plain text or `{text: ..., when: {...}, unless: {...}, asks: <demand id>}`.
    """

    text: NonEmpty
    when: LineCondition | None = None
    unless: LineCondition | None = None
    asks: Slug | None = Field(default=None, description=(
        "the line asks for what the engine's demand with this id waits for (grader/engine.yaml `demands`): "
        "said only while she waits for it, and preferred then"))

    @property
    def conditional(self) -> bool:
        return self.when is not None or self.unless is not None or self.asks is not None


def _as_line(v: object) -> object:
    return {"text": v} if isinstance(v, str) else v


StateLines = Annotated[list[BuyerLine], Field(min_length=3)]


class Lines(Strict):
    opening: list[NonEmpty] = Field(min_length=1)
    angry: StateLines
    calming: StateLines
    probing: StateLines
    accepting: StateLines
    escalating: StateLines
    leaving: StateLines
    # optional: said when the agent asks something the buyer has no hidden fact for (else grader/buyer_lines.yaml)
    acknowledging: list[BuyerLine] = Field(default_factory=list)

    @field_validator("angry", "calming", "probing", "accepting", "escalating", "leaving", "acknowledging", mode="before")
    @classmethod
    def _plain_text_is_a_line(cls, v: object) -> object:
        return [_as_line(x) for x in v] if isinstance(v, list) else v

    def options(self, state: BuyerState) -> list[BuyerLine]:
        """The lines written for a state, with their conditions."""
        return list(getattr(self, state.value))

    def for_state(self, state: BuyerState) -> list[str]:
        """The texts written for a state (examples of its tone, conditions ignored)."""
        return [line.text for line in getattr(self, state.value)]


class Source(Strict):
    seed: str = Field(pattern=r"^00[0-4]$")
    fact: NonEmpty


class Scenario(Strict):
    id: Slug
    title: NonEmpty
    family: Family
    channel: Channel
    difficulty: int = Field(ge=1, le=5, strict=True)
    competencies: list[Competency] = Field(min_length=1)
    rubric: Slug
    summary: NonEmpty
    persona: Persona
    context: OrderContext
    hidden_facts: list[HiddenFact] = Field(default_factory=list)
    goal: NonEmpty
    accepts: list[Resolution] = Field(min_length=1)
    never_offer: list[ForbiddenResolution] = Field(default_factory=list)
    lines: Lines
    sources: list[Source] = Field(min_length=1)
    rubric_overrides: dict[str, Annotated[float, Field(ge=0, le=5)]] = Field(
        default_factory=dict, description="criterion id -> weight on its points (0 disables it; ids from the rubric)")

    @field_validator("title")
    @classmethod
    def _title_is_chinese(cls, v: str) -> str:
        if not re.search(r"[\u4e00-\u9fff]", v):
            raise ValueError("the title must be in Chinese")
        return v

    @model_validator(mode="after")
    def _ids_unique(self) -> "Scenario":
        for name, items in (("hidden_facts", self.hidden_facts), ("accepts", self.accepts), ("never_offer", self.never_offer)):
            ids = [i.id for i in items]
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"{name}: id {sorted(dup)[0]!r} is used twice")
        return self

    def hidden_fact(self, fact_id: str) -> HiddenFact:
        for f in self.hidden_facts:
            if f.id == fact_id:
                return f
        raise KeyError(fact_id)


def parse_scenario(path: Path) -> Scenario:
    """Load and validate one scenario file on its own (no cross-file checks)."""
    return load_model(path, Scenario, guide="scenarios/README.md", first_key="id")


def scenario_files(directory: Path | None = None) -> list[Path]:
    d = directory or paths.scenarios_dir()
    return sorted(p for p in d.glob("*.yaml") if not p.name.startswith("_"))


def scenario_files_in(given: list[Path] | None = None) -> list[Path]:
    """The scenario files named: a file as it is, a folder's *.yaml (not _*.yaml); default all of scenarios/.

    Raises ShifuError naming the first path that does not exist or a folder without scenario files.
    """
    if not given:
        return scenario_files()
    files: list[Path] = []
    for p in given:
        if p.is_dir():
            found = scenario_files(p)
            if not found:
                raise ShifuError([Problem(str(p), "(folder)", "has no scenario files", "name the folder that holds the *.yaml files")])
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise ShifuError([Problem(str(p), "(file)", "does not exist", "check the path")])
    return files


def _cross_checks(path: Path, sc: Scenario, rubric_ids: dict[str, list[str]], question_kinds: set[str], lines: dict,
                  broken_rubrics: frozenset[str] = frozenset(), demand_ids: tuple[str, ...] = ()) -> list[Problem]:
    shown = display_path(path)
    out: list[Problem] = []
    if sc.rubric in broken_rubrics:
        out.append(Problem(shown, "rubric", f"rubric {sc.rubric!r} has problems (listed with grader/rubrics/{sc.rubric}.yaml)",
                           f"fix grader/rubrics/{sc.rubric}.yaml", line_for(lines, ("rubric",))))
    elif sc.rubric not in rubric_ids:
        known = ", ".join(sorted(rubric_ids)) or "none"
        out.append(Problem(shown, "rubric", f"rubric {sc.rubric!r} does not exist in grader/rubrics/",
                           f"use one of: {known}", line_for(lines, ("rubric",))))
    else:
        criteria = rubric_ids[sc.rubric]
        for key in sc.rubric_overrides:
            if key not in criteria:
                out.append(Problem(shown, f"rubric_overrides.{key}", f"rubric {sc.rubric!r} has no criterion {key!r}",
                                   f"use one of: {', '.join(criteria)}", line_for(lines, ("rubric_overrides", key))))
    for i, fact in enumerate(sc.hidden_facts):
        if fact.uncovered_by not in question_kinds and not fact.cues:
            out.append(Problem(
                shown, f"hidden_facts[{i}].uncovered_by",
                f"hidden fact {fact.id!r} has no way to be uncovered: question kind {fact.uncovered_by!r} is unknown and it has no cues",
                f"use a question kind from grader/question_kinds.yaml ({', '.join(sorted(question_kinds))}) or add cues",
                line_for(lines, ("hidden_facts", i, "uncovered_by"))))
        elif fact.uncovered_by not in question_kinds:
            out.append(Problem(
                shown, f"hidden_facts[{i}].uncovered_by",
                f"question kind {fact.uncovered_by!r} is unknown",
                f"use one of: {', '.join(sorted(question_kinds))}",
                line_for(lines, ("hidden_facts", i, "uncovered_by"))))
    out.extend(_line_checks(shown, sc, lines, demand_ids))
    if sc.id != path.stem:
        out.append(Problem(shown, "id", f"id {sc.id!r} does not match the file name {path.stem!r}",
                           f"rename the file to {sc.id}.yaml or change the id", line_for(lines, ("id",))))
    return out


def _line_checks(shown: str, sc: Scenario, lines: dict, demand_ids: tuple[str, ...] = ()) -> list[Problem]:
    """Buyer-line conditions name ids that exist, `asks` names a demand in grader/engine.yaml, and every
    state keeps a line it can always say."""
    out: list[Problem] = []
    offers = [r.id for r in (*sc.accepts, *sc.never_offer)]
    facts = [f.id for f in sc.hidden_facts]
    known = {"offered": (offers, "accepts / never_offer"), "asked": (facts, "hidden_facts"), "revealed": (facts, "hidden_facts")}
    for state in (*BuyerState, "acknowledging"):
        name = state.value if isinstance(state, BuyerState) else state
        items = getattr(sc.lines, name)
        if isinstance(state, BuyerState) and all(line.conditional for line in items):
            out.append(Problem(shown, f"lines.{name}", "every line has a condition, so the buyer may have nothing to say",
                               "keep at least one line without `when`/`unless`", line_for(lines, ("lines", name))))
        for i, line in enumerate(items):
            if line.asks is not None and line.asks not in demand_ids:
                out.append(Problem(
                    shown, f"lines.{name}[{i}].asks", f"{line.asks!r} is not a demand id in grader/engine.yaml `demands`",
                    f"use one of: {', '.join(demand_ids) or 'none (add a demand to grader/engine.yaml first)'}",
                    line_for(lines, ("lines", name, i, "asks"))))
            for part in ("when", "unless"):
                cond = getattr(line, part)
                if cond is None:
                    continue
                for key, (ids, where) in known.items():
                    for j, value in enumerate(getattr(cond, key)):
                        if value not in ids:
                            out.append(Problem(
                                shown, f"lines.{name}[{i}].{part}.{key}[{j}]", f"{value!r} is not an id in {where}",
                                f"use one of: {', '.join(ids) or 'none (add one first)'}",
                                line_for(lines, ("lines", name, i, part, key, j))))
    return out


def validate_files(files: list[Path]) -> tuple[list[Scenario], list[Problem]]:
    """Validate scenario files one by one and across each other; collect every problem, never stop at the first."""
    from shifu.content.catalog import question_kind_ids, rubric_criteria

    try:
        rubrics, rubric_problems = rubric_criteria()
        kinds = question_kind_ids()
    except ShifuError as exc:
        return [], list(exc.problems)
    broken = frozenset(Path(p.file).stem for p in rubric_problems)
    good: list[Scenario] = []
    used = _rubrics_named(files) if rubric_problems else set()
    problems: list[Problem] = [p for p in rubric_problems if Path(p.file).stem in used]
    seen: dict[str, Path] = {}
    for path in files:
        try:
            sc = parse_scenario(path)
        except ShifuError as exc:
            problems.extend(exc.problems)
            continue
        _, lines = load_yaml(path)
        try:
            file_problems = _cross_checks(path, sc, rubrics, kinds, lines, broken, _demand_ids(sc))
        except ShifuError as exc:  # grader/engine.yaml itself is broken or missing
            problems.extend(p for p in exc.problems if p not in problems)
            continue
        if sc.id in seen:
            file_problems.append(Problem(display_path(path), "id", f"duplicate id {sc.id!r}, also used by {display_path(seen[sc.id])}",
                                        "give each scenario its own id", line_for(lines, ("id",))))
        else:
            seen[sc.id] = path
        problems.extend(file_problems)
        if not file_problems:
            good.append(sc)
    return good, problems


def _demand_ids(sc: Scenario) -> tuple[str, ...]:
    """The demand ids of grader/engine.yaml, read only when a line of `sc` names one (`asks`).

    Raises ShifuError when grader/engine.yaml cannot be read."""
    if not any(line.asks for state in (*BuyerState, "acknowledging")
               for line in getattr(sc.lines, state.value if isinstance(state, BuyerState) else state)):
        return ()
    from shifu.roleplay.engine_rules import load_rules  # here: engine_rules reads this module's models

    return tuple(d.id for d in load_rules().demands)


def _rubrics_named(files: list[Path]) -> set[str]:
    """The rubric ids these scenario files name (a broken rubric is reported once, when a scenario uses it)."""
    out: set[str] = set()
    for path in files:
        try:
            data, _ = load_yaml(path)
        except ShifuError:
            continue
        if isinstance(data, dict) and isinstance(data.get("rubric"), str):
            out.add(data["rubric"])
    return out


def load_all(directory: Path | None = None) -> list[Scenario]:
    """Every scenario in the library, validated; raise ShifuError listing every problem."""
    scenarios, problems = validate_files(scenario_files(directory))
    if problems:
        raise ShifuError(problems)
    return scenarios


def is_course_scenario(ref: str) -> bool:
    """`ref` is the id of one of the course's scenarios (scenarios/<id>.yaml), not a path to some YAML file."""
    return bool(re.match(_SLUG, ref or "")) and (paths.scenarios_dir() / f"{ref}.yaml").is_file()


def load_scenario(ref: str) -> Scenario:
    """A scenario by id, or by path to a YAML file."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") and p.exists():
        scs, problems = validate_files([p])
        if problems:
            raise ShifuError(problems)
        return scs[0]
    candidate = paths.scenarios_dir() / f"{ref}.yaml"
    if not candidate.exists():
        known = ", ".join(f.stem for f in scenario_files()) or "none"
        raise ShifuError(f"unknown scenario {ref!r} — fix: use one of: {known}")
    scs, problems = validate_files([candidate])
    if problems:
        raise ShifuError(problems)
    return scs[0]
