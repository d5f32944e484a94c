"""The offline buyer voice: lines written in the scenario, chosen to fit the conversation so far.

Purity (what transcript replay relies on): the line is a pure, deterministic function of
(scenario, seed, conversation so far). "Conversation so far" is the trainee's replies and what the
engine made of them (the buyer state, facts told, offers made, facts asked for, the signals of the
reply being answered) plus the buyer's own earlier lines, which were themselves produced the same
way. There is no hidden random state: the random choice among fitting lines is seeded with
(seed, scenario id, turn, state). So a grader who replays a transcript's trainee replies through the
same reader and rules with the same seed regenerates every scripted buyer line exactly, and a line
that differs from the recorded one means the transcript was edited.

What the voice guarantees, given conditions written on the lines (scenarios/README.md):
- a line is said only when its `when` holds and its `unless` does not: the buyer never mentions an
  offer, a department or a figure nobody said, nor a fact she has not told;
- hidden facts are told only with their own reveal lines, when the engine says so (asked for);
- no line is said twice while another fitting line is left; when a state's lines are used up she
  falls back on grader/buyer_lines.yaml, and only when those are used up too does a line come back
  (never the one just said);
- a question from the agent is answered (a fact asked for again is told again in other words) or
  acknowledged before the line for the state;
- what the engine says she waits for (VoiceRequest.demand, grader/engine.yaml `demands`) is what she
  asks for, and a line tagged `asks:` is said only while she waits for exactly that.
"""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Iterable

from pydantic import Field

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.roleplay.scenario import BuyerLine, LineCondition, Scenario
from shifu.reading.vocab import BuyerState
from shifu.content.yamlio import Strict, cached_by_file, load_model, require_shipped
from shifu.roleplay.voices import OnText, Utterance, VoiceRequest

_Lines = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=3)]


class BuyerLineBook(Strict):
    """grader/buyer_lines.yaml: the lines every scripted buyer may fall back on."""


    fallback: dict[BuyerState, _Lines]
    acknowledging: _Lines
    already_told: _Lines
    # per demand id of grader/engine.yaml `demands`: lines that ask for it, said while she waits for it
    asks: dict[str, _Lines] = Field(default_factory=dict)


def line_book_path() -> Path:
    return paths.grader_dir() / "buyer_lines.yaml"


def _read_book(path: Path) -> BuyerLineBook:
    book = load_model(path, BuyerLineBook, guide="the comments in grader/buyer_lines.yaml")
    missing = [s.value for s in BuyerState if s not in book.fallback]
    if missing:
        raise ShifuError([Problem(display_path(path), "fallback", f"no lines for {', '.join(missing)}",
                                  "add a list of at least 3 lines for every buyer state")])
    from shifu.roleplay.engine_rules import load_rules

    demand_ids = [d.id for d in load_rules().demands]
    problems = [Problem(display_path(path), f"asks.{k}", f"{k!r} is not a demand id in grader/engine.yaml `demands`",
                        f"use one of: {', '.join(demand_ids) or 'none'}") for k in book.asks if k not in demand_ids]
    problems += [Problem(display_path(path), "asks", f"no lines for the demand {d!r} of grader/engine.yaml",
                         f"add `{d}:` under `asks:` with at least 3 lines that ask for it")
                 for d in demand_ids if d not in book.asks]
    if problems:
        raise ShifuError(problems)
    return book


def line_book(path: Path | None = None) -> BuyerLineBook:
    """The fallback lines from grader/buyer_lines.yaml (re-read when the file changes)."""
    p = require_shipped(Path(path) if path else line_book_path())
    return cached_by_file(p, _read_book)


