"""Text from trainees made safe to print in a mentor's terminal.

Replies, transcript fields and file names are the trainee's: an ESC sequence in them could clear the
screen, retitle the terminal, recolour or hide lines, and a bidi override could reorder what is
shown. `visible` writes such characters out as `\\x1b`-style escapes, so they are seen, not obeyed.
"""
from __future__ import annotations

import unicodedata

# bidirectional overrides and isolates: they reorder what a terminal shows ("Trojan Source")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(text: str) -> str:
    """`text` with control characters (other than newline and tab) and bidi overrides written as escapes."""
    def one(c: str) -> str:
        if c in "\n\t":
            return c
        if unicodedata.category(c) == "Cc" or c in _BIDI:
            return c.encode("unicode_escape").decode("ascii")
        return c

    return "".join(one(c) for c in text)
