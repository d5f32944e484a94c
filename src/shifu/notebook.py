"""Everything a course notebook calls, in one place: `from shifu.notebook import …`.

This is the public, stable surface for notebook cells; it holds no logic of its own, only names
from the modules that do the work:

| name | what a cell uses it for | home |
|---|---|---|
| `reply_points`, `transcript_points` | hidden test cells: formative points while validating (nothing while autograding) | `shifu.nbgrader_helpers` |
| `start_roleplay`, `roleplay_transcript` | open the chat; the transcript a test cell reads | `shifu.course.notebook` |
| `practice_feedback`, `practice_feedback_roleplay` | 练习反馈 cells of practice modules | `shifu.course.notebook` |
| `check_before_submit` | the 提交前检查 cell | `shifu.course.notebook` |
| `load_ipython_extension` | `%load_ext shifu.notebook` registers `%%reply` | `shifu.course.notebook` |
| `lab_data`, `pain_point_keywords` | load a lab's data set, the complaint keywords | `shifu.datagen` |
| `setup_cjk_font` | Chinese chart labels in matplotlib | `shifu.fonts` |
| `labcheck`, `Parts`, `same_number`, `same_set`, `same_frame`, `same_mapping`, `as_table`, `drop_totals` | lab answer checks | `shifu.labcheck` |

Importing this module registers `%%reply` in a running IPython kernel, as `shifu.course.notebook`
does. The lab names (pandas, matplotlib) are imported on first use, so a role-play module's cells
stay light. Notebooks released before this module existed import the homes above directly; those
paths keep working (alias modules where a home moved), so old submissions still grade.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shifu.course.notebook import (
    check_before_submit,
    load_ipython_extension,
    practice_feedback,
    practice_feedback_roleplay,
    roleplay_transcript,
    start_roleplay,
)
from shifu.nbgrader_helpers import reply_points, transcript_points

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from shifu import labcheck
    from shifu.datagen import lab_data, pain_point_keywords
    from shifu.fonts import setup_cjk_font
    from shifu.labcheck import Parts, as_table, drop_totals, same_frame, same_mapping, same_number, same_set

# name -> (module, attribute or None for the module itself); imported on first use (pandas, matplotlib)
_LAZY: dict[str, tuple[str, str | None]] = {
    "labcheck": ("shifu.labcheck", None),
    **{name: ("shifu.labcheck", name) for name in
       ("Parts", "as_table", "drop_totals", "same_frame", "same_mapping", "same_number", "same_set")},
    "lab_data": ("shifu.datagen", "lab_data"),
    "pain_point_keywords": ("shifu.datagen", "pain_point_keywords"),
    "setup_cjk_font": ("shifu.fonts", "setup_cjk_font"),
}


def __getattr__(name: str) -> Any:
    """The lab names, imported when a cell first asks for one; AttributeError for anything else."""
    if name not in _LAZY:
        raise AttributeError(f"module 'shifu.notebook' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Parts", "as_table", "check_before_submit", "drop_totals", "lab_data", "labcheck", "load_ipython_extension",
    "pain_point_keywords", "practice_feedback", "practice_feedback_roleplay", "reply_points", "roleplay_transcript",
    "same_frame", "same_mapping", "same_number", "same_set", "setup_cjk_font", "start_roleplay", "transcript_points",
]
