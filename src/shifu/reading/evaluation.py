"""The validity harness: does the reader (and the buyer it drives) reward what mentors reward?

Measured on a labelled set written by people who have not read grader/phrases.yaml
(tests/data/eval/, format in tests/data/eval/FORMAT.md):

- single replies (replies_*.yaml and own_cases.yaml), each labelled per signal → per-signal precision
  and recall, per-criterion agreement (criteria derived from the labels, see CRITERIA below) and the
  largest share of any criterion's points a stock-phrase-only reply earns;
- whole conversations (conversations.yaml, agent turns only) → each is played through the role-play
  engine with the scripted buyer for seeds 0–4; resolved / escalated / abandoned rates per type.

Every case is tune or held-out by a stable hash of its id (a third held out). Held-out results are
printed only as aggregates; per-case failures are listed for the tune split only, unless a caller
asks for `show_heldout=True`.

This module uses only public APIs (shifu.reading.signals.read_reply, shifu.reading.rubric.score_reply,
shifu.roleplay.engine.Engine), with absolute imports, so it also runs against an older checkout of the
reader: `PYTHONPATH=<old>/src python bench/eval_any.py` (the baseline in bench/eval_baseline.md).
"""
from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from shifu.content import paths
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.reading.signals import ReplyContext, Signals, read_reply


LABELS = ("empathy", "probe", "question", "consensus_check", "solution", "time_commitment",
          "over_promise", "breach", "blame", "stalling")
# The done-criteria of issue 14: precision and recall on the held-out third, for these signals.
CHECKED_SIGNALS = ("empathy", "probe", "consensus_check", "solution", "over_promise", "breach", "stalling")
THRESHOLD_PR = 0.9
THRESHOLD_STOCK_SHARE = 0.10
THRESHOLD_SKILLED_RESOLVED = 0.90
THRESHOLD_USELESS_ESCALATED = 0.80
SEEDS = (0, 1, 2, 3, 4)
KINDS = ("paraphrase", "polite_wrong", "gaming", "style")
CONV_TYPES = ("skilled", "useless", "blaming", "spam")

Reader = Callable[[str, ReplyContext], Signals]


# -- what a reader said, as labels ----------------------------------------------------------------
def predicted(sig: Signals, scenario: Scenario) -> dict[str, bool]:
    """The reader's Signals mapped onto the label names of the labelled set."""
    present = {s.signal.value for s in sig.spans}
    breach_offers = {r.id for r in scenario.never_offer if r.kind == "breach"}
    return {
        "empathy": "empathy" in present,
        "probe": "probe" in present,
        "question": bool(present & {"question", "probe", "consensus_check"}),
        "consensus_check": "consensus_check" in present,
        "solution": bool(sig.resolutions) or "solution" in present,
        "time_commitment": "time_commitment" in present,
        "over_promise": "over_promise" in present,
        "breach": bool(present & {"breach", "privacy_breach", "off_platform_payment"})
        or bool(set(sig.forbidden_offers) & breach_offers),
        "blame": "blame_shifting" in present,
        "stalling": "stalling" in present,
    }


# Per-criterion agreement: what the labels say a criterion should do, and what "did it" means in points.
# (criterion id, label test → expected "earns", share of the criterion's points that counts as earning)
# For clean-record criteria (compliance, policy accuracy) "earns" means keeping at least half the points;
# a reply that only stalls earns nothing anywhere (issue 14). Stock-only replies are left out here: they
# are measured by the stock-only share (at most 10% of any criterion).
CRITERIA: dict[str, tuple[Callable[[dict[str, bool]], bool], float]] = {
    "de_escalation": (lambda lb: lb["empathy"] and not lb["blame"], 0.4),
    "need_tracing": (lambda lb: lb["probe"], 0.15),
    "consensus_solution": (lambda lb: lb["solution"] or lb["consensus_check"], 0.3),
    "compliance": (lambda lb: not lb["breach"] and not _only_stalls(lb), 0.5),
    "policy_accuracy": (lambda lb: not lb["over_promise"] and not _only_stalls(lb), 0.5),
}


def _only_stalls(lb: dict[str, bool]) -> bool:
    return lb["stalling"] and not any(lb[k] for k in ("empathy", "probe", "solution", "time_commitment"))


