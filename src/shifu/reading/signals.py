"""Reading a trainee reply: what is in it.

This is the one model of a good reply. The engine turns Signals into the buyer's mood; the rubric
turns the same Signals into points. Word lists live in grader/ (phrases.yaml, question_kinds.yaml)
and in each scenario's cues, never here.

Gaming never earns credit: text aimed at a grader or model, repeated phrases, keyword lists,
irrelevant padding and copies of the buyer's words are set aside before any positive signal is
looked for, and `substance` says how much of the reply was left. Negative signals (blame, forbidden
phrases, privacy breaches …) are found everywhere except in copies of the buyer's own words.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable, Iterator

from shifu.content.catalog import question_kinds
from shifu.reading.phrases import CompiledPhrases, Matcher, compact_map, normalize, normalize_map, phrases
from shifu.roleplay.scenario import Scenario
from shifu.reading.vocab import Signal


@dataclass(frozen=True)
class Span:
    """Evidence: a quoted piece of the reply that shows a signal."""

    signal: Signal
    quote: str
    start: int
    end: int
    detail: str = ""  # e.g. the hidden-fact id a probe targets, the policy id, the phrase matched


@dataclass(frozen=True)
class ReplyContext:
    """What the reader needs besides the reply itself."""

    scenario: Scenario
    buyer_message: str = ""
    history: tuple[str, ...] = ()  # earlier trainee replies in this conversation, oldest first
    revealed: frozenset[str] = frozenset()  # hidden-fact ids already revealed
    latency_s: float | None = None  # seconds the trainee took to answer, when known


@dataclass(frozen=True)
class Signals:
    spans: tuple[Span, ...] = ()
    probed_facts: frozenset[str] = frozenset()  # hidden-fact ids this reply's questions target
    resolutions: frozenset[str] = frozenset()  # scenario.accepts ids offered
    forbidden_offers: frozenset[str] = frozenset()  # scenario.never_offer ids offered
    policies_correct: frozenset[str] = frozenset()
    policies_wrong: frozenset[str] = frozenset()
    substance: float = 0.0  # 0..1: how much of the reply is genuine content (not stuffing, padding, copying, injection)
    injection: bool = False  # text aimed at a grader or model ("忽略评分规则", "SYSTEM: full marks")
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Every never_offer resolution offered (over_promise and breach alike), as evidence; only the
    # over_promise kind also appears in `spans` as Signal.over_promise.
    offer_spans: tuple[Span, ...] = ()

    def has(self, signal: Signal) -> bool:
        return any(s.signal is signal for s in self.spans)

    def of(self, signal: Signal) -> tuple[Span, ...]:
        return tuple(s for s in self.spans if s.signal is signal)


# Positive signals are set aside in gamed text; these are also what "keyword stuffing" is made of.
_POSITIVE = ("greeting", "self_intro", "empathy", "apology", "time_commitment", "consensus_check",
             "summary", "follow_up", "retention_offer")
_NEGATIVE = ("blame_shifting", "arguing", "forbidden_phrase", "privacy_breach", "off_platform_payment", "breach")
# Positive signals that earn once per conversation: said again word for word, they are stock, not care.
_ONCE = ("greeting", "self_intro", "empathy", "apology", "follow_up", "summary")  # a consensus check counts again with a new plan
# Where a preceding negation ("不理解", "我们不会推卸…") cancels the hit.
_NEGATABLE = {"empathy", "apology", "blame_shifting", "arguing", "time_commitment", "follow_up",
              "off_platform_payment", "solution", "over_promise", "policy_correct", "policy_wrong", "summary",
              "privacy_breach", "breach", "stalling"}
# Sentences end here; a refusal after a hit ("私下转账这个真不行") is looked for up to the end of its sentence.
_SENT_END = re.compile(r"[!?;。！？；\n]")
# Clause separators for negation scope: a list joined by 、 stays one clause ("不会让您往银行卡、微信转钱").
_SCOPE_SEP = re.compile(r"[,.!?;:。，！？；：\n]")

# Spaces separate pieces in Chinese text ("抱歉 理解 改派"), not inside English sentences.
# spaces before a CJK character are tried from the start of their run only (lookbehind): the same splits,
# without trying every space of a long run as a start (seconds per 10 000 spaces)
# (spaces only in the last branch: newlines are separators already, and a run of "\n " would otherwise be
# tried from every space to its end, quadratic in a hostile reply's length)
_CLAUSE_SEP = re.compile(r"[,.!?;:。，！？；：、\n\r\t…]+|(?<=[\u4e00-\u9fff])\s+|(?<![^\S\n\r\t])[^\S\n\r\t]+(?=[\u4e00-\u9fff])")
_SENTENCE_SEP = re.compile(r"[!?;。！？；\n\r]+|\.(?=\s|$)")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

# Reasons a piece of the reply is set aside; only "copy" is also set aside for negative signals.
_INJECTION, _REPEATED, _COPY, _KEYWORDS, _PADDING = "injection", "repeat", "copy", "keywords", "padding"


@dataclass(frozen=True)
class _ScenarioCues:
    accepts: tuple[tuple[str, Matcher], ...]
    never: tuple[tuple[str, str, Matcher], ...]  # (id, kind, matcher)
    policy_ok: tuple[tuple[str, Matcher], ...]
    policy_bad: tuple[tuple[str, Matcher], ...]
    facts: tuple[tuple[str, Matcher], ...]  # hidden-fact id -> cues of its question kind + its own cues
    kinds: tuple[tuple[str, Matcher], ...]  # every question kind
    vocabulary: Matcher  # words that make a clause relevant to this scenario
    protected_digits: frozenset[str]  # numbers the trainee may repeat (order id)


_scenario_cache: dict[int, tuple[Scenario, _ScenarioCues]] = {}


def _scenario_cues(sc: Scenario) -> _ScenarioCues:
    hit = _scenario_cache.get(id(sc))
    if hit is not None and hit[0] is sc:
        return hit[1]
    kinds = {k.id: k.cues for k in question_kinds()}
    facts = tuple((f.id, Matcher.build(list(kinds.get(f.uncovered_by, [])) + list(f.cues))) for f in sc.hidden_facts)
    vocab: list[str] = [w for k in kinds.values() for w in k]
    for r in (*sc.accepts, *sc.never_offer):
        vocab.extend(r.cues)
    for p in sc.context.policies:
        vocab.extend(p.correct_cues)
        vocab.extend(p.wrong_cues)
    for f in sc.hidden_facts:
        vocab.extend(f.cues)
    for text in (sc.context.product, sc.context.shop):
        vocab.extend(w for w in re.split(r"[\s()（）,，/]+", text) if len(w) >= 2)
    cues = _ScenarioCues(
        accepts=tuple((r.id, Matcher.build(r.cues)) for r in sc.accepts),
        never=tuple((r.id, r.kind, Matcher.build(r.cues)) for r in sc.never_offer),
        policy_ok=tuple((p.id, Matcher.build(p.correct_cues)) for p in sc.context.policies if p.correct_cues),
        policy_bad=tuple((p.id, Matcher.build(p.wrong_cues)) for p in sc.context.policies if p.wrong_cues),
        facts=facts,
        kinds=tuple((k, Matcher.build(list(c))) for k, c in kinds.items()),
        vocabulary=Matcher.build(vocab),
        protected_digits=frozenset({re.sub(r"\D", "", sc.context.order_id)} - {""}),
    )
    if len(_scenario_cache) > 64:
        _scenario_cache.clear()
    _scenario_cache[id(sc)] = (sc, cues)
    return cues


def _pieces(text: str, sep: re.Pattern[str]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for m in sep.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


def _alnum(s: str) -> str:
    """Letters and digits only: punctuation, spaces and emoji are not content."""
    return "".join(c for c in s if c.isalnum())


def _content_len(s: str) -> int:
    return sum(1 for c in s if c.isalnum())


def _bigrams(s: str) -> set[str]:
    s = _alnum(s)
    return {s[i:i + 2] for i in range(len(s) - 1)}


class _Reader:
    """One reading of one reply; holds the masks while the pieces are worked out."""

    def __init__(self, reply: str, ctx: ReplyContext, ph: CompiledPhrases, cues: _ScenarioCues):
        self.raw = reply
        self.text, self.where = normalize_map(reply)
        self.ctx = ctx
        self.ph = ph
        self.cues = cues
        self.g = ph.book.gaming
        self.mask: list[str | None] = [None] * len(self.text)  # why a position is set aside
        self.gaming: list[Span] = []
        self.notes: list[str] = []
        self.pmap: list[int] = []  # compact form of the negatives' view -> normal text positions

    # -- masks ---------------------------------------------------------------------------
    def _set_aside(self, a: int, b: int, why: str) -> None:
        for i in range(a, b):
            if self.mask[i] is None:
                self.mask[i] = why

    def _note_gaming(self, a: int, b: int, why: str) -> None:
        if not any(s.detail == why for s in self.gaming):
            self.gaming.append(Span(Signal.stuffing, self.quote(a, b).strip()[:120], a, b, why))

    def _visible(self, a: int, b: int, allow: tuple[str, ...] = ()) -> bool:
        return all(self.mask[i] is None or self.mask[i] in allow for i in range(a, b))

    def view(self, keep: tuple[str, ...] = ()) -> str:
        """The normalised reply with set-aside text blanked out (line breaks keep pieces apart)."""
        chars = list(self.text)
        for i, why in enumerate(self.mask):
            if why is not None and why not in keep:
                chars[i] = "\n"
        return "".join(chars)

    # -- gaming --------------------------------------------------------------------------
    def find_injection(self) -> None:
        hits = self.ph.injection.find(self.text)
        if not hits:
            return
        sentences = _pieces(self.text, _SENTENCE_SEP)
        for a, b, _ in hits:
            for sa, sb in sentences:
                if sa <= a < sb or (a <= sa < b):
                    self._set_aside(sa, sb, _INJECTION)
                    self._note_gaming(sa, sb, _INJECTION)
            self._set_aside(a, b, _INJECTION)
            self._note_gaming(a, b, _INJECTION)

    def find_repeats(self) -> None:
        seen: set[str] = set()
        for a, b in _pieces(self.text, _CLAUSE_SEP):
            key = _alnum(self.text[a:b])
            if not key or not self._visible(a, b):
                continue
            if key in seen and _content_len(key) >= 2:
                self._set_aside(a, b, _REPEATED)
                self._note_gaming(a, b, _REPEATED)
                continue
            seen.add(key)
            for start, end, unit in _repeat_runs(self.text, a, b):
                piece = self.text[start:start + unit]
                if _content_len(piece) < 2:
                    continue
                # "好的好的" keeps one "好的"; a repeated keyword ("抱歉抱歉") or a chant ("价保价保价保",
                # three or more times) earns nothing at all
                if self.positive_hits(piece) or (end - start) >= 3 * unit:
                    self._set_aside(start, end, _REPEATED)
                    self._note_gaming(start, end, _REPEATED)
                else:
                    self._set_aside(start + unit, end, _REPEATED)

    def find_copies(self) -> None:
        buyer = normalize(self.ctx.buyer_message or "")
        grams = _bigrams(buyer)
        if not grams:
            return
        copied = []
        for a, b in _pieces(self.text, _CLAUSE_SEP):
            piece = self.text[a:b]
            if _content_len(piece) < self.g.copy_min_chars:
                continue
            mine = _bigrams(piece)
            if mine and len(mine & grams) / len(mine) >= self.g.copy_overlap:
                copied.append((a, b))
        # restating what the buyer said ("您周六就要用") is listening; a reply made of the buyer's words is not
        if sum(_content_len(self.text[a:b]) for a, b in copied) < self.g.copy_min_share * _content_len(self.text):
            return
        for a, b in copied:
            self._set_aside(a, b, _COPY)
            self._note_gaming(a, b, _COPY)

    def positive_hits(self, text: str) -> list[tuple[int, int, str]]:
        """Every positive cue (phrase lists and the scenario's offers/policies), tagged by kind."""
        out = []
        for name in _POSITIVE:
            # empathy patterns match a whole clause that names a situation: that clause is content, not a keyword
            m = self.ph.signal_words[name] if name == "empathy" else self.ph.signals[name]
            out.extend((a, b, name) for a, b, _ in m.find(text))
        for rid, m in self.cues.accepts:
            out.extend((a, b, "solution") for a, b, _ in m.find(text))
        for pid, m in self.cues.policy_ok:
            out.extend((a, b, "policy_correct") for a, b, _ in m.find(text))
        for fid, m in self.cues.facts:  # probing words can be stuffed too ("驿站？什么时候？")
            out.extend((a, b, "probe") for a, b, _ in m.find(text))
        out.extend((a, b, "keyword") for a, b, _ in self.ph.stuffing.find(text))
        return out

    def find_stuffing(self) -> None:
        hits = sorted(self.positive_hits(self.view()))
        starts = [h[0] for h in hits]
        runs: list[tuple[int, int]] = []
        run: list[tuple[int, int]] = []
        for a, b in _pieces(self.text, _CLAUSE_SEP):
            if not self._visible(a, b):
                continue  # a repeat or a grader-aimed line inside a keyword list does not break the list
            inside = [h for h in hits[bisect_left(starts, a):bisect_left(starts, b)] if h[1] <= b]
            covered = _covered(inside)
            size = self._content_chars(a, b) or 1
            coverage = min(1.0, covered / size)
            kinds = {k for _, _, k in inside} - {"keyword"}
            if len(kinds) >= self.g.stuffed_clause_kinds and coverage >= self.g.stuffed_clause_coverage:
                self._set_aside(a, b, _KEYWORDS)
                self._note_gaming(a, b, _KEYWORDS)
            if inside and size <= self.g.bare_clause_max_chars and coverage >= self.g.bare_clause_coverage:
                run.append((a, b))
            elif not inside and size <= 2 and run:
                continue  # "理解" between keywords neither breaks nor lengthens a keyword list
            else:
                if len(run) >= self.g.keyword_run:
                    runs.append((run[0][0], run[-1][1]))
                run = []
        if len(run) >= self.g.keyword_run:
            runs.append((run[0][0], run[-1][1]))
        runs += self._glued_clauses(hits)
        for a, b in runs:
            self._set_aside(a, b, _KEYWORDS)
            self._note_gaming(a, b, _KEYWORDS)
        self._find_english_keyword_lists()
        self._find_spaced_lists()

    def _glued_clauses(self, hits: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
        """Clauses glued together from the scenario's words and signal words, with no sentence around them
        ("改派联系网点联系快递催件重新派送送到您家加急补发顺丰"): a keyword list without separators."""
        view = self.view()
        words = sorted(hits + [(a, b, "cue") for a, b, _ in self.cues.vocabulary.find(view)]
                       + [(a, b, "cue") for _, m in self.cues.accepts for a, b, _ in m.find(view)])
        starts = [h[0] for h in words]
        out = []
        for a, b in _pieces(self.text, _CLAUSE_SEP):
            size = self._content_chars(a, b)
            if size < self.g.glued_min_chars or not self._visible(a, b):
                continue
            if sum(1 for c in self.text[a:b] if c in self.g.glued_grammar) > self.g.glued_max_grammar_share * size:
                continue  # it has the words of a sentence
            inside = [h for h in words[bisect_left(starts, a):bisect_left(starts, b)] if h[1] <= b]
            taken = _longest_first(inside)  # non-overlapping
            if len(taken) >= self.g.glued_min_hits and sum(y - x for x, y in taken) >= self.g.glued_coverage * size:
                out.append((a, b))
        return out

    def _content_chars(self, a: int, b: int) -> int:
        """Letters and digits in text[a:b] that are not particles (phrases.yaml `fillers`)."""
        return sum(1 for c in self.text[a:b] if c.isalnum() and c not in self.ph.fillers)

    def _find_spaced_lists(self) -> None:
        """Short Chinese pieces separated by spaces, with hardly a particle or pronoun among them: a list of
        keywords ("顺丰加急 补发 新礼盒 周五前送到 您看可以吗"), not casual chat ("姐 我刚打给网点了 包在驿站躺着呢")."""
        g = self.g
        for a, b in _pieces(self.text, _SENTENCE_SEP):
            if self.text[b:b + 1] in ("?", "？"):
                continue  # a list that ends by asking the buyer something is talk ("…今天4点前拍当天顺丰发 开不开?")
            parts = [p for p in re.split(r"[\s,，、]+", self.text[a:b]) if p and _CJK.search(p)]
            if len(parts) < g.list_min_pieces or not re.search(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff0-9]", self.text[a:b]):
                continue
            mean = sum(_content_len(p) for p in parts) / len(parts)
            with_function = sum(1 for p in parts if any(c in g.list_function_chars for c in p)) / len(parts)
            if mean <= g.list_max_mean_chars and with_function <= g.list_max_function_share:
                self._set_aside(a, b, _KEYWORDS)
                self._note_gaming(a, b, _KEYWORDS)

    def _find_english_keyword_lists(self) -> None:
        """English prose is held together by small words (I, the, to, you); a list of keywords is not."""
        for a, b in _pieces(self.text, _SENTENCE_SEP):
            if not self._visible(a, b) or _CJK.search(self.text, a, b):
                continue
            words = _WORD.findall(self.text, a, b)
            if len(words) < self.g.function_word_min_tokens:
                continue
            small = sum(1 for w in words if w in self.ph.function_words)
            if small / len(words) < self.g.min_function_word_share:
                self._set_aside(a, b, _KEYWORDS)
                self._note_gaming(a, b, _KEYWORDS)

    def find_padding(self) -> None:
        view = self.view()
        buyer = {g for g in _bigrams(normalize(self.ctx.buyer_message or "")) if _CJK.match(g)}
        marked = bytearray(len(view) + 1)  # where a word that ties the text to the job begins
        # a clause that asks the buyer something ("是什么品牌、哪一年的", "座椅缝里有没有卡扣") is on the topic
        matchers = [self.ph.service, self.cues.vocabulary, self.ph.question, self.ph.q_patterns, self.ph.q_interrogatives,
                    *(self.ph.signals[n] for n in (*_POSITIVE, *_NEGATIVE))]
        for m in matchers:
            for a, _, _ in m.find(view):
                marked[a] = 1
        # so is a step taken for her ("I'll resend it today", "我给您补发"), in words the scenario's list lacks —
        # when the step is what the clause is about, not a few words glued onto small talk
        steps = self.ph.actions.find(view) + self.ph.remedies.find(view)
        idle: list[tuple[int, int]] = []
        for a, b in _pieces(self.text, _CLAUSE_SEP):
            piece = view[a:b]
            if not self._visible(a, b) or _content_len(piece) < self.g.padding_min_chars:
                continue
            step = sum(_content_len(view[max(x, a):min(y, b)]) for x, y, _ in steps if x < b and a < y)
            relevant = (any(marked[a:b]) or any(c.isdigit() for c in piece) or bool(_bigrams(piece) & buyer)
                        or step >= self.g.padding_step_share * _content_len(piece))
            if not relevant:
                idle.append((a, b))
        idle_chars = sum(_content_len(self.text[a:b]) for a, b in idle)
        if idle_chars < self.g.padding_min_total or idle_chars < self.g.padding_min_share * _content_len(self.text):
            return  # a remark or two off the topic is conversation, not padding
        for a, b in idle:
            self._set_aside(a, b, _PADDING)
            self._note_gaming(a, b, _PADDING)

    # -- substance -----------------------------------------------------------------------
    def substance(self) -> float:
        total = _content_len(self.text)
        if total == 0:
            return 0.0
        view = self.view()
        kept = _content_len(view)
        if kept == 0:
            return 0.0
        hits = self.positive_hits(view)
        covered = [False] * len(view)
        for a, b, _ in hits:
            for i in range(a, b):
                covered[i] = True
        free = sum(1 for i, c in enumerate(view)
                   if not covered[i] and c not in self.ph.fillers and c.isalnum())
        # a keyword is worth nothing by itself, a longer phrase ("让您久等了") carries some meaning
        free += sum(max(0, (b - a) - 2) for a, b in _longest_first(hits))
        density = min(1.0, free / (self.g.min_free_share * kept))
        value = (kept / total) * density
        if density < self.g.stuffing_density and kept >= self.g.stuffing_min_chars:
            spans = _pieces(view, _CLAUSE_SEP)
            if spans:
                self._note_gaming(spans[0][0], spans[-1][1], _KEYWORDS)
            self.mask = [m if m is not None else _KEYWORDS for m in self.mask]
        me = _alnum(self.text)
        if me and any(_alnum(normalize(h)) == me for h in self.ctx.history):
            value *= self.g.repeat_reply_factor
            self.notes.append("repeats an earlier reply word for word")
        return round(max(0.0, min(1.0, value)), 3)

    # -- signals -------------------------------------------------------------------------
    def quote(self, a: int, b: int) -> str:
        """The original text behind normalised positions [a, b)."""
        if a >= b or a >= len(self.where):
            return ""
        return self.raw[self.where[a]:self.where[min(b, len(self.where)) - 1] + 1]

    def refused_after(self, text: str, end: int, matcher: Matcher | None = None) -> bool:
        """A refusal after the hit in the same sentence: "私下转账这个真不行", "加微信是不允许的"."""
        m = _SENT_END.search(text, end)
        stop = m.start() if m else len(text)
        return bool((matcher or self.ph.after_negators).find(text[end:min(stop, end + 24)]))

    def negated(self, text: str, start: int, kind: str = "", end: int | None = None) -> bool:
        whole = kind in self.ph.book.negators.clause_scope
        sep = _SCOPE_SEP if whole else _CLAUSE_SEP
        clause_start = start
        while clause_start > 0 and not sep.match(text[clause_start - 1]):
            clause_start -= 1
        prefix = text[clause_start:start]
        if any(prefix.rstrip().endswith(n) for n in self.ph.near_negators):
            return True
        if end is not None and kind in self.ph.book.negators.after_scope and self.refused_after(text, end):
            return True
        if end is not None and kind == "over_promise" and self.refused_after(text, end, self.ph.after_promise):
            return True  # "开除他这个我决定不了" declines what it names
        if kind in ("over_promise", "breach") and any(w in prefix for w in self.ph.book.over_promise.reported_speech):
            return True  # "您要求按退一赔十赔偿" repeats her claim; "您的诉求我转交法务" still offers a remedy
        if whole and any(w in prefix for w in self.ph.asked):
            m = _SENT_END.search(text, start)
            if m and text[m.start()] in "?？" and self.ph.asked_reason.find(text[end or start:m.start()]) \
                    and not self.ph.asked_then.find(text[m.end():]):
                return True  # "您想私下转账,主要是为了价格,还是…?" asks why she wants it ("您想加微信吗?" offers it)
        if kind == "empathy":
            if end is not None and self._soothed(text, start, end):
                return True  # "吊牌剪了也别担心" asks her to stop feeling it; it names no feeling of hers
            # "三天没有更新,确实让人着急": a negation in the situation it names does not deny the feeling
            return bool(re.search(r"(不|没|别)(理解|明白|懂)|无法理解", prefix[-6:]))
        window = self.ph.book.negators.window
        if whole:
            near = prefix
        else:
            near = prefix[-window:] if _CJK.search(text[start:start + 2] or "x") else prefix[-window * 3:]
        english, chinese = _split_negators(self.ph.clause_negators)
        return any(n in near for n in chinese) or bool(english and english.search(near))

    def _soothed(self, text: str, start: int, end: int) -> bool:
        """A feeling word in the hit comes right after "别/不用/不必…" ("也别担心", "不用着急")."""
        for a, _b, _ in self.ph.feelings.find(text[start:end]):
            before = text[max(0, start + a - 2):start + a]
            if any(before.endswith(n) for n in self.ph.book.soothing_negators):
                return True
        return False

    def first(self, text: str, matcher: Matcher, kind: str,
              exclude: list[tuple[int, int]] | None = None) -> tuple[int, int] | None:
        """The first hit that is not negated (and not inside an over-promise: "保证明天送到" is no commitment)."""
        for a, b, _ in matcher.find(text):
            if exclude and any(a < y and x < b for x, y in exclude):
                continue
            if kind in _NEGATABLE and self.negated(text, a, kind, b):
                continue
            if kind == "privacy_breach" and not self._private(text[a:b]):
                continue
            if kind in self.ph.book.citing.signals and self._cites_a_right(text, a, b):
                continue
            return a, b
        return None

    def _cites_a_right(self, text: str, a: int, b: int) -> bool:
        """The hit cites the page or a rule ("页面写着", "这是规定") and what follows it in the sentence is a right
        of the buyer's ("支持七天无理由退货"), with no refusal or blame there: reassurance, not blame."""
        if not self.ph.citations.find(text[a:b]):
            return False
        m = _SENT_END.search(text, b)
        end = m.start() if m else len(text)
        # a refusal or blame anywhere later in the sentence undoes it ("…支持七天无理由退货,您当时下单就该看清楚")
        if self.ph.citing_refusals.find(text[b:end]):
            return False
        after = text[b:min(end, b + self.ph.book.citing.window)]
        return any(not self.negated(text, b + x) for x, _, _ in self.ph.grants.find(after))

    def _private(self, hit: str) -> bool:
        digits = re.sub(r"\D", "", hit)
        if len(digits) < 11:
            return True  # a phrase, not a number
        buyer = re.sub(r"\D", "", normalize(self.ctx.buyer_message or ""))
        return digits not in buyer and digits not in self.cues.protected_digits

    def span(self, signal: Signal, a: int, b: int, detail: str = "", compact: bool = False) -> Span:
        """Evidence for a hit at [a, b) of the normal text (of its compact form when `compact`)."""
        if compact:
            a, b = self.pmap[a], self.pmap[max(a, b - 1)] + 1
        # quote the whole clause the hit sits in, so evidence reads as the trainee wrote it
        while a < b - 1 and _CLAUSE_SEP.match(self.text[a]):
            a += 1
        while b > a + 1 and _CLAUSE_SEP.match(self.text[b - 1]):
            b -= 1
        ca, cb = a, b
        while ca > 0 and not _CLAUSE_SEP.match(self.text[ca - 1]) and a - ca < 40:
            ca -= 1
        while cb < len(self.text) and not _CLAUSE_SEP.match(self.text[cb]) and cb - b < 40:
            cb += 1
        ra = self.where[a] if a < len(self.where) else len(self.raw)
        rb = self.where[b - 1] + 1 if 0 < b <= len(self.where) else ra
        return Span(signal, self.quote(ca, cb).strip(), ra, rb, detail)


def _repeat_runs(s: str, a: int, b: int) -> Iterator[tuple[int, int, int]]:
    """Runs in s[a:b] of a unit of 2–8 characters said twice or more ("好的好的", "抱歉抱歉抱歉"), left to right,
    shortest unit first, not starting or ending inside an English word or a number: (start, end, unit length).

    The regular expression this replaces, (?<![a-z0-9])(.{2,8}?)\1+(?![a-z0-9]), backtracked over every start of
    a long run ("a a a … ok", "亲,亲,…") and took seconds on a hostile reply; this scan is linear: a unit whose run
    cannot end on a word boundary is not tried again inside that run."""
    blocked = [0] * 9  # blocked[L]: starts before this index cannot give a run of unit length L
    i = a
    while i + 4 <= b:
        if i > 0 and s[i - 1] in _ASCII_ALNUM:
            i += 1
            continue
        hit = None
        for size in range(2, 9):
            if i + 2 * size > b:
                break
            if i < blocked[size]:
                continue
            unit = s[i:i + size]
            if "\n" in unit:
                continue
            k = 1
            while i + (k + 1) * size <= b and s.startswith(unit, i + k * size):
                k += 1
            if k < 2:
                continue
            end = i + k * size
            if end < b and s[end] in _ASCII_ALNUM:
                if s[i] in _ASCII_ALNUM:  # every shorter run also ends before a letter of this unit
                    blocked[size] = end - size
                    continue
                k, end = k - 1, end - size  # one unit less ends before s[i], which is no letter
            if k >= 2:
                hit = (i, end, size)
                break
        if hit:
            yield hit
            i = hit[1]
        else:
            i += 1


def _longest_first(hits: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Non-overlapping hits, longest first: "抱歉理解改派" is three keywords, not one phrase."""
    taken: list[tuple[int, int]] = []
    starts: list[int] = []  # the starts of `taken`, kept sorted: an overlap is looked up, not scanned for
    ends: list[int] = []
    for a, b, _ in sorted(hits, key=lambda h: (h[0] - h[1], h[0])):
        i = bisect_left(starts, a)
        if (i > 0 and ends[i - 1] > a) or (i < len(starts) and starts[i] < b):
            continue
        starts.insert(i, a)
        ends.insert(i, b)
        taken.append((a, b))
    return taken


def _clause_end(text: str, pos: int) -> int:
    """Where the clause that holds position `pos` of `text` ends."""
    m = _CLAUSE_SEP.search(text, pos)
    return m.start() if m else len(text)


def _covered(hits: list[tuple[int, int, str]]) -> int:
    pos: set[int] = set()
    for a, b, _ in hits:
        pos.update(range(a, b))
    return len(pos)


def _cue_hits(r: "_Reader", text: str, table, label: str, signal: Signal,
              compact: bool = False, exclude: list[tuple[int, int]] | None = None) -> tuple[set[str], list[Span]]:
    """Which of a scenario's cue lists (resolutions, policies) the text shows, with the evidence
    (hits overlapping `exclude`, ranges of `text`, are not counted)."""
    ids: set[str] = set()
    spans: list[Span] = []
    for cue_id, matcher in table:
        hit = r.first(text, matcher, label, exclude=exclude)
        if hit:
            ids.add(cue_id)
            spans.append(r.span(signal, *hit, detail=cue_id, compact=compact))
    return ids, spans


def read_reply(reply: str, ctx: ReplyContext) -> Signals:
    """What the reply contains, in context, as the rules reader sees it (the offline default).

    Deterministic; never raises on any string. Other readers (shifu.reading.readers) produce the same Signals.
    """
    reply = reply if isinstance(reply, str) else ("" if reply is None else str(reply))
    if not reply.strip():
        return Signals(substance=0.0, notes=("empty reply",))
    r = _Reader(reply, ctx, phrases(), _scenario_cues(ctx.scenario))
    r.find_injection()
    r.find_repeats()
    r.find_copies()
    r.find_stuffing()
    r.find_padding()
    substance = r.substance()
    stock_only = _stock_only(r)
    if stock_only:
        substance = 0.0
        r.notes.append("stock phrases only")

    good = r.view()                 # positives: only genuine text
    # negatives: all but the buyer's own words, with spaces between Chinese characters closed ("赔您十 倍")
    fair, fmap = compact_map(r.view(keep=(_INJECTION, _REPEATED, _KEYWORDS, _PADDING)))
    fmap.append(len(good))
    r.pmap = fmap
    spans: list[Span] = []
    never_hits = [(fmap[a], fmap[b - 1] + 1) for _, _, m in r.cues.never for a, b, _ in m.find(fair)]
    promise_hits = _over_promise_hits(r, fair)
    promise_good = [(fmap[a], fmap[b - 1] + 1) for a, b, _ in promise_hits]
    history = [_alnum(normalize(h)) for h in ctx.history]
    for name in _POSITIVE:
        hit = r.first(good, r.ph.signals[name], name, exclude=never_hits + promise_good)
        if not hit:
            continue
        if name in ("greeting", "self_intro") and ctx.history:
            continue  # "亲" greets once, at the start; every turn it is a habit, not a greeting
        if name in _ONCE and _said_before(r, good, hit, history):
            continue
        spans.append(r.span(Signal(name), *hit))
    if not any(sp.signal is Signal.empathy for sp in spans):
        hit = _feeling(r, good) or _grounded_stock_empathy(r, good)
        if hit and not _said_before(r, good, hit, history):
            spans.append(r.span(Signal.empathy, *hit, detail="feeling"))
    for name in _NEGATIVE:
        hit = r.first(fair, r.ph.signals[name], name)
        if hit:
            spans.append(r.span(Signal(name), *hit, compact=True))

    stall_cues = [(a, b) for a, b, _ in r.ph.signals["stalling"].find(good)]
    # a remedy in the clause of a vague stalling phrase ("一般情况下我们会尽快安排发货") names no step
    vague_stalls = [(a, _clause_end(good, b)) for a, b in stall_cues if any(v in good[a:b] for v in r.ph.vague_actions)]
    resolutions, found = _cue_hits(r, good, r.cues.accepts, "solution", Signal.solution, exclude=vague_stalls)
    # "在加急处理了" names a remedy word inside a stalling phrase: that is no remedy
    found = [sp for sp in found if not _inside_stall(r, good, sp, stall_cues)]
    resolutions = {sp.detail for sp in found}
    if not found:  # a concrete remedy in words the scenario's cues do not know: a solution without an id
        hit = r.first(good, r.ph.remedies, "solution", exclude=never_hits + promise_good + vague_stalls)
        if hit:
            found = [r.span(Signal.solution, *hit, detail="remedy")]
    spans += found
    kinds = {rid: kind for rid, kind, _ in r.cues.never}
    offers, offer_spans = _cue_hits(r, fair, [(rid, m) for rid, _, m in r.cues.never], "over_promise", Signal.over_promise,
                                    compact=True)
    spans += [sp for sp in offer_spans if kinds[sp.detail] == "over_promise"]
    spans += [Span(Signal.breach, sp.quote, sp.start, sp.end, sp.detail) for sp in offer_spans if kinds[sp.detail] == "breach"]
    if not any(sp.signal is Signal.over_promise for sp in spans) and promise_hits:
        a, b, why = promise_hits[0]
        spans.append(r.span(Signal.over_promise, a, b, detail=why, compact=True))
    ok, found = _cue_hits(r, good, r.cues.policy_ok, "policy_correct", Signal.policy_correct)
    spans += found
    bad, found = _cue_hits(r, fair, r.cues.policy_bad, "policy_wrong", Signal.policy_wrong, compact=True)
    spans += found

    # a remedy in the same sentence as a wrong offer is part of that offer ("全额退款,鞋子您也不用退了";
    # "私下给您发个20的红包"): a mentor credits no solution there
    bad_offer = [(sp.start, sp.end) for sp in spans
                 if sp.signal in (Signal.over_promise, Signal.breach, Signal.off_platform_payment, Signal.privacy_breach)]
    if bad_offer:
        sentences = [(r.where[a], r.where[b - 1] + 1) for a, b in _pieces(good, _SENTENCE_SEP) if b > a]
        tainted = [(x, y) for x, y in sentences if any(x <= a < y or x < b <= y for a, b in bad_offer)]
        spans = [sp for sp in spans if sp.signal is not Signal.solution
                 or not any(x <= sp.start < y for x, y in tainted)]
        resolutions = {sp.detail for sp in spans if sp.signal is Signal.solution and sp.detail in resolutions}
    wrong = {Signal.arguing, Signal.breach, Signal.privacy_breach, Signal.off_platform_payment}
    if any(sp.signal in wrong for sp in spans):
        # "您说得对,我们确实违反了广告法…" agrees in order to give in: a mentor credits no empathy here
        spans = [sp for sp in spans if sp.signal is not Signal.empathy]
    questions = _questions(r, good)
    if questions:
        qa, qb = questions[0]
        spans.append(Span(Signal.question, r.quote(qa, qb).strip(), r.where[qa], r.where[qb - 1] + 1, "question"))
    choice = _choice_of_plans(r, good, questions)
    if choice and not any(sp.signal is Signal.consensus_check for sp in spans):
        spans.append(r.span(Signal.consensus_check, *choice, detail="choice"))
    probed = _probes(r, good, spans, questions)
    actions = r.ph.actions.find(fair)
    has = {sp.signal for sp in spans}
    # a deadline alone ("今天18点前给您一个满意的答复") is no plan: it promises an answer, not a step
    plan = bool(resolutions or actions or choice or has & {Signal.solution, Signal.retention_offer, Signal.policy_correct,
                                                           Signal.over_promise}
                or _plan_in_history(r, ctx))
    plan = plan or bool(has & {Signal.breach, Signal.off_platform_payment})  # a wrong offer is still an offer
    # "麻烦您把截图发我一下好吗?" asks for something, not for agreement to a plan
    spans = [sp for sp in spans if sp.signal is not Signal.consensus_check or not r.ph.q_requests.find(normalize(sp.quote))]
    if not plan:  # "您看这样可以吗?" with nothing proposed asks for agreement to nothing
        spans = [sp for sp in spans if sp.signal is not Signal.consensus_check or _proposes(r, good, sp)]
    # asking to wait is read on the fair text: "马上处理马上处理马上处理" is set aside as a repeat, but still a stall
    stall_fair = r.first(fair, r.ph.signals["stalling"], "stalling")
    # "已经帮您催促仓库了" passes the problem on and changes nothing for the buyer: still waiting
    # "我们会尽快为您安排" names no step, nor does an act inside such a vague stalling phrase
    vague_fair = [(a, b) for a, b, _ in r.ph.signals["stalling"].find(fair)
                  if any(v in fair[a:b] for v in r.ph.vague_actions)]
    doing = [(a, b) for a, b, _ in actions if not (r.ph.passing_on and fair[a:b].endswith(r.ph.passing_on))
             and not any(v in fair[a:b] for v in r.ph.vague_actions)
             and not any(x <= a and b <= y for x, y in vague_fair)]
    concrete = bool(resolutions or doing or probed or choice or has & {Signal.time_commitment, Signal.probe})
    if stall_fair and not concrete:
        spans.append(r.span(Signal.stalling, *stall_fair, compact=True))
        spans = [sp for sp in spans if sp.signal is not Signal.follow_up]  # "有消息通知您" with nothing done is waiting
        if not (has & {Signal.empathy, Signal.solution, Signal.policy_correct, Signal.retention_offer}):
            substance = 0.0  # asking the buyer to wait, and nothing else: no content to earn points with
            r.notes.append("stalling only")
    creditable = {Signal.solution, Signal.probe, Signal.time_commitment, Signal.policy_correct, Signal.retention_offer,
                  Signal.empathy, Signal.follow_up, Signal.summary}
    if not stock_only and not resolutions and _stock_heavy(r):
        # a signal or an act said only in a stock formula ("积极跟进", "正在为您申请处理方案") is part of the
        # formula, and an act that names no step (passing it on, "尽快安排") is none: neither lifts a reply
        # that is mostly stock phrases out of "stock only"
        formula = _in_stock(r, good)
        if not any(sp.signal in creditable and not formula(sp.start, sp.end) for sp in spans) \
                and not any(not formula(r.where[fmap[a]], r.where[fmap[b - 1]] + 1) for a, b in doing):
            stock_only, substance = True, 0.0
            r.notes.append("stock phrases only")
    if stock_only:
        keep = {Signal.stalling, Signal.question, *(Signal(n) for n in _NEGATIVE), Signal.over_promise,
                Signal.breach, Signal.policy_wrong}
        spans = [sp for sp in spans if sp.signal in keep]
        resolutions, ok, probed = set(), set(), set()
    spans.extend(r.gaming)
    spans.sort(key=lambda s: (s.start, s.signal.value))
    return Signals(
        spans=tuple(spans),
        probed_facts=frozenset(probed),
        resolutions=frozenset(resolutions),
        forbidden_offers=frozenset(offers),
        policies_correct=frozenset(ok),
        policies_wrong=frozenset(bad),
        substance=substance,
        injection=any(s.detail == _INJECTION for s in r.gaming),
        notes=tuple(r.notes) + tuple(f"set aside: {s.detail}" for s in r.gaming),
        offer_spans=tuple(offer_spans),
    )


_FIRST_PERSON = re.compile(r"我|咱")


def _grounded_stock_empathy(r: _Reader, good: str) -> tuple[int, int] | None:
    """"非常理解您的心情" right next to the buyer's situation in the same sentence ("收到有瑕疵的杯子、盒子还压坏了,
    非常理解您的心情"; "非常理解您的心情,券没用上给您添麻烦了"). Alone, or next to what the agent does, it is stock."""
    stock = [(a, b) for a, b, _ in r.ph.stock.find(good)]

    def situation(a: int, b: int, need_you: bool) -> bool:
        piece = good[a:b]
        if _FIRST_PERSON.search(piece) or "?" in piece or "？" in piece:
            return False
        covered = sum(min(b, y) - max(a, x) for x, y in stock if x < b and a < y)
        if _content_len(piece) - covered < 4:
            return False
        return not need_you or bool(re.search(r"您|你", piece))

    for a, b, _ in r.ph.stock_empathy.find(good):
        if r.negated(good, a, "empathy", b):
            continue
        clauses = _pieces(good, _CLAUSE_SEP)
        i = next((k for k, (x, y) in enumerate(clauses) if x <= a < y), None)
        if i is None:
            continue
        j = i - 1
        while j >= 0 and not _SENTENCE_SEP.search(good, clauses[j][1], clauses[j + 1][0]) and \
                all(any(x <= k < y for x, y in stock) for k in range(*clauses[j]) if good[k].isalnum()):
            j -= 1  # skip stock clauses before it ("真的非常抱歉,给您添麻烦了")
        if j >= 0 and not _SENTENCE_SEP.search(good, clauses[j][1], clauses[i][0]) and situation(*clauses[j], False):
            return a, b
        if i + 1 < len(clauses) and not _SENTENCE_SEP.search(good, clauses[i][1], clauses[i + 1][0]) \
                and situation(*clauses[i + 1], True):
            return a, b
    return None


def _feeling(r: _Reader, good: str) -> tuple[int, int] | None:
    """A clause that names the buyer's feeling or trouble in the trainee's own words ("蹲了一晚上没用上,确实气人").
    Not a stock phrase ("理解您的心情"), not a request to stop feeling ("您别着急"), not in a question."""
    stock = [(a, b) for a, b, _ in r.ph.stock.find(good)]
    for a, b, _ in r.ph.feelings.find(good):
        if any(x <= a and b <= y for x, y in stock):
            continue
        before = good[max(0, a - 3):a]
        if any(n in before for n in r.ph.book.soothing_negators) or r.negated(good, a, "empathy", b):
            continue
        m = _SENT_END.search(good, b)
        if m and good[m.start()] in "?？":
            continue
        if good.startswith(("不了", "不到", "不上"), b):
            continue  # "耽误不了" promises, it does not acknowledge
        ca = a
        while ca > 0 and not _CLAUSE_SEP.match(good[ca - 1]):
            ca -= 1
        subject = good[ca:a]
        if r.ph.empathy_dismissals.find(subject):
            continue  # questioning the feeling ("我不理解您为什么这么生气") dismisses it
        cb = b
        while cb < len(good) and not _CLAUSE_SEP.match(good[cb]):
            cb += 1
        if r.ph.empathy_conditionals.find(good[ca:cb]):
            continue  # "嫌折腾的话,…" supposes a feeling in order to offer a choice; it names none
        if r.ph.empathy_self.find(subject) and not r.ph.empathy_buyer_side.find(subject):
            continue  # the agent's own feeling ("我们也很无奈") is not the buyer's
        return a, b
    return None


def _proposes(r: _Reader, good: str, sp: Span) -> bool:
    """The consensus question carries its own proposal ("要不要我们把发票单独发您邮箱?")."""
    a = good.find(normalize(sp.quote)) if sp.quote else -1
    sentence = normalize(sp.quote)
    return bool(r.ph.plan_words.find(sentence)) and a >= 0


def _inside_stall(r: _Reader, good: str, sp: Span, stall_cues: list[tuple[int, int]]) -> bool:
    """Is this remedy cue part of a stalling phrase ("正在加急处理中")?"""
    for a, b, _ in r.ph.signals["stalling"].find(good):
        q = r.quote(a, b)
        if q and q in sp.quote and len(sp.quote) <= len(q) + 6:
            return True
    return False


def _said_before(r: _Reader, good: str, hit: tuple[int, int], history: list[str]) -> bool:
    """The clause that carries this signal was already said in an earlier reply of the conversation."""
    if not history:
        return False
    a, b = hit
    while a > 0 and not _CLAUSE_SEP.match(good[a - 1]):
        a -= 1
    while b < len(good) and not _CLAUSE_SEP.match(good[b]):
        b += 1
    clause = _alnum(good[a:b])
    hit_text = _alnum(good[hit[0]:hit[1]])
    return any((clause and clause in h) or (len(hit_text) >= 4 and hit_text in h) for h in history)


def _plan_in_history(r: _Reader, ctx: ReplyContext) -> bool:
    for h in ctx.history[-3:]:
        text = normalize(h)
        if any(m.find(text) for _, m in r.cues.accepts) or r.ph.actions.find(text):
            return True
    return False


def _stock_only(r: _Reader) -> bool:
    """Nothing but stock service phrases (理解您的心情/非常抱歉/请耐心等待/您看可以吗…), greetings and particles.
    A remedy or one of the scenario's plans outside the stock phrases is something, however short ("亲,我帮您改派")."""
    rest, _ = _stock_rest(r)
    if rest > r.ph.book.stock_only_max_rest:
        return False
    good = r.view()
    inside = _in_stock(r, good)
    plans = [(a, b) for _, m in r.cues.accepts for a, b, _ in m.find(good)]
    plans += [(a, b) for a, b, _ in r.ph.remedies.find(good)]
    return all(inside(r.where[a], r.where[b - 1] + 1) for a, b in plans)


def _stock_heavy(r: _Reader) -> bool:
    """What is not a stock phrase is at most `stock_heavy_max_share` of the reply's content."""
    rest, total = _stock_rest(r)
    return total > 0 and rest <= r.ph.book.stock_heavy_max_share * total


def _in_stock(r: _Reader, good: str) -> Callable[[int, int], bool]:
    """A test on raw reply positions [start, end): do all letters and digits there lie inside stock phrases
    (phrases.yaml `stock_phrases`, `stock_patterns`) found in the genuine text `good`?"""
    cover = [False] * (len(r.raw) + 1)
    for a, b, _ in r.ph.stock.find(good):
        for i in range(r.where[a], r.where[b - 1] + 1):
            cover[i] = True

    def inside(start: int, end: int) -> bool:
        letters = [i for i in range(start, min(end, len(r.raw))) if r.raw[i].isalnum()]
        return bool(letters) and all(cover[i] for i in letters)
    return inside


def _stock_rest(r: _Reader) -> tuple[int, int]:
    """(characters of content outside stock phrases, characters of content), set-aside text not counted."""
    text = r.view()  # set-aside text (a grader-aimed line, repeats) is no content either
    covered = [False] * len(text)
    name = normalize(r.ctx.scenario.persona.name)
    hits = r.ph.stock.find(text) + [(m.start(), m.end(), name) for m in re.finditer(re.escape(name), text)] if name else \
        r.ph.stock.find(text)
    for a, b, _ in hits:  # stock phrases that overlap ("亲亲的问题小二已经收到了", "小二") cover their union
        for i in range(a, b):
            covered[i] = True
    content = [i for i, c in enumerate(text) if c.isalnum() and c not in r.ph.fillers]
    return sum(1 for i in content if not covered[i]), len(content)


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def _cn_number(s: str) -> float | None:
    """Arabic or Chinese numerals ("一百", "五十", "两千五") as a number; None when not a number."""
    try:
        return float(s)
    except ValueError:
        pass
    total, section, digit = 0, 0, None
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            unit = _CN_UNITS[c]
            if unit == 10000:
                total = (total + section + (digit or 0)) * unit
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit = None
        else:
            return None
    return float(total + section + (digit or 0))


@lru_cache(maxsize=8)
def _split_negators(negators: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """English negators as one word-bounded pattern, the others as plain substrings (compiled once)."""
    english = [n for n in negators if re.match(r"[a-z]", n)]
    pattern = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(n) for n in english) + r")(?![a-z])") if english else None
    return pattern, tuple(n for n in negators if not re.match(r"[a-z]", n))


def _over_promise_hits(r: _Reader, text: str) -> list[tuple[int, int, str]]:
    """Over-promises by structure: guarantees of what the shop does not control, waived returns,
    compensation above the scenario's limit (numbers compared as numbers)."""
    out: list[tuple[int, int, str]] = []
    for a, b, _ in r.ph.over_promise.find(text):
        if not r.negated(text, a, "over_promise", b):
            out.append((a, b, "guarantee"))
    limits = r.ctx.scenario.context.limits
    if not limits.return_waiver_allowed:
        for a, b, _ in r.ph.waived_return.find(text):
            out.append((a, b, "waived_return"))
    if limits.max_compensation_yuan is not None:
        cap = limits.max_compensation_yuan
        paying = {a for sa, sb in _pieces(text, _SENTENCE_SEP) if r.ph.compensation_words.find(text[sa:sb])
                  for a in range(sa, sb)}  # sentences that speak of compensation ("按规定应该退一赔十,给您申请12900元")
        reported = r.ph.book.over_promise.reported_speech
        for a, b in _pieces(text, _CLAUSE_SEP):
            clause = text[a:b]
            if not (a in paying or r.ph.amount.search(clause)):
                continue  # neither an amount nor a sentence about compensation: nothing to compare (and cheap)
            if any(w in clause for w in reported) or r.negated(text, a, "over_promise", b):
                continue
            refund = r.ph.refund_words.find(clause)
            for m in r.ph.amount.finditer(clause):
                value = _cn_number(m.group(1) or m.group(2))
                if value is None or value <= cap:
                    continue
                if m.group(2) is None and a not in paying:
                    continue  # an amount is compensation when a verb of paying leads it or the sentence says so
                if refund and value >= r.ctx.scenario.context.amount_yuan * 0.99:
                    continue  # refunding the order is not compensation
                out.append((a + m.start(), a + m.end(), f"amount>{cap:g}"))
            if a not in paying:
                continue
            for x, y, _ in r.ph.multiples.find(clause):
                if r.ctx.scenario.context.amount_yuan * 2 > cap:
                    out.append((a + x, a + y, "multiple"))
    out.sort()
    return out


def _questions(r: _Reader, good: str) -> list[tuple[int, int]]:
    """Sentences that ask the buyer something, by grammar (end particle or ?, A-not-A, choice, wh-word,
    a polite request "麻烦发下…/您说下…"); statements like "有什么问题随时找我" are not questions."""
    out: list[tuple[int, int]] = []
    q = r.ph
    for a, b in _pieces(good, _SENTENCE_SEP):
        end = min(len(good), b + 1)
        sentence = good[a:end]
        if not sentence.strip() or q.q_indirect.find(sentence):
            continue  # "能不能今天到,要看仓库几点拆包": it names a question and answers it
        found = False
        for ca, cb in _pieces(sentence, _CLAUSE_SEP):
            clause = sentence[ca:cb]
            if q.q_not.find(clause):
                continue
            tail = clause.rstrip(" ~~!.。~哦啊呀哈亲")
            if q.q_patterns.find(clause) or (tail and tail[-1] in q.q_end and not tail.endswith(("没", "么")) ):
                found = True
                break
            if tail and tail[-1] in ("么", "没") and q.q_interrogatives.find(clause) is not None and len(tail) > 2:
                found = True
                break
            if q.q_interrogatives.find(clause) and (sentence.rstrip().endswith(("?", "？")) or b >= len(good.rstrip())):
                found = True
                break
        if not found and sentence.rstrip().endswith("?"):
            found = True
        if found:
            out.append((a, end))
    return out


def _choice_of_plans(r: _Reader, good: str, questions: list[tuple[int, int]]) -> tuple[int, int] | None:
    """A choice between plans ("是先把退货开起来,还是等法务答复?"): a consensus check."""
    for a, b in questions:
        sentence = good[a:b]
        i = sentence.find("还是")
        if i < 0:
            i = sentence.find(" or ")
        if i < 0:
            continue
        # "您是卡在预算上,还是担心发票?" asks which fact is true; a choice of plans names what the agent would do
        # or asks her to pick ("您看要哪个")
        if not (_offers_act(r, sentence) or r.ph.q_choosing.find(sentence)):
            continue
        if r.ph.plan_words.find(sentence[:i]) or r.ph.plan_words.find(sentence[i + 2:]):
            return a + i, a + i + 2
    return None


def _offers_act(r: _Reader, text: str) -> bool:
    """The text names something the agent would do: an action, a remedy, or one of the scenario's accepted plans."""
    return bool(r.ph.actions.find(text) or r.ph.remedies.find(text) or any(m.find(text) for _, m in r.cues.accepts))


def _probes(r: _Reader, good: str, spans: list[Span], questions: list[tuple[int, int]]) -> set[str]:
    """Questions that look for the cause: which hidden facts they target (one span per fact).
    A question asking for agreement or a choice between plans is not a probe."""
    probed: set[str] = set()
    if not questions:
        return probed
    agree = r.ph.signals["consensus_check"]
    # a question that only asks for agreement ("您看这样可以吗?") is no probe, unless it also asks for something
    fact_asks = [(a, b) for a, b in questions if not agree.find(good[a:b]) or r.ph.q_requests.find(good[a:b])]
    # "谁心里能舒服?", "…您说是吧?" assert a feeling or seek a nod; they ask for no fact
    fact_asks = [(a, b) for a, b in fact_asks if not r.ph.q_rhetorical.find(good[a:b])]
    # a choice between things the agent would do ("是我让网点改派到家,还是放到城西驿站?") offers plans, it
    # traces no cause, even when a plan names a fact ("寄家里还是寄公司?" names no act of the agent's and still asks)
    fact_asks = [(a, b) for a, b in fact_asks
                 if not (_choice_of_plans(r, good, [(a, b)]) and _offers_act(r, good[a:b]))]
    # for the generic kinds, a choice of plans or an offer to act ("方便的话我现在就发给您?") is no probe either;
    # a fact the question names still counts ("寄家里还是寄公司?" asks where she can receive it)
    asks = [(a, b) for a, b in fact_asks
            if not _choice_of_plans(r, good, [(a, b)]) and not r.ph.actions.find(good[a:b])]
    if not fact_asks:
        return probed

    def masked(keep: list[tuple[int, int]]) -> str:
        chars = [" "] * len(good)
        for a, b in keep:
            chars[a:b] = good[a:b]
        return "".join(chars)

    asked_facts, asked = masked(fact_asks), masked(asks)

    def first(m: Matcher, text: str) -> tuple[int, int] | None:
        # no negation here: "有没有/是不是" is how Chinese asks, not a denial
        hits = m.find(text)
        return (hits[0][0], hits[0][1]) if hits else None

    for fid, m in r.cues.facts:
        hit = first(m, asked_facts)
        if hit:
            probed.add(fid)
            spans.append(r.span(Signal.probe, *hit, detail=fid))
    # once the reply settles a plan, a question about carrying it out ("发货日定在哪天?", "您一般几点下班?我到点提醒您")
    # arranges the plan; it traces no cause. A question naming a hidden fact still does (above).
    settled = [sp.end for sp in spans if sp.signal is Signal.solution and sp.detail != "remedy"]
    if settled:
        asks = [(a, b) for a, b in asks if r.where[a] < min(settled)]
    if not probed and asks:
        for kid, m in r.cues.kinds:
            hit = first(m, asked)
            if hit:
                spans.append(r.span(Signal.probe, *hit, detail=f"kind:{kid}"))
                break
        else:
            # a question about the buyer's own situation ("您家车是哪款?", "孩子现在怎么样?") looks for facts too
            for a, b in asks:
                if r.ph.q_addressees.find(good[a:b]) and not r.ph.q_not.find(good[a:b]):
                    spans.append(r.span(Signal.probe, a, b, detail="question"))
                    break
    return probed


