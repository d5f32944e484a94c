"""The authoring format of a course module (course/authoring/<assignment>.yaml) and its loader.

A module file holds what a trainer writes once — objectives, reading, exercises with their
reference replies, the role-play and the mentor review — and `shifu course author` turns it into
the nbgrader source notebook that trainers then keep editing in JupyterLab.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from shifu.content.errors import Problem, ShifuError, display_path
from shifu.reading.vocab import Competency
from shifu.content.yamlio import Strict, cached_by_file, line_for, load_model, load_yaml
from shifu.course import layout

CRITERIA = ("timeliness", "de_escalation", "need_tracing", "consensus_solution",
            "policy_accuracy", "compliance", "conversion", "closing_loop")

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1)]
Points = Annotated[float, Field(gt=0, le=20)]


def _known_criteria(criteria: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(criteria) - set(CRITERIA))
    if unknown:
        raise ValueError(f"unknown criterion {unknown[0]!r}; use one of: {', '.join(CRITERIA)}")
    return criteria


class QuizItem(Strict):
    """A short knowledge check graded by a Python expression."""

    id: Slug
    competency: Competency
    question: Text
    variable: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]
    solution: Text = Field(description="Python expression assigned to the variable in the reference answer")
    check: Text = Field(description="Python expression that is true for a right answer")
    points: Points = 1


class Exercise(Strict):
    """One buyer message; the trainee writes one reply, scored per rubric criterion."""

    id: Slug
    scenario: Text
    buyer: str = Field(default="", description="the buyer's message; empty: the scenario's first opening line")
    task: Text
    criteria: dict[str, Points] = Field(min_length=1)
    solution: Text

    _criteria = field_validator("criteria")(classmethod(lambda cls, v: _known_criteria(v)))


class ScriptTurn(Strict):
    reply: Text
    latency_s: float = Field(default=15, ge=0, le=600)


class Roleplay(Strict):
    """A whole conversation in the chat widget; its saved transcript is graded."""

    n: int = Field(ge=0, le=9)
    scenario: Text
    task: Text
    criteria: dict[str, Points] = Field(default_factory=dict, description="empty: a practice run, not graded")
    script: list[ScriptTurn] = Field(min_length=1, description="reference conversation that makes the reference transcript")

    _criteria = field_validator("criteria")(classmethod(lambda cls, v: _known_criteria(v)))


class Review(Strict):
    competency: Competency
    points: Points
    task: Text


class ModuleSpec(Strict):
    assignment: Slug
    notebook: Slug | None = None
    # practice: the notebook offers 证据/建议 on demand for each reply and the finished role-play;
    # exam: it never does (the trainee sees points and reasons only in the feedback after grading)
    mode: Literal["practice", "exam"] = "practice"
    title: Text
    competencies: list[Competency] = Field(min_length=1)
    objectives: list[Text] = Field(min_length=1)
    reading: Text
    quiz: list[QuizItem] = Field(default_factory=list)
    exercises: list[Exercise] = Field(default_factory=list)
    roleplays: list[Roleplay] = Field(default_factory=list)
    review: Review | None = None

    @model_validator(mode="after")
    def _ids_unique(self) -> "ModuleSpec":
        ids = [q.id for q in self.quiz] + [e.id for e in self.exercises] + [f"roleplay_{r.n}" for r in self.roleplays]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"id {dup[0]!r} is used twice")
        return self

    @property
    def notebook_name(self) -> str:
        return self.notebook or self.assignment


def load_module(path: Path) -> ModuleSpec:
    spec = load_model(path, ModuleSpec, guide="course/authoring/README.md", first_key="assignment")
    if spec.assignment != path.stem:
        _, lines = load_yaml(path)
        raise ShifuError([Problem(display_path(path), "assignment", f"{spec.assignment!r} does not match the file name {path.stem!r}",
                                  f"rename the file to {spec.assignment}.yaml", line_for(lines, ("assignment",)))])
    return spec


def module_files(course: Path | None = None) -> list[Path]:
    d = layout.authoring_dir(course)
    return sorted(p for p in d.glob("*.yaml") if p.name != "course.yaml")


def _course_text(path: Path) -> dict[str, Any]:
    data, _ = load_yaml(path)
    if not isinstance(data, dict):
        raise ShifuError([Problem(display_path(path), "(top level)", "must be a mapping", "restore it from the repository", 1)])
    return data


def course_text(course: Path | None = None) -> dict[str, Any]:
    """The shared wording (course/authoring/course.yaml)."""
    path = layout.authoring_dir(course) / "course.yaml"
    if not path.exists():
        raise ShifuError([Problem(display_path(path), "(file)", "is missing", "restore it from the repository")])
    return cached_by_file(path, _course_text)