# -- the labelled set ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplyCase:
    id: str
    scenario: str
    buyer: str
    history: tuple[str, ...]
    reply: str
    kind: str
    stock_only: bool
    labels: dict[str, bool]
    source: str


@dataclass(frozen=True)
class ConversationCase:
    id: str
    scenario: str
    type: str
    replies: tuple[str, ...]
    source: str


def held_out(case_id: str) -> bool:
    """A third of the cases, fixed by a stable hash of the id (not Python's salted hash())."""
    return int(hashlib.sha256(case_id.encode("utf-8")).hexdigest(), 16) % 3 == 0


class EvalSetError(ValueError):
    """A labelled file is malformed: the message names the file, the case and the fix."""


def _load_list(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EvalSetError(f"{path}: not valid YAML ({exc}) — fix the line it names") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise EvalSetError(f"{path}: must be a list of cases — start each case with `- id: ...`")
    return data


def _new_id(item: Any, where: str, seen: set[str]) -> str:
    """The case's id, recorded in `seen`; EvalSetError when it is missing or used before (in any file)."""
    if not isinstance(item, dict) or not item.get("id"):
        raise EvalSetError(f"{where}: needs an `id`")
    cid = str(item["id"])
    if cid in seen:
        raise EvalSetError(f"{where}: id {cid!r} is used twice — make ids unique")
    seen.add(cid)
    return cid


def load_eval_set(folder: Path) -> tuple[list[ReplyCase], list[ConversationCase]]:
    """Every reply case (replies_*.yaml, own_cases.yaml) and conversation (conversations*.yaml) in `folder`.

    Raises EvalSetError naming file, case and field when a case is malformed or an id repeats.
    """
    replies: list[ReplyCase] = []
    convs: list[ConversationCase] = []
    seen: set[str] = set()
    files = sorted(folder.glob("replies_*.yaml")) + sorted(folder.glob("own_cases*.yaml"))
    for path in files:
        for i, item in enumerate(_load_list(path)):
            where = f"{path.name} case {i + 1}"
            cid = _new_id(item, where, seen)
            labels = item.get("labels") or {}
            missing = [k for k in LABELS if not isinstance(labels.get(k), bool)]
            if missing:
                raise EvalSetError(f"{where} ({cid}): labels.{missing[0]} must be true or false")
            for key in ("scenario", "reply"):
                if not isinstance(item.get(key), str) or not item[key].strip():
                    raise EvalSetError(f"{where} ({cid}): `{key}` must be a non-empty string")
            replies.append(ReplyCase(
                id=cid, scenario=item["scenario"], buyer=str(item.get("buyer") or ""),
                history=tuple(str(h) for h in (item.get("history") or [])), reply=item["reply"],
                kind=str(item.get("kind") or "paraphrase"), stock_only=bool(item.get("stock_only")),
                labels={k: bool(labels[k]) for k in LABELS}, source=path.name))
    for path in sorted(folder.glob("conversations*.yaml")):
        for i, item in enumerate(_load_list(path)):
            where = f"{path.name} conversation {i + 1}"
            cid = _new_id(item, where, seen)
            if item.get("type") not in CONV_TYPES:
                raise EvalSetError(f"{where} ({cid}): `type` must be one of {', '.join(CONV_TYPES)}")
            turns = item.get("replies")
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
                raise EvalSetError(f"{where} ({cid}): `replies` must be a list of non-empty strings")
            convs.append(ConversationCase(cid, str(item.get("scenario")), item["type"], tuple(turns), path.name))
    return replies, convs


# -- measuring ----------------------------------------------------------------------------------
@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, got: bool) -> None:
        if expected and got:
            self.tp += 1
        elif got:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def to_json(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": _r(self.precision), "recall": _r(self.recall)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


@dataclass
class SplitReport:
    """Aggregates of one split (tune or held-out)."""

    cases: int = 0
    signals: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in LABELS})
    criteria: dict[str, list[int]] = field(default_factory=dict)  # id -> [agree, total]
    stock_cases: int = 0
    stock_max_share: float = 0.0
    stock_worst_criterion: str = ""
    failures: list[dict[str, Any]] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def to_json(self, with_failures: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cases": self.cases,
            "by_kind": self.by_kind,
            "signals": {k: c.to_json() for k, c in self.signals.items()},
            "criteria": {k: {"agree": a, "total": t, "agreement": _r(a / t if t else None)}
                         for k, (a, t) in self.criteria.items()},
            "stock_only": {"cases": self.stock_cases, "max_share": round(self.stock_max_share, 3),
                           "criterion": self.stock_worst_criterion},
        }
        if with_failures:
            out["failures"] = self.failures
        return out


