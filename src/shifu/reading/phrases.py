"""The word lists of grader/phrases.yaml: schema, loading and compiled matchers.

The lists are content a trainer edits; this module only checks them (a bad regex or a missing list
is reported with file, field and fix) and turns them into matchers the signals reader runs.
"""
from __future__ import annotations

import re
from collections.abc import Callable
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from shifu.content import paths
from shifu.content.yamlio import Strict, cached_by_file, check_patterns, load_model
from shifu.reading import traditional


class CueSet(Strict):
    """Plain words (substring match) and regular expressions that mark one signal."""

    words: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)

    @field_validator("words")
    @classmethod
    def _no_blank(cls, v: list[str]) -> list[str]:
        if any(not str(w).strip() for w in v):
            raise ValueError("a word is empty")
        return [str(w) for w in v]


class SignalCues(Strict):
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
    stalling: CueSet
    breach: CueSet


class Negators(Strict):
    window: int = Field(ge=1, le=40)
    near: list[str] = Field(min_length=1)
    clause: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list, description="refusals after the hit, in the same sentence")
    after_promise: list[str] = Field(default_factory=list, description="refusals after an over-promise's words")
    clause_scope: list[str] = Field(default_factory=list, description="signals negated anywhere earlier in their clause")
    after_scope: list[str] = Field(default_factory=list, description="signals also negated by a refusal after them")
    asked: list[str] = Field(default_factory=list, description=(
        "words before a clause_scope hit that, in a question, ask about the buyer's own wish: the act is asked "
        "about, not offered — when the question also asks for the reason (asked_reason after the hit)"))
    asked_reason: list[str] = Field(default_factory=list, description=(
        "patterns after the hit, in the same question, that ask why and offer the reasons to choose from"))

    asked_then: list[str] = Field(default_factory=list, description=(
        "patterns in the rest of the reply after such a question that agree to it or hand over the means (a yes, "
        "an account or card number, an id): the question was only the way in, and the act is offered after all"))

    @field_validator("asked_reason", "asked_then")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)


class Citing(Strict):
    """Citing the page or a rule to tell the buyer what she is entitled to ("the page says seven days, no reason
    needed, so you're covered") is neither blame nor a brush-off; citing it to refuse or to blame her still is.
    A hit of one of `signals` whose text names one of `citations` does not count when, after it in the same
    sentence and within `window` characters, one of `grants` follows (not negated) and none of `refusals` does."""

    signals: list[str] = Field(min_length=1)
    citations: list[str] = Field(min_length=1)
    grants: list[str] = Field(min_length=1)
    refusals: list[str] = Field(default_factory=list)
    window: int = Field(ge=1, le=60)

    @field_validator("citations", "grants")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)

    @field_validator("signals")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [n for n in v if n not in SignalCues.model_fields]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a signal; use one of {', '.join(SignalCues.model_fields)}")
        return v


class Questions(Strict):
    """The grammar of a question: end particles, A-not-A / choice / polite-imperative patterns, wh-words."""

    end_particles: list[str] = Field(min_length=1)
    patterns: list[str] = Field(default_factory=list)
    interrogatives: list[str] = Field(default_factory=list)
    not_questions: list[str] = Field(default_factory=list)
    indirect: list[str] = Field(default_factory=list)    # whole sentences that mention a question without asking it
    rhetorical: list[str] = Field(default_factory=list)  # questions that assert or seek a nod: no probe
    choosing: list[str] = Field(default_factory=list)    # a choice question that asks the buyer to pick a plan
    requests: list[str] = Field(min_length=1)    # asking the buyer to hand over a fact: a probe, not a consensus check
    addressees: list[str] = Field(min_length=1)  # a question must name the buyer's side to be asked of her

    @field_validator("patterns", "not_questions", "indirect", "rhetorical", "choosing", "requests", "addressees")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)


class Actions(Strict):
    patterns: list[str] = Field(min_length=1)
    # verbs that pass the problem on without changing anything for the buyer ("催仓库", "登记", "反馈"):
    # an action made only of these does not stop a reply from stalling
    passing_on: list[str] = Field(default_factory=list)
    # words that make an action vague ("我们会尽快安排"): such an action names no concrete step either
    vague: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)


