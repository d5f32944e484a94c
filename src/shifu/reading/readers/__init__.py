"""Readers: one interface, several ways to read a reply into Signals.

A reader is any callable `(reply: str, ctx: ReplyContext) -> Signals`. The rules reader
(shifu.reading.signals.read_reply) is the offline default; the LLM reader (shifu.reading.readers.llm) classifies the
same Signals with a model and falls back to the rules on any failure. The engine and the rubric take
a reader and never know which one spoke.

Which reader `active()` returns: SHIFU_READER=rules|llm (default rules); `llm` needs an LLM endpoint
(shifu.llm.config).
"""
from __future__ import annotations

import os
from typing import Callable

from shifu.content.errors import ShifuError
from shifu.reading.signals import ReplyContext, Signals, read_reply

Reader = Callable[[str, ReplyContext], Signals]
NAMES = ("rules", "llm")


def reader_named(name: str) -> Reader:
    """The reader called `name` ("rules" or "llm"); ShifuError for another name or a missing LLM setting."""
    if name == "rules":
        return read_reply
    if name == "llm":
        from shifu.llm.config import load_llm_config
        from shifu.reading.readers.llm import LLMReader

        return LLMReader(load_llm_config())
    raise ShifuError(f"unknown reader {name!r} — fix: use one of {', '.join(NAMES)}")


_active: dict[str, Reader] = {}


def active() -> Reader:
    """The reader chosen by SHIFU_READER (default: rules); built once per process."""
    name = (os.environ.get("SHIFU_READER") or "rules").strip().lower()
    if name not in _active:
        _active[name] = reader_named(name)
    return _active[name]