@lru_cache(maxsize=4096)
def _plain(text: str) -> str:
    """Text compared for `said:` conditions: width-folded, lower-case, without spaces or invisible characters."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc"))


@dataclass(frozen=True)
class Heard:
    """What the conversation holds when the buyer speaks: what line conditions are checked against."""

    offers: frozenset[str] = frozenset()  # accepts / never_offer ids the agent offered so far
    asked: frozenset[str] = frozenset()  # hidden-fact ids the agent asked for so far
    revealed: frozenset[str] = frozenset()  # hidden-fact ids the buyer had told before this line
    replies: tuple[str, ...] = ()  # the agent's replies so far, through _plain
    buyer: tuple[str, ...] = ()  # the buyer's own earlier lines, through _plain
    question: bool = False  # the reply being answered asks the buyer something
    signals: frozenset[str] = frozenset()  # signals of the reply being answered
    demand: str | None = None  # what the engine says she now waits for (a grader/engine.yaml `demands` id)

    @classmethod
    def of(cls, request: VoiceRequest) -> "Heard":
        replies = [text for role, text in request.history if role == "trainee"]
        if request.reply:
            replies.append(request.reply)
        return cls(offers=frozenset(request.offers), asked=frozenset(request.asked), revealed=frozenset(request.revealed),
                   replies=tuple(_plain(r) for r in replies), buyer=tuple(_plain(b) for b in request.said),
                   question=request.question,
                   signals=frozenset(request.signals), demand=request.demand)


def holds(cond: LineCondition, heard: Heard) -> bool:
    """Every key given holds; a list holds when any one of its items does."""
    if cond.offered and not heard.offers.intersection(cond.offered):
        return False
    if cond.asked and not heard.asked.intersection(cond.asked):
        return False
    if cond.revealed and not heard.revealed.intersection(cond.revealed):
        return False
    if cond.said and not any(_plain(w) in r for w in cond.said for r in heard.replies):
        return False
    if cond.mentioned and not any(_plain(w) in t for w in cond.mentioned for t in (*heard.replies, *heard.buyer)):
        return False
    if cond.signals and not heard.signals.intersection(s.value for s in cond.signals):
        return False
    if cond.question is not None and cond.question != heard.question:
        return False
    return True


def fits(line: BuyerLine, heard: Heard) -> bool:
    """`when` holds, `unless` does not, and a line that asks for something (`asks`) is said only while the
    engine says she waits for exactly that (so she never asks "几点?" once a time was given)."""
    return ((line.when is None or holds(line.when, heard)) and (line.unless is None or not holds(line.unless, heard))
            and (line.asks is None or line.asks == heard.demand))


def _fresh(options: Iterable[str], said: tuple[str, ...], taken: list[str]) -> list[str]:
    return [o for o in options if o not in taken and not any(o in s for s in said)]


def _choose(tiers: list[list[str]], said: tuple[str, ...], taken: list[str], rng: random.Random) -> str:
    """A line not said yet from the first tier that has one; when all were said, the one said longest
    ago (never the line just said, when there is another)."""
    for options in tiers:
        fresh = _fresh(options, said, taken)
        if fresh:
            return rng.choice(fresh)
    every = list(dict.fromkeys(o for t in tiers for o in t))
    last = said[-1] if said else ""
    usable = [o for o in every if o not in taken and o not in last] or every

    def last_said(o: str) -> int:
        return max((i for i, s in enumerate(said) if o in s), default=-1)
    return min(usable, key=lambda o: (last_said(o), usable.index(o)))


# the states in which she is still talking it over, and so asks for what she waits for
_ASKING = (BuyerState.angry, BuyerState.calming, BuyerState.probing)


def _state_tiers(scenario: Scenario, state: BuyerState, heard: Heard, book: BuyerLineBook) -> list[list[str]]:
    fitting = [line for line in scenario.lines.options(state) if fits(line, heard) and line.asks is None]
    # a line written for this moment ("法务什么时候联系我?" once 法务 was said) comes before a general one
    return [[line.text for line in fitting if line.when is not None],
            [line.text for line in fitting if line.when is None],
            list(book.fallback[state])]


def _state_line(scenario: Scenario, state: BuyerState, heard: Heard, book: BuyerLineBook, said: tuple[str, ...],
                taken: list[str], rng: random.Random) -> str:
    """The line for the state. While she waits for something (heard.demand) and is still talking it over,
    the line voices it, so what she says and what the engine expects of the next reply agree: one of the
    scenario's own lines that asks for it (`asks:`), else the line for the moment followed by a generic
    ask from grader/buyer_lines.yaml `asks`."""
    if heard.demand and state in _ASKING:
        own = [x.text for x in scenario.lines.options(state) if x.asks == heard.demand and fits(x, heard)]
        if _fresh(own, said, taken):
            return _choose([own], said, taken, rng)
        line = _choose(_state_tiers(scenario, state, heard, book), said, taken, rng)
        return line + _choose([list(book.asks.get(heard.demand, ()))], said, [*taken, line], rng)
    return _choose(_state_tiers(scenario, state, heard, book), said, taken, rng)


def scripted_line(scenario: Scenario, state: BuyerState | None, seed: int, turn: int,
                  reveal: tuple[str, ...] = (), said: tuple[str, ...] = (), heard: Heard | None = None,
                  asked_now: tuple[str, ...] = (), book: BuyerLineBook | None = None) -> str:
    """The buyer's line: reveal lines for newly told facts (or an answer to a question), then a line for the
    state that voices what she waits for (heard.demand), if anything.

    reveal: hidden-fact ids the engine tells in this line; said: the buyer's earlier lines; heard: the
    conversation the line conditions are checked against (None: nothing heard yet); asked_now:
    hidden-fact ids the reply being answered asked for; book: the fallback lines (None: grader/buyer_lines.yaml).
    Pure: see the module docstring.
    """
    heard = heard or Heard()
    rng = random.Random(f"{seed}|{scenario.id}|{turn}|{state.value if state else 'opening'}")
    taken: list[str] = []
    if state is None:
        return _choose([list(scenario.lines.opening)], said, taken, rng)
    book = book or line_book()
    for fid in reveal:
        taken.append(_choose([list(scenario.hidden_fact(fid).reveal)], said, taken, rng))
    answering = state in (BuyerState.angry, BuyerState.calming, BuyerState.probing)
    if not reveal and answering and heard.question:
        again = [f for f in asked_now if f in heard.revealed]
        if again:  # asked once more for what she already told: she says it again, in other words
            told = [r for f in again for r in scenario.hidden_fact(f).reveal]
            taken.append(_choose([told, list(book.already_told)], said, taken, rng))
        else:
            own = [line.text for line in scenario.lines.acknowledging if fits(line, heard)]
            taken.append(_choose([own, list(book.acknowledging)], said, taken, rng))
    taken.append(_state_line(scenario, state, heard, book, said, taken, rng))
    return "".join(taken)


class ScriptedVoice:
    name = "scripted"

    def __init__(self) -> None:
        self._book: BuyerLineBook | None = None  # read on first use: an opening needs no fallback lines

    def speak(self, request: VoiceRequest, on_text: OnText | None = None) -> Utterance:
        if self._book is None and request.state is not None:
            self._book = line_book()
        heard = Heard.of(request)
        text = scripted_line(request.scenario, request.state, request.seed, request.turn, request.reveal,
                             request.said, heard, request.asked_now, self._book)
        if on_text is not None:
            on_text(text)
        return Utterance(text=text, backend=self.name)
