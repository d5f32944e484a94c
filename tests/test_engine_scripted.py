"""The scripted buyer voice: deterministic, says only what fits the conversation, reveals when asked,
never repeats a line while the conversation lasts, and answers or acknowledges the agent's question."""
from __future__ import annotations

import pytest

from engine_helpers import scenario
from shifu.content import paths
from shifu.roleplay.voices.scripted import Heard, fits, line_book, scripted_line
from shifu.roleplay.engine import Engine
from shifu.reading.signals import Signals, Span
from shifu.reading.vocab import BuyerState, Signal

IDS = sorted(p.stem for p in paths.scenarios_dir().glob("*.yaml") if not p.name.startswith("_"))


def _signals(*names: Signal, probed=(), offers=()) -> Signals:
    return Signals(spans=tuple(Span(n, n.value, 0, 1) for n in names), probed_facts=frozenset(probed),
                   resolutions=frozenset(offers), substance=0.9)


def _probing(reply: str, ctx) -> Signals:
    return _signals(Signal.empathy, Signal.probe)


def _conversation(seed: int, n: int = 5) -> list[str]:
    eng = Engine(scenario("late-parcel-wrong-station"), seed=seed, reader=_probing)
    lines = [eng.opening()]
    for i in range(n):
        lines.append(eng.respond(f"理解您{i}").buyer)
    return lines


def test_same_seed_same_lines():
    assert _conversation(3) == _conversation(3)


def test_seeds_change_the_lines():
    assert len({tuple(_conversation(seed)) for seed in range(6)}) > 1


@pytest.mark.parametrize("scenario_id", IDS)
@pytest.mark.parametrize("state", list(BuyerState))
def test_no_line_repeats_while_the_conversation_lasts(scenario_id, state):
    """The scenario's fitting lines first, then grader/buyer_lines.yaml; only then a line comes back,
    the one said longest ago (never the one just said)."""
    sc = scenario(scenario_id)
    own = [line.text for line in sc.lines.options(state) if fits(line, Heard())]
    # a fallback line inside a line already said counts as said ("就这样吧。" in "行,就这样吧。")
    pool = own + [f for f in line_book().fallback[state] if not any(f in o for o in own)]
    said: list[str] = []
    for turn in range(len(pool)):
        said.append(scripted_line(sc, state, seed=1, turn=turn + 1, said=tuple(said)))
    assert sorted(said[:len(own)]) == sorted(own), "the scenario's own lines come first"
    assert sorted(said) == sorted(pool), "every line once before any line twice"
    again = scripted_line(sc, state, seed=1, turn=99, said=tuple(said))
    assert again == said[0] and again != said[-1], "after a full round, the line said longest ago"


@pytest.mark.parametrize("scenario_id", IDS)
def test_a_state_never_runs_out_of_lines_nor_crashes(scenario_id):
    sc = scenario(scenario_id)
    said: list[str] = []
    for turn in range(60):
        said.append(scripted_line(sc, BuyerState.angry, seed=turn, turn=turn + 1, said=tuple(said)))
    assert all(said) and all(a != b for a, b in zip(said, said[1:]))


@pytest.mark.parametrize("scenario_id", IDS)
def test_a_revealed_fact_is_told_with_its_own_lines(scenario_id):
    sc = scenario(scenario_id)
    calm = [line.text for line in sc.lines.options(BuyerState.calming) if fits(line, Heard())]
    for fact in sc.hidden_facts:
        line = scripted_line(sc, BuyerState.calming, seed=0, turn=2, reveal=(fact.id,))
        assert any(line.startswith(r) for r in fact.reveal)
        assert any(line.endswith(c) for c in calm)
        said = (line,)
        second = scripted_line(sc, BuyerState.calming, seed=0, turn=3, reveal=(fact.id,), said=said)
        assert not any(second.startswith(r) and r in line for r in fact.reveal)


def test_the_opening_comes_from_the_opening_lines():
    sc = scenario("late-parcel-wrong-station")
    assert {Engine(sc, seed=s).opening() for s in range(20)} <= set(sc.lines.opening)


# -- the buyer says nothing nobody said (issue 14's examples) --------------------------------------

def _every_line(sc, state: BuyerState, heard: Heard, seeds=range(12), turns=range(1, 5)) -> set[str]:
    out: set[str] = set()
    for seed in seeds:
        said: list[str] = []
        for turn in turns:
            said.append(scripted_line(sc, state, seed=seed, turn=turn, said=tuple(said), heard=heard))
        out.update(said)
    return out


def test_the_claim_hunter_asks_about_legal_only_once_legal_was_mentioned():
    sc = scenario("claim-hunter-absolute-words")
    sorry = Heard(replies=("非常抱歉给您带来不便",), signals=frozenset({"apology"}))
    lines = _every_line(sc, BuyerState.probing, sorry)
    assert not any("法务" in line for line in lines)
    assert not any("另外两单" in line for line in lines), "the hidden fact was never asked for"
    # the line asks for a time (`asks: when`): said once legal was mentioned and the engine says she waits for a time
    legal = Heard(replies=("您的诉求我已登记,会转交法务合规专员处理",), demand="when")
    assert any("法务什么时候联系我" in line for line in _every_line(sc, BuyerState.probing, legal))
    answered = Heard(replies=("转交法务合规专员,48小时内书面答复您",), demand="when")
    assert not any("法务什么时候联系我" in line for line in _every_line(sc, BuyerState.probing, answered)), \
        "a question just answered is not asked again"
    told = Heard(revealed=frozenset({"three_accounts_thirty_boxes"}), replies=("一共买了多少盒?",))
    assert any("另外两单" in line for line in _every_line(sc, BuyerState.probing, told))


