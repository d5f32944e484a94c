"""Outcome rates over whole conversations (issue 14): a skilled agent resolves, a polite but useless
one does not and mostly ends escalated, a blaming or spamming one always escalates, and none of the
three leaves the buyer calmer than she came. Conversations: tests/data/outcome_suites.yaml and the
`good` ones in tests/data/conversations/; every scenario, seeds 0–4, the real signals reader."""
from __future__ import annotations

import pytest

from outcome_suites import SEEDS, play_all, rates, suites, table


@pytest.fixture(scope="module")
def runs():
    return play_all(suites(), SEEDS)


@pytest.fixture(scope="module")
def by_kind(runs):
    return rates(runs)


def test_every_scenario_has_every_kind(runs):
    seen = {(r.scenario, r.kind) for r in runs}
    scenarios = {r.scenario for r in runs}
    assert len(scenarios) == 16 and seen == {(s, k) for s in scenarios for k in ("skilled", "useless", "blaming", "spam")}


def test_skilled_agents_resolve(by_kind, runs):
    assert by_kind["skilled"]["resolved"] >= 0.9, table(runs)


def test_polite_but_useless_agents_never_resolve_and_mostly_escalate(by_kind, runs):
    r = by_kind["useless"]
    assert r["resolved"] == 0 and r["escalated"] >= 0.8, table(runs)


@pytest.mark.parametrize("kind", ["blaming", "spam"])
def test_blaming_and_stock_phrase_spam_always_escalate(by_kind, runs, kind):
    assert by_kind[kind]["escalated"] == 1.0, table(runs)


@pytest.mark.parametrize("kind", ["useless", "blaming", "spam"])
def test_no_unhelpful_agent_leaves_the_buyer_calmer(by_kind, runs, kind):
    assert by_kind[kind]["calmer"] == 0, table(runs)


def test_the_buyer_never_says_a_line_twice_in_a_conversation(runs):
    from outcome_suites import _scenario
    from shifu.roleplay.voices.scripted import line_book
    from shifu.reading.vocab import BuyerState

    book = line_book()
    for r in runs:
        sc = _scenario(r.scenario)
        lines = [line.text for st in BuyerState for line in sc.lines.options(st)]
        lines += [f.text if hasattr(f, "text") else f for st in BuyerState for f in book.fallback[st]]
        lines += [x for f in sc.hidden_facts for x in f.reveal]
        again = [x for x in lines if sum(x in b for b in r.buyer) > 1]
        assert not again, (r.scenario, r.kind, r.seed, again)