def _score_fn() -> Callable[..., Any]:
    from shifu.reading.rubric import score_reply

    return score_reply


def _accepts_reader(fn: Callable[..., Any]) -> bool:
    try:
        return "reader" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def evaluate_replies(cases: Iterable[ReplyCase], reader: Reader, reader_is_default: bool = True
                     ) -> dict[str, SplitReport]:
    """Per-split aggregates for the reply cases. The rubric is scored with the same reader when it can be."""
    score_reply = _score_fn()
    pass_reader = _accepts_reader(score_reply)
    reports = {"tune": SplitReport(), "heldout": SplitReport()}
    scenarios: dict[str, Scenario] = {}
    for case in cases:
        sc = scenarios.get(case.scenario) or load_scenario(case.scenario)
        scenarios[case.scenario] = sc
        rep = reports["heldout" if held_out(case.id) else "tune"]
        rep.cases += 1
        rep.by_kind[case.kind] = rep.by_kind.get(case.kind, 0) + 1
        ctx = ReplyContext(sc, buyer_message=case.buyer, history=case.history)
        sig = reader(case.reply, ctx)
        got = predicted(sig, sc)
        wrong = []
        for k in LABELS:
            rep.signals[k].add(case.labels[k], got[k])
            if case.labels[k] != got[k]:
                wrong.append(f"{k}: expected {case.labels[k]}, got {got[k]}")
        kwargs: dict[str, Any] = {"history": case.history}
        if pass_reader:
            kwargs["reader"] = reader
        elif not reader_is_default:
            kwargs = {"history": case.history}  # an older rubric reads with its own reader
        result = score_reply(sc, case.reply, buyer=case.buyer, **kwargs)
        for cid, (rule, earns_at) in (() if case.stock_only else CRITERIA.items()):
            try:
                c = result.criterion(cid)
            except KeyError:
                continue
            if not c.applicable or c.max <= 0:
                continue
            earned = c.points / c.max >= earns_at
            agree, total = rep.criteria.get(cid, [0, 0])
            ok = earned == rule(case.labels)
            rep.criteria[cid] = [agree + int(ok), total + 1]
            if not ok:
                wrong.append(f"criterion {cid}: labels say {'earns' if rule(case.labels) else 'does not earn'}, "
                             f"scored {c.points:g}/{c.max:g}")
        if case.stock_only:
            rep.stock_cases += 1
            for c in result.criteria:
                if c.applicable and c.max > 0 and c.points / c.max > rep.stock_max_share:
                    rep.stock_max_share = c.points / c.max
                    rep.stock_worst_criterion = f"{c.id} ({case.id})" if not held_out(case.id) else c.id
                    if c.points / c.max > THRESHOLD_STOCK_SHARE:
                        wrong.append(f"stock-only reply earned {c.points:g}/{c.max:g} on {c.id}")
        if wrong:
            rep.failures.append({"id": case.id, "scenario": case.scenario, "kind": case.kind, "reply": case.reply,
                                 "problems": wrong,
                                 "spans": [f"{s.signal.value}:{s.quote}" for s in sig.spans][:12]})
    return reports


def play_conversation(case: ConversationCase, seed: int, reader: Reader) -> tuple[str, str | None, int]:
    """(outcome, escalation, turns) of one conversation played with the scripted buyer."""
    from shifu.roleplay.engine import Engine

    eng = Engine(case.scenario, backend="scripted", seed=seed, reader=reader)
    eng.opening()
    for reply in case.replies:
        if eng.state.ended:
            break
        eng.respond(reply)
    end = eng.finish()
    return end.outcome, end.escalation, eng.state.turn


