"""The role-play engine: a trainee talks to a simulated buyer who reacts to how they are spoken to.

The engine keeps the score (mood, patience, facts revealed, resolution, outcome) with the pure
rules in engine_rules.py; a backend only gives the buyer a voice. Every turn is on disk before
the next one starts, and a transcript replays to the same outcome.

With the scripted voice the buyer's lines replay too: each line is a pure function of (scenario,
seed, conversation so far), so feeding a transcript's trainee replies to a new Engine with the same
scenario and seed regenerates the recorded buyer lines exactly (backends/scripted.py). The voice is
told what the engine made of the conversation (offers made, facts asked for, the signals and any
question of the reply) in VoiceRequest, so it only says what fits.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from shifu.roleplay.voices import OnText, Voice, VoiceRequest, make_voice
from shifu.roleplay.engine_rules import (Decision, EngineRules, EngineState, initial_state, load_rules, replay_turns,
                                        step)
from shifu.content.errors import ShifuError, display_path
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.reading import readers
from shifu.reading.signals import ReplyContext, Signals
from shifu.roleplay.transcript import EndRecord, SessionRecord, Transcript, TranscriptWriter, TurnRecord, as_transcript, now_iso, read_transcript
from shifu.roleplay.transcript.context import opening_lines, replies_in_context
from shifu.reading.vocab import BuyerState

Reader = Callable[[str, ReplyContext], Signals]


@dataclass(frozen=True)
class Turn:
    """One exchange: the trainee's reply, what it did, and the buyer's answer."""

    turn: int
    reply: str
    buyer: str
    latency_s: float | None
    signals: tuple[str, ...]
    mood_before: int
    mood_after: int
    revealed: tuple[str, ...]
    buyer_state: BuyerState
    backend: str
    outcome: str
    escalation: str | None
    decision: Decision
    notice: str | None = None


@dataclass(frozen=True)
class FactDebrief:
    id: str
    fact: str
    question_kind: str
    uncovered: bool


@dataclass(frozen=True)
class Debrief:
    """What a mentor and trainee look at after the conversation."""

    outcome: str
    escalation: str | None
    resolution: str | None
    mood: int
    turns: int
    facts: tuple[FactDebrief, ...] = field(default_factory=tuple)
    # (turn, demand id) of each reply that left unanswered what the buyer asked for (grader/engine.yaml `demands`)
    unanswered: tuple[tuple[int, str], ...] = ()

    @property
    def uncovered(self) -> list[FactDebrief]:
        return [f for f in self.facts if f.uncovered]

    @property
    def missed(self) -> list[FactDebrief]:
        return [f for f in self.facts if not f.uncovered]


class Engine:
    """One conversation with one buyer.

    backend: None or "scripted" (offline), "openai" (settings from shifu.llm.config), or a voice object.
    transcript_path: where every turn is appended (JSONL); None keeps the conversation in memory only.
    """

    def __init__(self, scenario: Scenario | str, backend: Voice | str | None = None, seed: int = 0,
                 transcript_path: str | Path | None = None, trainee: str | None = None, *,
                 rules: EngineRules | None = None, reader: Reader | None = None):
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.voice = make_voice(backend)
        self.seed = int(seed)
        self.trainee = trainee
        self.rules = rules or load_rules()
        self._read: Reader = reader or readers.active()  # the same reader the rubric uses (SHIFU_READER)
        self._state = initial_state(self.scenario)
        self.turns: list[Turn] = []
        self.history: list[tuple[str, str]] = []  # (role, text), oldest first
        self.notices: list[str] = []
        self.transcript_path = Path(transcript_path) if transcript_path else None
        self._writer: TranscriptWriter | None = None
        self._opening: str | None = None
        self._ended_written = False
        self._buyer_done_at = time.monotonic()

    # -- state -----------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def backend_name(self) -> str:
        return self.voice.name

    @property
    def last_buyer_line(self) -> str:
        for role, text in reversed(self.history):
            if role == "buyer":
                return text
        return ""

    def elapsed_since_buyer(self) -> float:
        """Seconds since the buyer's last line was complete: the trainee's response time."""
        return time.monotonic() - self._buyer_done_at

    # -- conversation ----------------------------------------------------------------------
    def opening(self, on_text: OnText | None = None) -> str:
        """The buyer's first line (said once; later calls return the same line)."""
        if self._opening is not None:
            return self._opening
        self._write_session()
        req = VoiceRequest(scenario=self.scenario, state=None, mood=self._state.mood, turn=0, seed=self.seed)
        utt = self.voice.speak(req, on_text)
        self._note(utt.notice)
        self._opening = utt.text
        self.history.append(("buyer", utt.text))
        self._record_buyer(0, utt.text, (), utt.backend)
        self._buyer_done_at = time.monotonic()
        return utt.text

    def respond(self, reply: str, latency_s: float | None = None, on_text: OnText | None = None) -> Turn:
        """Apply one trainee reply and return the buyer's answer. The reply is on disk before the buyer speaks."""
        if self._opening is None:
            self.opening()
        if self._state.ended or self._ended_written:
            raise ShifuError(f"the conversation has ended ({self._state.outcome if self._state.ended else 'abandoned'}) "
                             "— fix: start a new session")
        text = (reply or "").strip()
        if not text:
            raise ShifuError("the reply is empty — fix: type what you would say to the buyer")
        if len(text) > self.rules.max_reply_chars:
            raise ShifuError(f"the reply is {len(text)} characters long, more than the {self.rules.max_reply_chars} "
                             "a chat reply may have (grader/engine.yaml max_reply_chars) — fix: say it in fewer words")
        before = self._state
        decision = self._apply(text, latency_s)
        self._record(TurnRecord(turn=self._state.turn, role="trainee", text=text, ts=now_iso(), latency_s=latency_s,
                                mood_before=decision.mood_before, mood_after=decision.mood_after,
                                signals=list(decision.signals), revealed=list(decision.revealed), backend=self.backend_name),
                     sync=False)  # flushed now (survives a killed process); fsync'd with the buyer's line
        return self._voice_turn(text, latency_s, decision, before, on_text)

    def finish(self) -> EndRecord:
        """Close the transcript: the outcome, or "abandoned" when the buyer is still waiting."""
        end = self._end_record()
        if not self._ended_written:
            if self._opening is None:
                self._write_session()
            self._record(end)
            self._ended_written = True
        if self._writer is not None:
            self._writer.close()
        return end

    def debrief(self) -> Debrief:
        s = self._state
        facts = tuple(FactDebrief(f.id, f.fact, f.uncovered_by, f.id in s.revealed) for f in self.scenario.hidden_facts)
        outcome = s.outcome if s.ended or not self._ended_written else "abandoned"
        unanswered = tuple((t.turn, t.decision.demand) for t in self.turns
                           if t.decision.unanswered and t.decision.demand is not None)
        return Debrief(outcome=outcome, escalation=s.escalation.value if s.escalation else None, resolution=s.resolution,
                       mood=s.mood, turns=s.turn, facts=facts, unanswered=unanswered)

    # -- resuming --------------------------------------------------------------------------
    @classmethod
    def resume(cls, path: str | Path, backend: Voice | str | None = None, *, rules: EngineRules | None = None,
               reader: Reader | None = None, finished: bool = False) -> "Engine":
        """Continue a conversation from its transcript: the trainee turns replay through the rules,
        the buyer's lines are kept as they were. A reply whose answer was lost gets one now.

        finished: the transcript may have ended; an ended one is opened to be looked at (history, state,
        debrief), nothing is written to it and respond() refuses. Raises ShifuError for an ended
        transcript otherwise, or one that cannot be read.
        """
        t = read_transcript(path)
        if t.end is not None and not finished:
            raise ShifuError(f"{display_path(path)}: the conversation has already ended ({t.end.outcome}) "
                             "— fix: start a new session with another transcript path")
        eng = cls(t.session.scenario, backend=backend if backend is not None else t.session.backend, seed=t.session.seed,
                  transcript_path=None, trainee=t.session.trainee, rules=rules, reader=reader)
        pending: tuple[str, float | None, Decision, EngineState] | None = None

        def heard(buyer: TurnRecord) -> None:  # a recorded buyer line: kept as it was, it answers the pending reply
            nonlocal pending
            if buyer.turn == 0:
                eng._opening = buyer.text
            eng.history.append(("buyer", buyer.text))
            if pending is not None:
                reply, latency, decision, _ = pending
                eng.turns.append(eng._turn(reply, buyer.text, latency, decision, buyer.backend, None))
                pending = None

        for buyer in opening_lines(t):
            heard(buyer)
        for said in replies_in_context(t, eng.scenario):
            if not eng._state.ended:
                rec, before = said.record, eng._state
                pending = (rec.text, rec.latency_s, eng._apply(rec.text, rec.latency_s, said.context), before)
            for buyer in said.answers:
                heard(buyer)
        eng.transcript_path = Path(path)
        if t.end is not None:  # looked at, never written to again
            eng._ended_written = True
            eng._opening = eng._opening if eng._opening is not None else ""
            return eng
        eng._writer = TranscriptWriter(path)
        if eng._opening is None and not t.turns:
            req = VoiceRequest(scenario=eng.scenario, state=None, mood=eng._state.mood, turn=0, seed=eng.seed)
            utt = eng.voice.speak(req)
            eng._opening = utt.text
            eng.history.append(("buyer", utt.text))
            eng._record_buyer(0, utt.text, (), utt.backend)
        elif eng._opening is None:
            eng._opening = ""  # a transcript that starts with a trainee turn: nothing to open with
        if pending is not None:
            reply, latency, decision, before = pending
            eng._voice_turn(reply, latency, decision, before, None)
        eng._buyer_done_at = time.monotonic()
        return eng

    # -- internals -------------------------------------------------------------------------
    def _apply(self, reply: str, latency_s: float | None, recorded: ReplyContext | None = None) -> Decision:
        """Read one reply and step the rules. recorded: the reply's context as a transcript holds it (when
        resuming); its facts are replaced by the ones this engine's rules revealed (the file is not believed)."""
        if recorded is None:
            ctx = ReplyContext(scenario=self.scenario, buyer_message=self.last_buyer_line,
                               history=tuple(text for role, text in self.history if role == "trainee"),
                               revealed=frozenset(self._state.revealed), latency_s=latency_s)
        else:
            ctx = replace(recorded, revealed=frozenset(self._state.revealed))
        signals = self._read(reply, ctx)
        self._state, decision = step(self._state, signals, self.scenario, self.rules, latency_s)
        self.history.append(("trainee", reply))
        return decision

    def _voice_turn(self, reply: str, latency_s: float | None, decision: Decision, before: EngineState,
                    on_text: OnText | None) -> Turn:
        s = self._state
        req = VoiceRequest(scenario=self.scenario, state=decision.buyer_state, mood=s.mood, turn=s.turn, seed=self.seed,
                           reveal=decision.revealed, revealed=before.revealed,
                           said=tuple(text for role, text in self.history if role == "buyer"),
                           history=tuple(self.history[:-1]), reply=reply, escalation=s.escalation,
                           offers=s.offers, asked=s.asked, asked_now=decision.asked, question=decision.question,
                           signals=decision.signals, demand=s.demand)
        utt = self.voice.speak(req, on_text)
        self._note(utt.notice)
        self.history.append(("buyer", utt.text))
        self._record_buyer(s.turn, utt.text, decision.revealed, utt.backend, sync=not s.ended)
        if s.ended:
            self._record(self._end_record())
            self._ended_written = True
        turn = self._turn(reply, utt.text, latency_s, decision, utt.backend, utt.notice)
        self.turns.append(turn)
        self._buyer_done_at = time.monotonic()
        return turn

    def _turn(self, reply: str, buyer: str, latency_s: float | None, decision: Decision, backend: str,
              notice: str | None) -> Turn:
        s = self._state
        return Turn(turn=s.turn, reply=reply, buyer=buyer, latency_s=latency_s, signals=decision.signals,
                    mood_before=decision.mood_before, mood_after=decision.mood_after, revealed=decision.revealed,
                    buyer_state=decision.buyer_state, backend=backend, outcome=s.outcome,
                    escalation=s.escalation.value if s.escalation else None, decision=decision, notice=notice)

    def _note(self, notice: str | None) -> None:
        if notice:
            self.notices.append(notice)

    def _write_session(self) -> None:
        self._record(SessionRecord(scenario=self.scenario.id, backend=self.backend_name, seed=self.seed,
                                   started=now_iso(), trainee=self.trainee), sync=False)

    def _record_buyer(self, turn: int, text: str, revealed: tuple[str, ...], backend: str, sync: bool = True) -> None:
        mood = self._state.mood
        self._record(TurnRecord(turn=turn, role="buyer", text=text, ts=now_iso(), latency_s=None, mood_before=mood,
                                mood_after=mood, signals=[], revealed=list(revealed), backend=backend), sync=sync)

    def _record(self, record, sync: bool = True) -> None:
        if self.transcript_path is None:
            return
        if self._writer is None:
            self._writer = TranscriptWriter(self.transcript_path)
        self._writer.write(record, sync=sync)

    def _end_record(self) -> EndRecord:
        s = self._state
        return EndRecord(ts=now_iso(), outcome=s.outcome if s.ended else "abandoned",
                         escalation=s.escalation.value if s.escalation else None,
                         facts_revealed=list(s.revealed), resolution=s.resolution)


def replay(source: str | Path | Transcript, *, rules: EngineRules | None = None,
           reader: Reader | None = None) -> tuple[EngineState, list[Decision]]:
    """Recompute a conversation's state from its transcript's trainee turns; never calls a model."""
    t = as_transcript(source)
    scenario = load_scenario(t.session.scenario)
    rules = rules or load_rules()
    state = initial_state(scenario)
    decisions: list[Decision] = []
    for _turn, _sig, state, decision in replay_turns(replies_in_context(t, scenario), scenario, rules,
                                                      reader or readers.active()):
        decisions.append(decision)
    return state, decisions
