"""A written answer as plain text: the `%%reply NAME` cell form, read the same way by the notebook and the grader.

An answer cell that starts with the line `%%reply q1_reply` holds the reply itself below that line,
with no quotes and no code, so nothing a trainee types can be a syntax error:

    %%reply q1_reply
    # 直接在下面写你的回复……          ← lines starting with # are hints, not part of the reply
    亲,您好!……                       ← the reply, as many lines as needed

The notebook's cell magic (shifu.course.notebook, `%load_ext shifu.course.notebook`) stores the
text in the variable NAME, so the notebook's own checks see it; the grader reads the same text from
the cell's source (shifu.grading.rescore) and never runs the cell. nbgrader's release replaces the
reference reply by the course's code stub (course/nbgrader_config.py: a `#` line and
`raise NotImplementedError()`); that stub line is not part of a reply either.
"""
from __future__ import annotations

import re

MAGIC = "reply"
_HEAD = re.compile(rf"^%%{MAGIC}[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*$")
# nbgrader's code stub line for a cleared solution (ClearSolutions.code_stub): left in a released cell, never a reply
STUB_LINES = frozenset({"raise NotImplementedError()", "raise NotImplementedError"})


def magic_form(source: str) -> tuple[str, str] | None:
    """(variable, body) when the cell's first non-blank line is `%%reply NAME`; else None (an old-style cell)."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        m = _HEAD.match(line.strip())
        return (m.group(1), "\n".join(lines[i + 1:])) if m else None
    return None


def reply_text(body: str) -> str:
    """The reply a `%%reply` body holds: hint lines (starting with #) and nbgrader's stub line dropped, ends trimmed."""
    kept = [line for line in body.splitlines()
            if not line.lstrip().startswith("#") and line.strip() not in STUB_LINES]
    return "\n".join(kept).strip()


def cell_source(variable: str, hint: str, reply: str) -> str:
    """An answer cell in the `%%reply` form (hint: one or more # lines)."""
    return f"%%{MAGIC} {variable}\n{hint}\n{reply}"
