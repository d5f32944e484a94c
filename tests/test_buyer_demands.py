"""Issue 14 (item 3, last part): the buyer asks for something ("几点能给我回话?") and waits for it.

The engine decides what she waits for (grader/engine.yaml `demands`), charges a reply that leaves it
unanswered, and the voice says it. Hand-built Signals test the rules whatever the reader finds; real
conversations through the rules reader, the scripted voice and a transcript test the whole path."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from engine_helpers import played, scenario, sig
from shifu.content import paths
from shifu.content.errors import ShifuError
from shifu.roleplay.engine import Engine, replay
from shifu.roleplay.engine_rules import EngineRules, initial_state, load_rules, step
from shifu.roleplay.scenario import validate_files
from shifu.roleplay.transcript.replay import check_transcript
from shifu.roleplay.voices import VoiceRequest
from shifu.roleplay.voices.scripted import Heard, line_book, scripted_line
from shifu.roleplay.voices.voice_style import load_style
from shifu.reading.vocab import BuyerState, Signal as S

WANG = "late-parcel-wrong-station"  # 王女士: the plan is to reroute the parcel (reroute_today)

# 王女士's conversation: the cause, then the plan without a time
CAUSE = "王女士您好,耽误您这么久真的很抱歉。物流三天不动,是不是显示送到了哪个驿站?您那边有没有接到过快递员电话?"
PLAN = "明白了,是送错了驿站。我这边马上联系快递网点,把包裹从城东驿站改派送到您家。"
# then the plan again with kind words, never the time she asks for
RESTATED = ["您放心,我们一定会联系网点帮您改派,我非常理解您着急的心情,这件事我会一直跟着。",
            "真的很抱歉让您着急了,改派的事我们一定负责到底,您放心交给我。",
            "我明白您周六要用,改派这件事我们会盯紧,请相信我们。",
            "让您这么着急是我们没做好,改派一定会安排好的。"]
# or the time
ANSWERED = "今天下午5点前我给您回电话告诉您改派结果,再送您一张10元无门槛券,您看这样可以吗?"


def unanswered_costs(decision) -> list[tuple[str, float, int]]:
    return [e for e in decision.effects if e[0].startswith("unanswered:")]


# -- the whole path: real reader, scripted voice --------------------------------------------------

@pytest.mark.parametrize("seed", [0, 3])
def test_restating_the_plan_without_the_time_she_asks_for_costs_patience_every_turn(seed):
    eng = played(WANG, [CAUSE, PLAN, *RESTATED], seed=seed)
    plan_turn = eng.turns[1]
    assert plan_turn.decision.offered == ("reroute_today",) and plan_turn.decision.demand is None
    later = eng.turns[2:]
    assert later, "the conversation went on after the plan"
    for t in later:
        assert t.decision.demand == "when" and t.decision.unanswered, t.reply
        assert unanswered_costs(t.decision) == [("unanswered:when", -3.0, 1)]
        assert "unanswered:when" in " ".join(t.decision.notes)
    assert eng.state.outcome == "escalated", "kind words never gave her the time: she ran out of patience"


@pytest.mark.parametrize("seed", [0, 3])
def test_an_agent_who_gives_the_time_ends_better_than_one_who_restates_the_plan(seed):
    restating = played(WANG, [CAUSE, PLAN, *RESTATED], seed=seed)
    answering = played(WANG, [CAUSE, PLAN, ANSWERED], seed=seed)
    assert answering.turns[2].decision.demand == "when" and not answering.turns[2].decision.unanswered
    assert not unanswered_costs(answering.turns[2].decision)
    assert answering.state.outcome == "resolved"
    assert restating.state.outcome == "escalated"
    # turn for turn, the restating agent has less of her patience left from the first restatement on
    eng = played(WANG, [CAUSE, PLAN, RESTATED[0]], seed=seed)
    assert eng.state.patience_left < played(WANG, [CAUSE, PLAN], seed=seed).state.patience_left


def test_the_scripted_buyer_asks_for_the_time_the_engine_waits_for():
    asks_when = set(line_book().asks["when"])
    own = {line.text for state in BuyerState for line in scenario(WANG).lines.options(state) if line.asks == "when"}
    for seed in range(6):
        eng = played(WANG, [CAUSE, PLAN], seed=seed)
        assert eng.state.demand == "when"
        line = eng.turns[-1].buyer
        assert any(x in line for x in asks_when | own), line
    # before the plan she waits for nothing in particular and asks for no time
    for seed in range(6):
        eng = played(WANG, [CAUSE], seed=seed)
        assert eng.state.demand is None
        assert not any(x in eng.turns[-1].buyer for x in asks_when | own)


def test_the_time_answers_the_demand_and_she_stops_asking_for_it():
    eng = played(WANG, [CAUSE, PLAN, ANSWERED.replace(",再送您一张10元无门槛券,您看这样可以吗?", "。")])
    assert eng.turns[-1].decision.demand == "when" and not eng.turns[-1].decision.unanswered
    assert eng.state.committed and eng.state.demand is None
    said = eng.turns[-1].buyer
    assert not any(x in said for x in line_book().asks["when"]), said


@pytest.mark.parametrize("seed", [0, 2])
def test_a_transcript_replays_to_the_same_demands_and_outcome(tmp_path: Path, seed):
    path = tmp_path / "t.jsonl"
    eng = played(WANG, [CAUSE, PLAN, *RESTATED], seed=seed, transcript=path)
    eng.finish()
    state, decisions = replay(path)
    assert state == eng.state
    assert [(d.demand, d.unanswered, d.effects) for d in decisions] == \
           [(t.decision.demand, t.decision.unanswered, t.decision.effects) for t in eng.turns]
    # the buyer lines that voice the demand are regenerated word for word: the file is believed
    checked = check_transcript(path, WANG)
    assert checked.accepted and checked.outcome == "escalated"
    resumed = Engine.resume(path, finished=True)
    assert resumed.state == eng.state


# -- the rules, with signals built by hand ----------------------------------------------------------

def _waiting_for_time(rules: EngineRules):
    sc = scenario(WANG)
    state, _ = step(initial_state(sc), sig(S.solution, offers={"reroute_today"}), sc, rules)
    assert state.demand == "when"
    return sc, state


def test_kind_words_and_the_same_plan_do_not_answer_when_a_time_does():
    rules = load_rules()
    sc, state = _waiting_for_time(rules)
    kept, d = step(state, sig(S.empathy, S.solution, offers={"reroute_today"}), sc, rules)
    assert d.unanswered and unanswered_costs(d) == [("unanswered:when", -3.0, 1)]
    assert kept.patience_left == state.patience_left - 1 and kept.demand == "when"
    timed, d = step(state, sig(S.time_commitment), sc, rules)
    assert not d.unanswered and not unanswered_costs(d) and timed.demand is None
    # a new plan is weighed first: it answers, and she asks for its time next
    other, d = step(state, sig(S.solution, offers={"reship_express"}), sc, rules)
    assert not d.unanswered and other.demand == "when"


def test_nothing_on_the_table_after_two_replies_she_asks_what_will_be_done():
    rules = load_rules()
    sc = scenario(WANG)
    s1, _ = step(initial_state(sc), sig(S.empathy, S.apology), sc, rules)
    assert s1.demand is None, "from_turn: 2 — the first reply may listen first"
    s2, _ = step(s1, sig(S.empathy), sc, rules)
    assert s2.demand == "what"
    # a question that traces the cause answers "what will you do?" (需求追原因), asked again it does not
    s3, d = step(s2, sig(S.probe, S.question, probed={"wrong_station"}), sc, rules)
    assert not d.unanswered
    _, d = step(s3, sig(S.question, probed={"wrong_station"}), sc, rules)
    assert d.unanswered
    # a bare time with nothing said about what ("今天18点前给您答复") holds her once, but does not answer it
    _, d = step(s2, sig(S.time_commitment, S.empathy), sc, rules)
    assert not d.hollow and d.unanswered and unanswered_costs(d) == [("unanswered:what", -3.0, 1)]


def test_a_turn_already_charged_pays_once():
    rules = load_rules()
    sc, state = _waiting_for_time(rules)
    # stalling pays as stalling, not as an unanswered demand too
    after, d = step(state, sig(S.stalling), sc, rules)
    assert d.unanswered and not unanswered_costs(d)
    stalled_only, _ = step(replace(state, demand=None), sig(S.stalling), sc, rules)
    assert after.patience_left == stalled_only.patience_left and after.mood == stalled_only.mood
    # an unforgiven hollow turn pays as hollow
    hollow_state = replace(state, hollow_turns=rules.hollow.free_turns)
    after, d = step(hollow_state, sig(S.empathy), sc, rules)
    assert d.hollow and d.unanswered and not unanswered_costs(d)
    # a harmful turn that already cost patience pays the mood only
    after, d = step(state, sig(S.blame_shifting), sc, rules)
    assert unanswered_costs(d) == [("unanswered:when", -3.0, 0)]


def test_an_ended_conversation_waits_for_nothing():
    rules = load_rules()
    sc, state = _waiting_for_time(rules)
    ended, _ = step(replace(state, patience_left=1), sig(S.forbidden_phrase), sc, rules)
    assert ended.outcome == "escalated" and ended.demand is None


# -- the voices ---------------------------------------------------------------------------------

def test_a_line_that_asks_for_something_else_is_not_said():
    sc = scenario("refund-stuck-warehouse")
    tagged = {line.text for state in BuyerState for line in sc.lines.options(state) if line.asks == "when"}
    assert tagged, "refund-stuck-warehouse has lines that ask for a time"
    for seed in range(8):
        said: list[str] = []
        for turn in range(1, 6):
            said.append(scripted_line(sc, BuyerState.probing, seed, turn, said=tuple(said),
                                      heard=Heard(replies=("回复您",), demand="what")))
        assert not any(t in line for t in tagged for line in said)


def test_the_llm_voice_is_told_what_she_waits_for():
    style = load_style()
    sc = scenario(WANG)
    req = VoiceRequest(scenario=sc, state=BuyerState.probing, mood=50, turn=2, seed=0, reply=PLAN, demand="when")
    prompt = style.messages(req)[-1]["content"]
    assert style.demands["when"] in prompt
    assert style.demands["when"] not in style.messages(replace(req, demand=None))[-1]["content"]
    # once she accepts or leaves she asks for nothing
    assert style.demands["when"] not in style.messages(replace(req, state=BuyerState.accepting))[-1]["content"]


def test_every_demand_has_words_for_both_voices_and_the_debrief():
    from shifu.content.ui_text import ui_text

    ids = [d.id for d in load_rules().demands]
    assert ids, "grader/engine.yaml has demands"
    assert set(ids) <= set(load_style().demands)
    assert set(ids) <= set(ui_text().demand_asked)
    assert all(len(line_book().asks[i]) >= 3 for i in ids)


def test_the_debrief_says_which_replies_left_her_question_unanswered(tmp_path: Path):
    path = tmp_path / "t.jsonl"
    eng = played(WANG, [CAUSE, PLAN, *RESTATED], transcript=path)
    expected = tuple((t.turn, "when") for t in eng.turns[2:])
    assert eng.debrief().unanswered == expected and expected
    assert played(WANG, [CAUSE, PLAN, ANSWERED]).debrief().unanswered == ()
    # a finished conversation opened again says the same (the replay re-derives it)
    eng.finish()
    assert Engine.resume(path, finished=True).debrief().unanswered == expected


# -- bad input: the file, the field and the fix ----------------------------------------------------

def test_a_bad_asks_id_names_the_file_the_field_and_the_fix(tmp_path: Path):
    data = yaml.safe_load((paths.scenarios_dir() / f"{WANG}.yaml").read_text(encoding="utf-8"))
    data["lines"]["probing"].append({"text": "到底几点?", "asks": "sometime"})
    bad = tmp_path / f"{WANG}.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    _, problems = validate_files([bad])
    [p] = problems
    n = len(data["lines"]["probing"]) - 1
    assert p.file.endswith(f"{WANG}.yaml") and p.field == f"lines.probing[{n}].asks"
    assert "'sometime'" in p.message and "what" in p.fix and "when" in p.fix and p.line


def test_a_bad_demand_in_the_engine_rules_is_named(tmp_path: Path):
    src = (paths.grader_dir() / "engine.yaml").read_text(encoding="utf-8")
    for broken, expected in ((src.replace("signals: [time_commitment]}", "signals: [a_time]}"), "answered_by.signals[0]"),
                             (src.replace("  - id: when\n", "  - id: what\n"), "used twice"),
                             (src.replace("answered_by: {new_offer: true, fact_asked: true, signals: [time_commitment]}",
                                          "answered_by: {}"), "nothing would answer")):
        assert broken != src
        path = tmp_path / f"engine_{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(broken, encoding="utf-8")
        with pytest.raises(ShifuError) as exc:
            load_rules(path)
        assert expected in str(exc.value) and "demands" in str(exc.value)


def test_a_bad_demand_id_in_the_generic_lines_is_named(tmp_path: Path):
    src = (paths.grader_dir() / "buyer_lines.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "buyer_lines.yaml"
    bad.write_text(src.replace("\n  when:\n", "\n  wen:\n"), encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        line_book(bad)
    text = str(exc.value)
    assert "asks.wen" in text and "'wen' is not a demand id" in text and "no lines for the demand 'when'" in text
