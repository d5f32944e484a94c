"""Check everything grading reads from the project's content before any grade is written.

A mentor's typo (one `points:` line deleted from a rubric) used to make every trainee "graded 0.0"
with exit 0, the cause visible only inside each trainee's feedback (issue 16). Here the rubrics,
the scenarios (which name rubrics and question kinds), the engine rules, the feedback text and the grader's own wording (grader/grading.yaml) are
loaded with their own validating loaders first; any problem stops `shifu grade` with file:line:
field — fix lines and a non-zero exit, before the gradebook is touched.
"""
from __future__ import annotations

from typing import Callable

from shifu.content.errors import Problem, ShifuError


def _rubrics() -> list[Problem]:
    from shifu.reading.rubric_schema import rubric_catalog

    return rubric_catalog()[1]


def _scenarios() -> list[Problem]:
    from shifu.roleplay.scenario import scenario_files, validate_files

    return validate_files(scenario_files())[1]


def _engine_rules() -> list[Problem]:
    from shifu.roleplay.engine_rules import load_rules

    load_rules()
    return []


def _feedback_text() -> list[Problem]:
    from shifu.reading.feedback_text import feedback_text

    feedback_text()
    return []


def _grading_text() -> list[Problem]:
    from shifu.grading.wording import grading_text

    grading_text()
    return []


CHECKS: list[Callable[[], list[Problem]]] = [_rubrics, _scenarios, _engine_rules, _feedback_text, _grading_text]


def check_content() -> None:
    """Every problem in the grading content; ShifuError listing them all (deduplicated) when there is one."""
    problems: list[Problem] = []
    for check in CHECKS:
        try:
            problems += check()
        except ShifuError as exc:
            problems += exc.problems
    unique = list(dict.fromkeys(problems))
    if unique:
        raise ShifuError(unique + [Problem("", "", "nothing was graded: the content above is used to score every "
                                           "trainee", "correct it and run `shifu grade` again")])
