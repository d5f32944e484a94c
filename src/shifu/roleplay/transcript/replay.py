"""Replies played through the role-play engine: a saved transcript checked by replaying it, never
believed as written, and a fresh transcript made from a list of replies (`play_script`).

The trainee's replies are the only thing taken from the file. They are played again through the
role-play engine (the rules decide mood, facts revealed and outcome); with the offline scripted
voice and the seed from the session line, the replay must say exactly the buyer lines the file
holds, or the file was edited. An LLM-voiced conversation cannot be matched line by line: its
outcome is still recomputed from the replies, and the result says so.

What is scored is the replayed conversation, with the reply times removed: they are measured on
the trainee's own machine (self-reported) and count only as formative feedback until a service the
trainee does not control records them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shifu.roleplay.engine_rules import load_rules
from shifu.content.errors import ShifuError
from shifu.grading.wording import grading_text
from shifu.roleplay.scenario import Scenario, is_course_scenario
from shifu.roleplay.transcript.records import EndRecord, SessionRecord, Transcript, TurnRecord, read_transcript

SCRIPTED = "scripted"


@dataclass
class Checked:
    """The outcome of checking one transcript file.

    accepted: False when the file cannot be believed (reason says why, in the trainee's words).
    timed / untimed: the replayed conversation with the recorded reply times (formative only) and
    without them (what is scored). llm_voiced: buyer lines were not matched. notes: sentences for
    the trainee's feedback; mentor: lines for the mentor (shifu grade's reasons).
    """

    accepted: bool
    reason: str = ""
    timed: Transcript | None = None
    untimed: Transcript | None = None
    outcome: str = "ongoing"
    llm_voiced: bool = False
    times_trusted: bool = False  # reply times measured by the hub service (recorded_by service), not the trainee's kernel
    notes: list[str] = field(default_factory=list)
    mentor: list[str] = field(default_factory=list)
    replies: tuple[str, ...] = ()
    # (trainee turn, grader/engine.yaml demand id) for each reply that left the buyer's question unanswered
    unanswered: tuple[tuple[int, str], ...] = ()


def _rejected(reason: str, replies: tuple[str, ...] = (), mentor: str = "") -> Checked:
    return Checked(False, reason=reason, replies=replies, mentor=[mentor] if mentor else [])


def _structure_problem(t: Transcript) -> str | None:
    """The engine writes buyer 0, then trainee k, buyer k for k = 1, 2, ...; anything else was not written by it."""
    text = grading_text().transcript
    expected_role, expected_turn = "buyer", 0
    for i, rec in enumerate(t.turns, start=1):
        if rec.role != expected_role or rec.turn != expected_turn:
            return text.out_of_order.format(line=i)
        if rec.role == "trainee" and not rec.text.strip():
            return text.empty_reply.format(turn=rec.turn)
        if rec.role == "buyer":
            expected_role, expected_turn = "trainee", rec.turn + 1
        else:
            expected_role = "buyer"
    return None


def check_transcript(source: str | Path | Transcript, scenario_id: str | None = None,
                     scenario: "Scenario | None" = None) -> Checked:
    """Read (a path) or take (a Transcript already read), replay and compare one transcript; never raises on
    what the file holds.

    scenario_id: the scenario the assignment expects; None takes the one the file names (a file shown to a
    mentor, progress evidence: nothing to compare it with). scenario: the loaded scenario `scenario_id`
    names (loaded here when not given). Raises ShifuError only when the scenario itself cannot be loaded
    (a course problem, not the trainee's).
    """
    from shifu.roleplay.engine import Engine
    from shifu.roleplay.scenario import load_scenario

    text = grading_text().transcript
    if isinstance(source, Transcript):
        t, name = source, source.path.name if source.path is not None else "(transcript)"
    else:
        name = Path(source).name
        try:
            t = read_transcript(source)
        except ShifuError as exc:
            problem = exc.problems[0].message if getattr(exc, "problems", None) else str(exc)
            return _rejected(text.rejected.format(name=name, reason=text.unreadable.format(problem=problem)),
                             mentor=f"{name}: unreadable transcript ({problem})")
    replies = tuple(r.text for r in t.trainee_turns())
    if scenario_id is None:
        # the scenario the file names must be one of the course's (an id, never a path: load_scenario also reads
        # a YAML file, and the trainee can write one next to the transcript)
        if not is_course_scenario(t.scenario):
            return _rejected(text.rejected.format(name=name, reason=text.unknown_scenario.format(found=t.scenario)),
                             replies, f"{name}: names {t.scenario!r}, which is not a scenario of the course")
        scenario_id = t.scenario
    if t.scenario != scenario_id:
        return _rejected(text.rejected.format(name=name, reason=text.wrong_scenario.format(found=t.scenario, expected=scenario_id)),
                         replies, f"{name}: transcript of scenario {t.scenario!r}, expected {scenario_id!r}")
    if not replies:
        return _rejected(text.rejected.format(name=name, reason=text.no_replies), replies, f"{name}: no trainee turns")
    if not t.buyer_turns():
        return _rejected(text.rejected.format(name=name, reason=text.no_buyer), replies,
                         f"{name}: rejected, no buyer turns (not written by the chat widget)")
    rules = load_rules()
    too_long = next((r for r in t.trainee_turns() if len(r.text) > rules.max_reply_chars), None)
    if too_long is not None:
        return _rejected(text.rejected.format(name=name, reason=text.too_long.format(
            turn=too_long.turn, chars=len(too_long.text), limit=rules.max_reply_chars)), replies,
            f"{name}: rejected, reply {too_long.turn} is {len(too_long.text)} characters (limit {rules.max_reply_chars})")
    problem = _structure_problem(t)
    if problem:
        return _rejected(text.rejected.format(name=name, reason=problem), replies, f"{name}: rejected, turns out of order")

    scenario = scenario if scenario is not None else load_scenario(scenario_id)
    llm = t.session.backend != SCRIPTED
    engine = Engine(scenario, backend=None, seed=t.session.seed, transcript_path=None)
    opening = engine.opening()
    for rec in t.trainee_turns():
        if engine.state.ended:
            return _rejected(text.rejected.format(name=name, reason=text.after_end.format(turn=rec.turn)), replies,
                             f"{name}: rejected, replies after the conversation had ended")
        engine.respond(rec.text, latency_s=rec.latency_s)
    replayed = [opening] + [turn.buyer for turn in engine.turns]
    recorded = [r.text for r in t.buyer_turns()]
    if not llm:
        # a process killed mid-turn may lose the buyer's answer to the last reply, nothing more
        complete = recorded == replayed or (recorded == replayed[:-1] and t.turns[-1].role == "trainee")
        if not complete:
            at = next((i for i, (a, b) in enumerate(zip(recorded, replayed)) if a != b), min(len(recorded), len(replayed)))
            return _rejected(text.rejected.format(name=name, reason=text.buyer_mismatch.format(turn=at)), replies,
                             f"{name}: rejected, buyer line of turn {at} differs from the replay (the file was edited)")

    state = engine.state
    outcome = state.outcome if state.ended else ("abandoned" if t.end is not None else "ongoing")
    checked = Checked(True, timed=_rebuilt(t, engine, outcome, timed=True), untimed=_rebuilt(t, engine, outcome, timed=False),
                      outcome=outcome, llm_voiced=llm, replies=replies,
                      times_trusted=t.session.recorded_by == "service",
                      unanswered=tuple((turn.turn, turn.decision.demand) for turn in engine.turns
                                       if turn.decision.unanswered and turn.decision.demand))
    said = getattr(text.outcomes, outcome, outcome)
    checked.notes.append(text.replayed.format(outcome=said))
    if llm:
        checked.notes.append(text.llm_voiced)
        checked.mentor.append(f"{name}: LLM-voiced ({t.session.backend}); buyer lines not matched, outcome recomputed from the replies")
    written = t.end.outcome if t.end is not None else "ongoing"
    if written != outcome and not (written == "ongoing" and outcome == "abandoned"):
        checked.mentor.append(f"{name}: the file says {written!r}, the replay gives {outcome!r} (the replay counts)")
    return checked


def _rebuilt(t: Transcript, engine, outcome: str, timed: bool) -> Transcript:  # type: ignore[no-untyped-def]
    """The replayed conversation as a transcript: recorded replies, the engine's buyer lines, state and end."""
    session = SessionRecord(scenario=t.scenario, backend=t.session.backend, seed=t.session.seed, started=t.session.started,
                            trainee=t.session.trainee)
    ts = t.session.started
    first = engine.turns[0].mood_before if engine.turns else engine.state.mood
    turns = [TurnRecord(turn=0, role="buyer", text=engine.history[0][1], ts=ts, mood_before=first, mood_after=first,
                        backend=SCRIPTED)]
    for turn in engine.turns:
        turns.append(TurnRecord(turn=turn.turn, role="trainee", text=turn.reply, ts=ts,
                                latency_s=turn.latency_s if timed else None, mood_before=turn.mood_before,
                                mood_after=turn.mood_after, signals=list(turn.signals), revealed=list(turn.revealed),
                                backend=turn.backend))
        turns.append(TurnRecord(turn=turn.turn, role="buyer", text=turn.buyer, ts=ts, mood_before=turn.mood_after,
                                mood_after=turn.mood_after, revealed=list(turn.revealed), backend=turn.backend))
    s = engine.state
    end = None
    if s.ended or t.end is not None:
        end = EndRecord(ts=ts, outcome=outcome if outcome != "ongoing" else "abandoned",
                        escalation=s.escalation.value if s.escalation else None,
                        facts_revealed=list(s.revealed), resolution=s.resolution)
    return Transcript(path=t.path, session=session, turns=turns, end=end)


def play_script(scenario: Scenario, turns: list[tuple[str, float]], path: Path, trainee: str | None = None,
                seed: int = 0, stop_after: int | None = None) -> str:
    """Play (reply, latency in seconds) pairs through the engine with the offline scripted voice, writing a
    fresh transcript at `path` (an old file there is replaced); return the outcome.

    Used for the reference transcripts beside source notebooks and the demo cohort: such a transcript
    grades exactly like one a trainee makes in the chat widget. stop_after: leave the chat after that many
    replies. Raises ShifuError when the engine cannot be imported (the project is not installed).
    """
    try:
        from shifu.roleplay.engine import Engine
    except ImportError as exc:
        raise ShifuError(f"the role-play engine is not available ({exc}) — fix: install the project with `make setup`") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    engine = Engine(scenario, backend=None, seed=seed, transcript_path=path, trainee=trainee)
    engine.opening()
    for i, (reply, latency) in enumerate(turns):
        if stop_after is not None and i >= stop_after:
            break
        if engine.state.ended:
            break
        engine.respond(reply, latency_s=latency)
    return str(engine.finish().outcome)
