"""Everything a course notebook calls, in one place: `from shifu.notebook import …`.

This is the public, stable surface for notebook cells; it holds no logic of its own, only names
from the modules that do the work:

| name | what a cell uses it for | home |
|---|---|---|
| `reply_points`, `transcript_points` | hidden test cells: formative points while validating (nothing while autograding) | `shifu.course.nbgrader_helpers` |
| `start_roleplay`, `roleplay_transcript` | open the chat; the transcript a test cell reads | `shifu.course.notebook` |
| `practice_feedback`, `practice_feedback_roleplay` | 练习反馈 cells of practice modules | `shifu.course.notebook` |
| `check_before_submit` | the 提交前检查 cell | `shifu.course.notebook` |
| `load_ipython_extension` | `%load_ext shifu.notebook` registers `%%reply` | `shifu.course.notebook` |
| `lab_data`, `pain_point_keywords` | load a lab's data set, the complaint keywords | `shifu.labs.datagen` |
| `setup_cjk_font` | Chinese chart labels in matplotlib | `shifu.labs.fonts` |
| `labcheck`, `Parts`, `same_number`, `same_set`, `same_frame`, `same_mapping`, `as_table`, `drop_totals` | lab answer checks | `shifu.labs.labcheck` |

`%load_ext shifu.notebook` registers the `%%reply` cell magic (as `%load_ext shifu.course.notebook`
did). Every name is imported from its home on first use, so a cell pays only for what it uses (a
hidden test's `reply_points` does not load pandas). Notebooks released before this module existed import the homes above directly; those
paths keep working (alias modules where a home moved), so old submissions still grade.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names below resolve to, for type checkers and editors
    from shifu.labs import labcheck
    from shifu.course.notebook import (
        check_before_submit,
        load_ipython_extension,
        practice_feedback,
        practice_feedback_roleplay,
        roleplay_transcript,
        start_roleplay,
    )
    from shifu.labs.datagen import lab_data, pain_point_keywords
    from shifu.labs.fonts import setup_cjk_font
    from shifu.labs.labcheck import Parts, as_table, drop_totals, same_frame, same_mapping, same_number, same_set
    from shifu.course.nbgrader_helpers import reply_points, transcript_points

# name -> (module, attribute or None for the module itself). Each is imported when a cell first asks for
# it, so a hidden test cell that needs only reply_points does not pay for pandas, matplotlib or pydantic.
_HOMES: dict[str, tuple[str, str | None]] = {
    **{name: ("shifu.course.nbgrader_helpers", name) for name in ("reply_points", "transcript_points")},
    **{name: ("shifu.course.notebook", name) for name in
       ("check_before_submit", "load_ipython_extension", "practice_feedback", "practice_feedback_roleplay",
        "roleplay_transcript", "start_roleplay")},
    "labcheck": ("shifu.labs.labcheck", None),
    **{name: ("shifu.labs.labcheck", name) for name in
       ("Parts", "as_table", "drop_totals", "same_frame", "same_mapping", "same_number", "same_set")},
    **{name: ("shifu.labs.datagen", name) for name in ("lab_data", "pain_point_keywords")},
    "setup_cjk_font": ("shifu.labs.fonts", "setup_cjk_font"),
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its home on first use; AttributeError for anything else."""
    if name not in _HOMES:
        raise AttributeError(f"module 'shifu.notebook' has no attribute {name!r}")
    module_name, attr = _HOMES[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = sorted(_HOMES)