def test_no_question_about_a_price_change_nobody_offered():
    sc = scenario("off-platform-payment")
    plain = Heard(replies=("您好,这边不能加微信,也不能私下转账",))
    assert not any("改价" in line for line in _every_line(sc, BuyerState.probing, plain))
    assert not any("改价" in line for line in _every_line(sc, BuyerState.accepting, plain))
    offered = Heard(replies=("拍下后付款前我在后台给您改价,95折",))
    assert any("改价" in line for line in _every_line(sc, BuyerState.probing, offered))


def test_the_buyer_does_not_ask_where_the_parcel_is_stuck_after_saying_it():
    sc = scenario("late-parcel-wrong-station")
    told = Heard(revealed=frozenset({"wrong_station"}))
    assert not any("卡在哪" in line for line in _every_line(sc, BuyerState.calming, told))
    assert any("卡在哪" in line for line in _every_line(sc, BuyerState.calming, Heard()))


def test_no_complaint_about_blaming_the_courier_when_nobody_blamed_it():
    sc = scenario("late-parcel-wrong-station")
    stall = Heard(replies=("请您耐心等待",), signals=frozenset({"stalling"}))
    assert not any("快递公司" in line for line in _every_line(sc, BuyerState.angry, stall))
    blamed = Heard(replies=("物流的情况我们也没法控制,快递公司那边比较忙",))
    assert any("快递公司" in line for line in _every_line(sc, BuyerState.angry, blamed))


def test_comfort_lines_answer_comfort_not_blame():
    sc = scenario("late-parcel-wrong-station")
    blamed = Heard(replies=("物流的情况我们也没法控制,快递公司那边比较忙",), signals=frozenset({"blame_shifting"}))
    assert not any("舒服点了" in line for line in _every_line(sc, BuyerState.calming, blamed))


# -- answering what the agent just asked ------------------------------------------------------------

def test_a_question_about_something_already_told_is_answered_again_in_other_words():
    sc = scenario("late-parcel-wrong-station")
    fact = sc.hidden_fact("wrong_station")
    first = scripted_line(sc, BuyerState.calming, seed=0, turn=1, reveal=("wrong_station",))
    heard = Heard(revealed=frozenset({"wrong_station"}), asked=frozenset({"wrong_station"}), question=True)
    again = scripted_line(sc, BuyerState.probing, seed=0, turn=2, said=(first,), heard=heard, asked_now=("wrong_station",))
    told_before = next(r for r in fact.reveal if first.startswith(r))
    assert any(again.startswith(r) for r in fact.reveal if r != told_before)


def test_a_question_the_buyer_holds_no_fact_for_is_acknowledged():
    sc = scenario("late-parcel-wrong-station")
    heard = Heard(question=True, replies=("请问您的收货手机号是多少?",))
    line = scripted_line(sc, BuyerState.probing, seed=0, turn=1, heard=heard)
    assert any(line.startswith(a) for a in line_book().acknowledging)
    quiet = scripted_line(sc, BuyerState.probing, seed=0, turn=1, heard=Heard(replies=("好的",)))
    assert not any(quiet.startswith(a) for a in line_book().acknowledging)


def test_engine_passes_the_conversation_to_the_voice():
    """End to end: an Engine whose reader offers the price change gets the line that asks about it."""
    sc = scenario("off-platform-payment")

    def reader(reply: str, ctx) -> Signals:
        return _signals(Signal.solution, Signal.question, offers={"platform_bulk_price"})

    seen = set()
    for seed in range(10):
        eng = Engine(sc, seed=seed, reader=reader)
        eng.opening()
        seen.add(eng.respond("50个在平台拍,拍下后付款前我给您改价到95折,您看行吗?").buyer)
    assert any("改价" in line for line in seen)


@pytest.mark.parametrize("scenario_id", IDS)
def test_a_line_that_names_an_offer_waits_until_someone_offered_it(scenario_id):
    """A buyer line containing the words of one of the scenario's offers (accepts / never_offer cues)
    must carry a `when` (offered / said / mentioned): the buyer does not bring up a remedy nobody made."""
    sc = scenario(scenario_id)
    cues = [(r.id, c) for r in (*sc.accepts, *sc.never_offer) for c in r.cues]
    loose = [(state.value, line.text, cue) for state in BuyerState for line in sc.lines.options(state)
             for _, cue in cues if cue in line.text and line.when is None]
    assert not loose


def test_a_broken_fallback_file_names_the_field_and_the_fix(tmp_path):
    from shifu.content.errors import ShifuError

    src = (paths.grader_dir() / "buyer_lines.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "buyer_lines.yaml"
    bad.write_text(src.replace("already_told:", "alredy_told:"), encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        line_book(bad)
    text = str(exc.value)
    assert "buyer_lines.yaml" in text and "alredy_told" in text and "already_told" in text
    short = tmp_path / "short" / "buyer_lines.yaml"
    short.parent.mkdir()
    short.write_text(src.replace("\n  leaving:\n", "\n  leavin:\n"), encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        line_book(short)
    assert "fallback" in str(exc.value)


def test_a_scenario_may_write_its_own_acknowledgements():
    sc = scenario("claim-hunter-absolute-words")
    heard = Heard(question=True, replies=("请问您是在哪个平台看到的详情页?",))
    line = scripted_line(sc, BuyerState.probing, seed=0, turn=1, heard=heard)
    assert any(line.startswith(a.text) for a in sc.lines.acknowledging)
