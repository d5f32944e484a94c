"""returns.csv: returned parcels, when the warehouse unpacked them and when the refund went out.

The rule (seed 002): a parcel that arrives today is opened by tomorrow, within three days at
peak; once opened, a matching SKU refunds automatically, a mismatch waits for a person. In one
backlog week (figures.yaml) the warehouse misses the rule for most parcels.

Returns are drawn from the whole brand's order log (`return_rate` of its orders), and the file keeps
the parcels the warehouse received in `returns.window` (a quarter: the complaint weeks and Double 11).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import choose, rng_for, stamp
from shifu.labs.datagen.spec import Spec

def returns(spec: Spec, order_rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "returns")
    r = spec.figures.returns
    picked = order_rows[rng.random(len(order_rows)) < spec.figures.orders.return_rate].reset_index(drop=True)
    n = len(picked)
    ordered = pd.to_datetime(picked["ordered_at"])
    received_day = ordered.dt.normalize() + pd.to_timedelta(rng.integers(4, 13, n), unit="D")
    received = received_day + pd.to_timedelta(rng.integers(9 * 3600, 18 * 3600, n), unit="s")
    peak = received_day.between(pd.Timestamp(r.peak_start), pd.Timestamp(r.peak_end))
    max_days = np.where(peak, r.unpack_peak_max_days, r.unpack_normal_max_days)
    days = np.floor(rng.random(n) * (max_days + 1)).astype(int)
    backlog = received_day.between(pd.Timestamp(r.backlog_start), pd.Timestamp(r.backlog_end)).to_numpy()
    late = rng.random(n) < np.where(backlog, r.backlog_late_share, r.late_share)
    days = np.where(late, max_days + rng.integers(1, 4, n), days)
    unpack_clock = rng.integers(9 * 3600, 20 * 3600, n)
    unpacked = received_day + pd.to_timedelta(days, unit="D") + pd.to_timedelta(unpack_clock, unit="s")
    unpacked = unpacked.where(unpacked > received, received + pd.to_timedelta(rng.integers(1800, 4 * 3600, n), unit="s"))
    match = rng.random(n) >= r.sku_mismatch_share
    wait = np.where(match, rng.integers(60, 30 * 60, n), rng.integers(24 * 3600, 72 * 3600, n))
    refunded = unpacked + pd.to_timedelta(wait, unit="s")
    df = pd.DataFrame({
        "order_id": picked["order_id"], "customer_id": picked["customer_id"], "product": picked["product"],
        "reason": choose(rng, spec.shop.return_reasons, n),
        "received_at": stamp(received), "unpacked_at": stamp(unpacked), "refunded_at": stamp(refunded),
        "peak": peak.astype(int).to_numpy(), "sku_match": match.astype(int), "refund_yuan": picked["amount_yuan"],
    })
    first, last = (pd.Timestamp(d) for d in r.window)
    df = df[received_day.between(first, last).to_numpy()]
    df = df.sort_values("received_at", kind="stable", ignore_index=True)
    df.insert(0, "return_id", [f"R{i + 1:05d}" for i in range(len(df))])
    return df
