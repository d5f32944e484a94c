"""The word lists of grader/phrases.yaml: schema, loading and compiled matchers.

The lists are content a trainer edits; this module only checks them (a bad regex or a missing list
is reported with file, field and fix) and turns them into matchers the signals reader runs.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import paths
from .yamlio import load_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_patterns(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
    return patterns


class CueSet(_Strict):
    """Plain words (substring match) and regular expressions that mark one signal."""

    words: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return _check_patterns(v)

    @field_validator("words")
    @classmethod
    def _no_blank(cls, v: list[str]) -> list[str]:
        if any(not str(w).strip() for w in v):
            raise ValueError("a word is empty")
        return [str(w) for w in v]


class SignalCues(_Strict):
    greeting: CueSet
    self_intro: CueSet
    empathy: CueSet
    apology: CueSet
    blame_shifting: CueSet
    arguing: CueSet
    forbidden_phrase: CueSet
    time_commitment: CueSet
    consensus_check: CueSet
    privacy_breach: CueSet
    off_platform_payment: CueSet
    summary: CueSet
    follow_up: CueSet
    retention_offer: CueSet


class Negators(_Strict):
    window: int = Field(ge=1, le=40)
    near: list[str] = Field(min_length=1)
    clause: list[str] = Field(default_factory=list)


class Gaming(_Strict):
    """Thresholds that tell stuffing, padding and copying from a genuine reply."""

    min_free_share: float = Field(gt=0, le=1)
    stuffing_density: float = Field(ge=0, le=1)
    keyword_run: int = Field(ge=2)
    bare_clause_max_chars: int = Field(ge=1)
    bare_clause_coverage: float = Field(gt=0, le=1)
    stuffed_clause_kinds: int = Field(ge=2)
    stuffed_clause_coverage: float = Field(gt=0, le=1)
    copy_min_chars: int = Field(ge=2)
    copy_overlap: float = Field(gt=0, le=1)
    copy_min_share: float = Field(ge=0, le=1)
    padding_min_chars: int = Field(ge=1)
    padding_min_total: int = Field(ge=1)
    padding_min_share: float = Field(ge=0, le=1)
    stuffing_min_chars: int = Field(ge=1)
    repeat_reply_factor: float = Field(ge=0, le=1)
    min_function_word_share: float = Field(ge=0, le=1)
    function_word_min_tokens: int = Field(ge=1)


class PhraseBook(_Strict):
    signals: SignalCues
    question_markers: CueSet
    injection: CueSet
    negators: Negators
    service_words: list[str] = Field(min_length=1)
    stuffing_words: list[str] = Field(default_factory=list)
    english_function_words: list[str] = Field(default_factory=list)
    fillers: str
    gaming: Gaming


@lru_cache(maxsize=1 << 16)
def norm_char(c: str) -> str:
    """One character, normalised the same way for cues and replies (full-width → half-width, lower case)."""
    n = unicodedata.normalize("NFKC", c).lower()
    return n if len(n) == 1 else c.lower()


def normalize(text: str) -> str:
    """Same length as `text`, so positions found in the normal form quote the original."""
    return "".join(norm_char(c) for c in text)


_END = ""


def _trie_regex(words: list[str]) -> str:
    """One regex for many words, factored by common prefix: far faster than a flat alternation on long replies."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[_END] = True

    def build(node: dict) -> str:
        ends = _END in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch != _END]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return "(?:" + body + ")?"
        return body

    return build(trie)


def _words_regex(words: list[str]) -> str:
    """English words match whole words only ("hi" is not in "this"); Chinese words match anywhere."""
    normal = sorted({normalize(w) for w in words})
    ascii_words = [w for w in normal if re.match(r"[a-z0-9]", w) or re.search(r"[a-z0-9]$", w)]
    other = [w for w in normal if w not in ascii_words]
    parts = []
    if other:
        parts.append(_trie_regex(other))
    if ascii_words:
        parts.append(r"(?<![a-z0-9])(?:" + _trie_regex(ascii_words) + r")(?![a-z0-9])")
    return "|".join(parts)


@dataclass(frozen=True)
class Matcher:
    """A compiled cue set: finds every (start, end, matched text) in normalised text."""

    regexes: tuple[re.Pattern[str], ...]

    @classmethod
    def build(cls, words: list[str] | tuple[str, ...], patterns: list[str] | tuple[str, ...] = ()) -> "Matcher":
        out: list[re.Pattern[str]] = []
        ws = [w for w in words if w.strip()]
        if ws:
            out.append(re.compile(_words_regex(ws)))
        for p in patterns:
            out.append(re.compile(p, re.MULTILINE))
        return cls(tuple(out))

    def find(self, text: str) -> list[tuple[int, int, str]]:
        hits: list[tuple[int, int, str]] = []
        for rx in self.regexes:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    hits.append((m.start(), m.end(), m.group(0)))
        hits.sort()
        return hits


@dataclass(frozen=True)
class CompiledPhrases:
    book: PhraseBook
    signals: dict[str, Matcher]
    question: Matcher
    injection: Matcher
    service: Matcher
    stuffing: Matcher
    function_words: frozenset[str]
    near_negators: tuple[str, ...]
    clause_negators: tuple[str, ...]
    fillers: frozenset[str]


def parse_phrases(path: Path) -> PhraseBook:
    """Load and validate a phrases file; raise ShifuError naming file, field and fix."""
    return load_model(path, PhraseBook, guide="the comments at the top of grader/phrases.yaml", first_key="signals")


def compile_phrases(book: PhraseBook) -> CompiledPhrases:
    sig = {name: Matcher.build(getattr(book.signals, name).words, getattr(book.signals, name).patterns)
           for name in SignalCues.model_fields}
    return CompiledPhrases(
        book=book,
        signals=sig,
        question=Matcher.build(book.question_markers.words, book.question_markers.patterns),
        injection=Matcher.build(book.injection.words, book.injection.patterns),
        service=Matcher.build(book.service_words),
        stuffing=Matcher.build(book.stuffing_words),
        function_words=frozenset(normalize(w) for w in book.english_function_words),
        near_negators=tuple(normalize(n) for n in book.negators.near),
        clause_negators=tuple(normalize(n) for n in book.negators.clause),
        fillers=frozenset(normalize(book.fillers)),
    )


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> CompiledPhrases:
    return compile_phrases(parse_phrases(Path(path)))


def phrases() -> CompiledPhrases:
    """The compiled phrase lists of the current content root (re-read when the file changes)."""
    p = paths.grader_dir() / "phrases.yaml"
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        mtime = -1
    return _cached(str(p), mtime)
