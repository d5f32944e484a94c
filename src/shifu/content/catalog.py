"""Readers for the trainer-edited YAML in grader/ that several layers share."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.content.yamlio import Strict, cached_by_file, dotted, line_for, load_yaml


class QuestionKind(Strict):
    """A kind of question that can uncover a hidden fact, with the words that mark it."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    cues: list[str] = Field(min_length=1)


def _load_list(path: Path, model: type[BaseModel], key: str) -> list:
    shown = display_path(path)
    if not path.exists():
        raise ShifuError([Problem(shown, "(file)", "is missing", f"restore {shown} from the repository")])
    data, lines = load_yaml(path)
    items = (data or {}).get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ShifuError([Problem(shown, key, "must be a list", f"write `{key}:` followed by a list of entries", 1)])
    out, problems = [], []
    for i, item in enumerate(items):
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                loc = (key, i, *err["loc"])
                problems.append(Problem(shown, dotted(loc), err["msg"], "correct the entry", line_for(lines, loc)))
    if problems:
        raise ShifuError(problems)
    return out


def _read_question_kinds(path: Path) -> tuple[QuestionKind, ...]:
    return tuple(_load_list(path, QuestionKind, "question_kinds"))


def question_kinds() -> tuple[QuestionKind, ...]:
    return cached_by_file(paths.grader_dir() / "question_kinds.yaml", _read_question_kinds)


def question_kind_ids() -> set[str]:
    return {k.id for k in question_kinds()}


def rubric_ids() -> set[str]:
    """Ids of the rubrics in grader/rubrics/ that load and validate; a broken one raises ShifuError naming it."""
    good, problems = rubric_criteria()
    if problems:
        raise ShifuError(problems)
    return set(good)


def rubric_criteria() -> tuple[dict[str, list[str]], list[Problem]]:
    """Criterion ids of every rubric that validates, and the problems of every rubric file that doesn't."""
    from shifu.reading.rubric_schema import rubric_catalog

    good, problems = rubric_catalog()
    return {rid: r.criterion_ids() for rid, r in good.items()}, problems