def evaluate_conversations(cases: Iterable[ConversationCase], reader: Reader,
                           seeds: tuple[int, ...] = SEEDS) -> dict[str, dict[str, dict[str, Any]]]:
    """split -> type -> {runs, resolved, escalated, abandoned, rates, failures (tune only)}."""
    out: dict[str, dict[str, dict[str, Any]]] = {"tune": {}, "heldout": {}}
    for case in cases:
        split = "heldout" if held_out(case.id) else "tune"
        row = out[split].setdefault(case.type, {"runs": 0, "resolved": 0, "escalated": 0, "abandoned": 0,
                                                "conversations": 0, "failures": []})
        row["conversations"] += 1
        for seed in seeds:
            outcome, _, _ = play_conversation(case, seed, reader)
            row["runs"] += 1
            row[outcome if outcome in ("resolved", "escalated") else "abandoned"] += 1
            bad = ((case.type == "skilled" and outcome != "resolved")
                   or (case.type != "skilled" and outcome == "resolved")
                   or (case.type in ("blaming", "spam") and outcome != "escalated"))
            if bad:
                row["failures"].append({"id": case.id, "seed": seed, "outcome": outcome})
    for split in out.values():
        for row in split.values():
            for k in ("resolved", "escalated", "abandoned"):
                row[f"{k}_rate"] = round(row[k] / row["runs"], 3) if row["runs"] else None
    return out