class OverPromise(Strict):
    """Over-promises by structure; amounts are compared with a scenario's context.limits."""

    patterns: list[str] = Field(default_factory=list)
    waived_return: list[str] = Field(default_factory=list)
    compensation_words: list[str] = Field(default_factory=list)
    refund_words: list[str] = Field(default_factory=list)
    multiples: list[str] = Field(default_factory=list)
    reported_speech: list[str] = Field(default_factory=list)
    # an amount: a number and one of `amount_units` ("50块", "500的红包"), or a number right after one of
    # `paying_verbs` ("赔200", "补您30") that is not followed by one of `not_money_units` ("补2罐")
    amount_units: list[str] = Field(default_factory=list)
    paying_verbs: list[str] = Field(default_factory=list)
    paying_objects: list[str] = Field(default_factory=list)  # between the verb and the number ("补您30")
    not_money_units: list[str] = Field(default_factory=list)

    @field_validator("patterns", "waived_return", "multiples")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)


class Gaming(Strict):
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
    padding_step_share: float = Field(default=0.4, ge=0, le=1, description=(
        "a clause whose words for a step taken for the buyer make up this share of it is on the topic"))
    stuffing_min_chars: int = Field(ge=1)
    repeat_reply_factor: float = Field(ge=0, le=1)
    min_function_word_share: float = Field(ge=0, le=1)
    function_word_min_tokens: int = Field(ge=1)
    list_min_pieces: int = Field(default=5, ge=2)
    # a clause glued together from the scenario's own words ("改派联系网点联系快递催件重新派送…补发顺丰"):
    # at least `glued_min_hits` of them covering `glued_coverage` of a clause of `glued_min_chars` or more
    glued_min_hits: int = Field(ge=2)
    glued_coverage: float = Field(gt=0, le=1)
    glued_min_chars: int = Field(ge=2)
    glued_grammar: str  # words that make a sentence of it ("我今天就安排顺丰加急补发全新的杯子")
    glued_max_grammar_share: float = Field(ge=0, le=1)
    list_max_mean_chars: float = Field(default=7, gt=0)
    list_max_function_share: float = Field(default=0.34, ge=0, le=1)
    list_function_chars: str = ""


