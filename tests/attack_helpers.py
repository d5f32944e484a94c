"""What the red-team files (tests/test_attacks_dec1*.py) share: two scenarios with a buyer line each, and the
trainee's-eye view of a reply — its signals, its points per criterion, and the engine after a conversation."""
from __future__ import annotations

from pathlib import Path

from engine_helpers import played
from shifu.reading.rubric import score_reply
from shifu.reading.signals import ReplyContext, Signals, read_reply
from shifu.reading.vocab import Signal
from shifu.roleplay.engine import Engine
from shifu.roleplay.scenario import load_scenario

LATE = "late-parcel-wrong-station"   # 王女士: parcel at the wrong station; plans reroute_today / reship_express
CUPS = "off-platform-payment"         # 周经理: wants to pay off the platform; never_offer add_private_wechat, off_platform_transfer
BUYER = {
    LATE: "你们这什么快递啊?三天了物流一动不动!我周六要用的!",
    CUPS: "加个微信吧,私下转账,省了平台扣点你给我便宜点。",
}
STOCK_SHARE = 0.10  # issue 14: the most of any criterion a stock-only reply may earn (as in test_stock_fluff.py)
ROOT = Path(__file__).resolve().parents[1]


def read(sc: str, text: str) -> Signals:
    return read_reply(text, ReplyContext(load_scenario(sc), buyer_message=BUYER[sc]))


def has(sc: str, text: str, signal: Signal) -> bool:
    return read(sc, text).has(signal)


def points(sc: str, text: str) -> dict[str, float]:
    """Points per criterion id."""
    return {c.id: c.points for c in score_reply(sc, text, buyer=BUYER[sc]).criteria}


def shares(sc: str, text: str) -> dict[str, float]:
    """Share of each applicable criterion's points, by criterion id."""
    result = score_reply(sc, text, buyer=BUYER[sc])
    return {c.id: c.points / c.max for c in result.criteria if c.applicable and c.max > 0}


def engine_after(sc: str, replies: list[str], seed: int = 0, transcript: Path | None = None) -> Engine:
    """The scripted engine after the buyer's opening and `replies` (each sent 10 s after her line)."""
    return played(sc, replies, seed=seed, transcript=transcript, latency_s=10.0)


def engine_yaml_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of grader/engine.yaml in `tmp_path` with the first `old` replaced by `new` (which must be there)."""
    text = (ROOT / "grader" / "engine.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "engine.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path