def _merge_conv(conv: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    total: dict[str, dict[str, Any]] = {}
    for split in conv.values():
        for t, row in split.items():
            acc = total.setdefault(t, {"runs": 0, "resolved": 0, "escalated": 0, "abandoned": 0, "conversations": 0})
            for k in acc:
                acc[k] += row[k]
    for row in total.values():
        for k in ("resolved", "escalated", "abandoned"):
            row[f"{k}_rate"] = round(row[k] / row["runs"], 3) if row["runs"] else None
    return total


def check(report: dict[str, Any]) -> list[str]:
    """The done-thresholds of issue 14 that the report does not meet (empty: all met)."""
    misses: list[str] = []
    held = report["replies"]["heldout"]
    for k in CHECKED_SIGNALS:
        c = held["signals"][k]
        for name in ("precision", "recall"):
            v = c[name]
            if v is None:
                misses.append(f"held-out {k} {name}: no cases to measure")
            elif v < THRESHOLD_PR:
                misses.append(f"held-out {k} {name} {v:.2f} < {THRESHOLD_PR}")
    for split in ("tune", "heldout"):
        share = report["replies"][split]["stock_only"]["max_share"]
        if share > THRESHOLD_STOCK_SHARE:
            misses.append(f"{split}: a stock-only reply earned {share:.0%} of {report['replies'][split]['stock_only']['criterion']}"
                          f" (limit {THRESHOLD_STOCK_SHARE:.0%})")
    conv = report["conversations"]["all"]
    if conv:
        sk = conv.get("skilled")
        if sk and (sk["resolved_rate"] or 0) < THRESHOLD_SKILLED_RESOLVED:
            misses.append(f"skilled resolved {sk['resolved_rate']:.0%} < {THRESHOLD_SKILLED_RESOLVED:.0%}")
        us = conv.get("useless")
        if us and us["resolved"] > 0:
            misses.append(f"useless resolved in {us['resolved']} of {us['runs']} runs (must be 0)")
        if us and (us["escalated_rate"] or 0) < THRESHOLD_USELESS_ESCALATED:
            misses.append(f"useless escalated {us['escalated_rate']:.0%} < {THRESHOLD_USELESS_ESCALATED:.0%}")
        bl = conv.get("blaming")
        if bl and bl["escalated"] < bl["runs"]:
            misses.append(f"blaming escalated {bl['escalated_rate']:.0%} (must be 100%)")
    return misses


def default_eval_dir() -> Path:
    """The labelled set that ships with the project: tests/data/eval under the project root."""
    return paths.project_root() / "tests" / "data" / "eval"


def run(folder: Path, reader: Reader = read_reply, reader_name: str = "rules", seeds: tuple[int, ...] = SEEDS,
        conversations: bool = True, show_heldout: bool = False) -> dict[str, Any]:
    """The whole report as a JSON-ready dict; `misses` lists the thresholds not met."""
    replies, convs = load_eval_set(folder)
    reps = evaluate_replies(replies, reader)
    conv = evaluate_conversations(convs, reader, seeds) if conversations else {"tune": {}, "heldout": {}}
    if not show_heldout:
        for row in conv["heldout"].values():
            row["failures"] = [{"count": len(row["failures"])}] if row["failures"] else []
    report: dict[str, Any] = {
        "reader": reader_name,
        "data": str(folder),
        "replies": {"tune": reps["tune"].to_json(True), "heldout": reps["heldout"].to_json(show_heldout)},
        "conversations": {"tune": conv["tune"], "heldout": conv["heldout"], "all": _merge_conv(conv)},
        "seeds": list(seeds),
    }
    report["misses"] = check(report)
    return report


# -- printing -----------------------------------------------------------------------------------
def _f(x: float | None) -> str:
    return "  —  " if x is None else f"{x:5.2f}"


def format_report(report: dict[str, Any], failures: bool = False) -> str:
    """A plain-text table: tune and held-out side by side."""
    tune, held = report["replies"]["tune"], report["replies"]["heldout"]
    lines = [f"reader: {report['reader']}   data: {report['data']}",
             f"replies: tune {tune['cases']} {tune['by_kind']}, held-out {held['cases']} {held['by_kind']}", "",
             f"{'signal':16s} {'tune P':>7s} {'tune R':>7s} {'held P':>7s} {'held R':>7s}  (held tp/fp/fn)"]
    for k in LABELS:
        t, h = tune["signals"][k], held["signals"][k]
        mark = "*" if k in CHECKED_SIGNALS else " "
        lines.append(f"{mark}{k:15s} {_f(t['precision']):>7s} {_f(t['recall']):>7s} {_f(h['precision']):>7s} "
                     f"{_f(h['recall']):>7s}  ({h['tp']}/{h['fp']}/{h['fn']})")
    lines += ["", f"{'criterion agreement':24s} {'tune':>6s} {'held':>6s}"]
    for cid in CRITERIA:
        t, h = tune["criteria"].get(cid, {}), held["criteria"].get(cid, {})
        lines.append(f"{cid:24s} {_f(t.get('agreement')):>6s} {_f(h.get('agreement')):>6s}")
    def stock(split: dict) -> str:
        where = split["stock_only"]["criterion"]
        return f"{split['stock_only']['max_share']:.0%}" + (f" ({where})" if where else "")

    lines += ["", f"stock-only replies, largest share of a criterion's points: tune {stock(tune)}, held-out {stock(held)}"]
    conv = report["conversations"]
    if conv["all"]:
        lines += ["", f"conversations (scripted buyer, seeds {report['seeds']}):",
                  f"{'type':9s} {'split':8s} {'convs':>5s} {'runs':>5s} {'resolved':>9s} {'escalated':>10s} {'abandoned':>10s}"]
        for t in CONV_TYPES:
            for split in ("tune", "heldout", "all"):
                row = conv[split].get(t)
                if row:
                    lines.append(f"{t:9s} {split:8s} {row['conversations']:5d} {row['runs']:5d} "
                                 f"{row['resolved_rate']:9.0%} {row['escalated_rate']:10.0%} {row['abandoned_rate']:10.0%}")
    if failures:
        lines += ["", "tune failures:"]
        for f in tune.get("failures", []):
            lines.append(f"  {f['id']} [{f['scenario']}/{f['kind']}] {f['reply'][:90]}")
            for p in f["problems"]:
                lines.append(f"      - {p}")
            lines.append(f"      spans: {f['spans']}")
        for t, row in conv["tune"].items():
            for f in row.get("failures", []):
                lines.append(f"  conversation {f['id']} seed {f['seed']}: {f['outcome']}")
        if "failures" in held:
            lines += ["", "held-out failures (asked for explicitly):"]
            for f in held["failures"]:
                lines.append(f"  {f['id']} {f['problems']}")
    lines += ["", "thresholds (issue 14): " + ("all met" if not report["misses"] else "NOT met:")]
    lines += [f"  - {m}" for m in report["misses"]]
    return "\n".join(lines)


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)