class PhraseBook(Strict):
    signals: SignalCues
    question_markers: CueSet
    questions: Questions
    plan_words: list[str] = Field(min_length=1)
    actions: Actions
    remedies: Actions
    feelings: list[str] = Field(default_factory=list)
    empathy_dismissals: list[str] = Field(min_length=1)  # before a feeling word: questioning it, not sharing it
    empathy_conditionals: list[str] = Field(default_factory=list)  # a clause that only supposes the feeling
    empathy_self: list[str] = Field(min_length=1)        # the agent's own feeling …
    empathy_buyer_side: list[str] = Field(min_length=1)  # … unless the buyer's side is named too
    stock_empathy: list[str] = Field(default_factory=list)
    soothing_negators: list[str] = Field(default_factory=list)
    stock_phrases: list[str] = Field(min_length=1)
    stock_patterns: list[str] = Field(default_factory=list)  # stock formulas with slots ("换成是我也会着急")
    stock_only_max_rest: int = Field(ge=0, le=20)
    # a reply mostly made of stock phrases, whose rest offers nothing creditable (no remedy, question for facts,
    # time, policy, retention offer, empathy in own words), is stock-only too ("理解您~抱歉哦~加微信不行哦~抱歉哦~")
    stock_heavy_max_share: float = Field(default=0.0, ge=0.0, le=1.0)
    over_promise: OverPromise
    injection: CueSet
    negators: Negators
    citing: Citing
    service_words: list[str] = Field(min_length=1)
    stuffing_words: list[str] = Field(default_factory=list)
    english_function_words: list[str] = Field(default_factory=list)
    fillers: str
    gaming: Gaming

    @field_validator("empathy_dismissals", "empathy_conditionals", "empathy_self", "empathy_buyer_side", "stock_patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return check_patterns(v)


_T2S = None


def _t2s(c: str) -> str:
    """Traditional → simplified, one character at a time (seed 004 and some trainees write 繁體)."""
    global _T2S
    if _T2S is None:
        try:
            import opencc

            _T2S = opencc.OpenCC("t2s").convert
        except Exception:  # the conversion is a help, not a requirement: without it text stays as written
            _T2S = lambda x: x  # noqa: E731
    out = _T2S(c)
    return out if len(out) == 1 else c


def to_simplified(text: str) -> str:
    """Traditional → simplified for a whole text, by phrase (回覆 → 回复, see shifu.reading.traditional), where
    character by character cannot be; as written when no converter is installed. Lengths may change: not for
    quoting (normalize_map keeps the map)."""
    return traditional.to_simplified_map(text, list(range(len(text))), _has_traditional(text))[0]


def _has_traditional(text: str) -> bool:
    """A character that the character conversion changes: the text is (partly) in traditional script."""
    return any(norm_char(c) != _base_char(c) for c in text)


@lru_cache(maxsize=1 << 16)
def _base_char(c: str) -> str:
    """One character full-width → half-width and lower case; "" for an invisible character (zero-width space,
    joiners, BOM, soft hyphen), a combining mark or a letter that prints as a blank (Hangul fillers, the blank
    Braille cell)."""
    if unicodedata.category(c) in ("Cf", "Mn", "Me") or c in _BLANK_LETTERS:
        return ""
    n = unicodedata.normalize("NFKC", c).lower()
    return n if len(n) == 1 else c.lower()


@lru_cache(maxsize=1 << 16)
def norm_char(c: str) -> str:
    """One character, normalised the same way for cues and replies (full-width → half-width, lower case,
    traditional → simplified character by character); "" for an invisible character (see _base_char)."""
    n = _base_char(c)
    if "\u3400" <= n <= "\u9fff":
        return _t2s(n)
    return n


def _is_cjk(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff"


# Between two Chinese characters these join a word the writer split ("赔您十 倍", "加.微.信"); clause
# punctuation (,。、!?) is kept: it separates pieces of meaning.
_JOINERS = frozenset("·•*_-~|/\\.'\"`^")
# letters and symbols that print as nothing, so they can split a word unseen (U+3164 Hangul filler, U+2800 Braille blank)
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SPACES = frozenset(" \t\u3000\u00a0")


def _joins(c: str) -> bool:
    """A mark that may sit between two Chinese characters without parting them: one of _JOINERS, or any symbol
    ("微♥信", "加✿微✿信": hearts, flowers, arrows are no word boundary)."""
    return c in _JOINERS or unicodedata.category(c) in ("So", "Sm", "Sk", "Sc")


def _drop_between_cjk(chars: list[str], is_mark: Callable[[str], bool]) -> list[bool]:
    keep = [True] * len(chars)
    i = 0
    while i < len(chars):
        if is_mark(chars[i]) and i > 0 and _is_cjk(chars[i - 1]):
            j = i
            while j < len(chars) and is_mark(chars[j]):
                j += 1
            if j < len(chars) and _is_cjk(chars[j]) and j - i <= 2:
                for k in range(i, j):
                    keep[k] = False
            i = j
        else:
            i += 1
    return keep


def compact_map(text: str) -> tuple[str, list[int]]:
    """`text` (already normal) without spaces between Chinese characters, and where each character came from.

    Negative signals are looked for in this form ("赔您十 倍" is still a promise of tenfold); positive
    ones are not, because spaces also separate the words of a keyword list ("抱歉 理解 改派").
    """
    chars = list(text)
    keep = _drop_between_cjk(chars, _SPACES.__contains__)
    if all(keep):
        return text, list(range(len(text)))
    return "".join(c for c, k in zip(chars, keep) if k), [i for i, k in enumerate(keep) if k]


def normalize_map(text: str) -> tuple[str, list[int]]:
    """(normal form, position in `text` of each of its characters).

    The normal form drops invisible characters and odd marks between Chinese characters ("加.微.信"),
    so it can be shorter than `text`; the map turns a hit's positions back into a quote of the original.
    Chinese text is also converted by phrase (grader/traditional.yaml: 回覆 → 回复, 著急 → 着急), which
    character by character cannot do; Taiwan and Hong Kong words (連結 → 链接) only in traditional script.
    """
    chars: list[str] = []
    bases: list[str] = []
    where: list[int] = []
    traditional_seen = False
    for i, c in enumerate(text):
        n = norm_char(c)
        if n:
            base = _base_char(c)
            traditional_seen = traditional_seen or n != base
            chars.append(n)
            bases.append(base)
            where.append(i)
    keep = _drop_between_cjk(chars, _joins)
    if not all(keep):
        chars = [c for c, k in zip(chars, keep) if k]
        bases = [c for c, k in zip(bases, keep) if k]
        where = [w for w, k in zip(where, keep) if k]
    if any(_is_cjk(c) for c in bases):
        return traditional.to_simplified_map("".join(bases), where, traditional_seen)
    return "".join(chars), where


def normalize(text: str) -> str:
    """The normal form of `text` (see normalize_map); cue words and replies are compared in this form."""
    return normalize_map(text)[0]


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
    # one reading asks the same cue set about the same text several times (the stock phrases, the actions, the
    # questions …): about half the scans, so the hits of the last texts are remembered, by the text alone (a
    # cache keyed on the patterns too would hash their compiled code at every call)
    _memo: dict[str, tuple[tuple[int, int, str], ...]] = field(default_factory=dict, compare=False, repr=False)

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
        """Every (start, end, matched text) in `text`, sorted; a fresh list the caller may change."""
        hits = self._memo.get(text)
        if hits is None:
            found: list[tuple[int, int, str]] = []
            for rx in self.regexes:
                for m in rx.finditer(text):
                    if m.end() > m.start():
                        found.append((m.start(), m.end(), m.group(0)))
            found.sort()
            hits = tuple(found)
            if len(self._memo) >= _MEMO_TEXTS:
                self._memo.clear()  # a new reading: the texts of the last one are not asked about again
            self._memo[text] = hits
        return list(hits)


_MEMO_TEXTS = 64  # texts remembered per cue set: the pieces of one reading, a few times over


@dataclass(frozen=True)
class CompiledPhrases:
    book: PhraseBook
    signals: dict[str, Matcher]
    signal_words: dict[str, Matcher]  # the plain words of each signal, without its patterns
    question: Matcher
    injection: Matcher
    service: Matcher
    stuffing: Matcher
    function_words: frozenset[str]
    near_negators: tuple[str, ...]
    clause_negators: tuple[str, ...]
    after_negators: Matcher
    after_promise: Matcher
    asked: tuple[str, ...]  # negators.asked, normal form
    asked_reason: Matcher
    asked_then: Matcher
    citations: Matcher
    grants: Matcher
    citing_refusals: Matcher
    fillers: frozenset[str]
    q_patterns: Matcher
    q_interrogatives: Matcher
    q_not: Matcher
    q_indirect: Matcher
    q_rhetorical: Matcher
    q_choosing: Matcher
    q_end: frozenset[str]
    plan_words: Matcher
    actions: Matcher
    passing_on: tuple[str, ...]
    vague_actions: tuple[str, ...]
    remedies: Matcher
    feelings: Matcher
    q_requests: Matcher
    q_addressees: Matcher
    empathy_dismissals: Matcher
    empathy_conditionals: Matcher
    empathy_self: Matcher
    empathy_buyer_side: Matcher
    stock_empathy: Matcher
    stock: Matcher
    over_promise: Matcher
    waived_return: Matcher
    compensation_words: Matcher
    refund_words: Matcher
    multiples: Matcher
    amount: re.Pattern[str]


def parse_phrases(path: Path) -> PhraseBook:
    """Load and validate a phrases file; raise ShifuError naming file, field and fix."""
    return load_model(path, PhraseBook, guide="the comments at the top of grader/phrases.yaml", first_key="signals")


def compile_phrases(book: PhraseBook) -> CompiledPhrases:
    sig = {name: Matcher.build(getattr(book.signals, name).words, getattr(book.signals, name).patterns)
           for name in SignalCues.model_fields}
    words_only = {name: Matcher.build(getattr(book.signals, name).words) for name in SignalCues.model_fields}
    return CompiledPhrases(
        book=book,
        signals=sig,
        signal_words=words_only,
        question=Matcher.build(book.question_markers.words, book.question_markers.patterns),
        injection=Matcher.build(book.injection.words, book.injection.patterns),
        service=Matcher.build(book.service_words),
        stuffing=Matcher.build(book.stuffing_words),
        function_words=frozenset(normalize(w) for w in book.english_function_words),
        near_negators=tuple(normalize(n) for n in book.negators.near),
        clause_negators=tuple(normalize(n) for n in book.negators.clause),
        after_negators=Matcher.build(book.negators.after),
        after_promise=Matcher.build(book.negators.after_promise),
        asked=tuple(normalize(w) for w in book.negators.asked),
        asked_reason=Matcher.build([], book.negators.asked_reason),
        asked_then=Matcher.build([], book.negators.asked_then),
        citations=Matcher.build([], book.citing.citations),
        grants=Matcher.build([], book.citing.grants),
        citing_refusals=Matcher.build(book.citing.refusals),
        fillers=frozenset(normalize(book.fillers)),
        q_patterns=Matcher.build([], book.questions.patterns),
        q_interrogatives=Matcher.build(book.questions.interrogatives),
        q_not=Matcher.build([], book.questions.not_questions),
        q_indirect=Matcher.build([], book.questions.indirect),
        q_rhetorical=Matcher.build([], book.questions.rhetorical),
        q_choosing=Matcher.build([], book.questions.choosing),
        q_end=frozenset(normalize(p) for p in book.questions.end_particles),
        plan_words=Matcher.build(book.plan_words),
        actions=Matcher.build([], book.actions.patterns),
        passing_on=tuple(book.actions.passing_on),
        vague_actions=tuple(normalize(w) for w in book.actions.vague),
        remedies=Matcher.build([], book.remedies.patterns),
        feelings=Matcher.build(book.feelings),
        q_requests=Matcher.build([], book.questions.requests),
        q_addressees=Matcher.build([], book.questions.addressees),
        empathy_dismissals=Matcher.build([], book.empathy_dismissals),
        empathy_conditionals=Matcher.build([], book.empathy_conditionals),
        empathy_self=Matcher.build([], book.empathy_self),
        empathy_buyer_side=Matcher.build([], book.empathy_buyer_side),
        stock_empathy=Matcher.build(book.stock_empathy),
        stock=Matcher.build(book.stock_phrases, book.stock_patterns),
        over_promise=Matcher.build([], book.over_promise.patterns),
        waived_return=Matcher.build([], book.over_promise.waived_return),
        compensation_words=Matcher.build(book.over_promise.compensation_words),
        refund_words=Matcher.build(book.over_promise.refund_words),
        multiples=Matcher.build([], book.over_promise.multiples),
        amount=_amount_pattern(book.over_promise),
    )


_NUMERALS = "零〇一二两三四五六七八九十百千万"


def _amount_pattern(op: OverPromise) -> re.Pattern[str]:
    """Group 1: a number with a unit; group 2: a number after a verb of paying. A number is only tried from its
    first digit, and whole (lookbehind, possessive ++): a reply of 40 000 digits is read in a moment."""
    def alt(words: list[str]) -> str:
        return "|".join(re.escape(normalize(w)) for w in sorted(words, key=len, reverse=True)) or "(?!)"
    return re.compile(
        rf"((?<![0-9])[0-9]++(?:\.[0-9]+)?|(?<![{_NUMERALS}])[{_NUMERALS}]++)\s*(?:{alt(op.amount_units)})"
        rf"|(?:{alt(op.paying_verbs)})(?:{alt(op.paying_objects)})?([0-9]++(?:\.[0-9]+)?)"
        rf"(?![0-9.]*\s*(?:{alt(op.not_money_units)}))")


def _parse_and_compile(path: Path) -> CompiledPhrases:
    return compile_phrases(parse_phrases(path))


def phrases() -> CompiledPhrases:
    """The compiled phrase lists of the current content root (re-read when the file changes)."""
    return cached_by_file(paths.grader_dir() / "phrases.yaml", _parse_and_compile)
