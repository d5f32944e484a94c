"""asset_loss.csv: refunds paid out without the goods coming back (资损) and what was recovered.

Recovery by phone brings back about 80% of the money (seed 002); the year's unrecovered loss
stays under the cap in figures.yaml. Cases are drawn from the whole brand's order log, so they
are a small share of its orders and of its returns (data/README.md).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import choose, rng_for, stamp
from shifu.labs.datagen.spec import Spec

_PARTIAL_SHARE, _PARTIAL_MEAN = 0.15, 0.6


def asset_loss(spec: Spec, order_rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "asset_loss")
    a = spec.figures.asset_loss
    # refunds and their follow-up fall inside the year
    pool = order_rows[pd.to_datetime(order_rows["ordered_at"]) < pd.Timestamp(f"{spec.figures.shop.year}-12-01")].reset_index(drop=True)
    picked = pool.iloc[np.sort(rng.choice(len(pool), size=min(a.cases, len(pool)), replace=False))].reset_index(drop=True)
    n = len(picked)
    refunded = pd.to_datetime(picked["ordered_at"]).dt.normalize() + pd.to_timedelta(rng.integers(3 * 86400, 15 * 86400, n), unit="s")
    amount = picked["amount_yuan"].to_numpy(dtype=float)
    # P(recovered) chosen so that money recovered / money refunded comes out at the figure
    p = min(1.0, a.recovery_rate / (1 - _PARTIAL_SHARE * (1 - _PARTIAL_MEAN)))
    recovered = rng.random(n) < p
    share = np.where(rng.random(n) < _PARTIAL_SHARE, rng.uniform(_PARTIAL_MEAN - 0.2, _PARTIAL_MEAN + 0.2, n), 1.0)
    back = np.where(recovered, np.round(amount * share, 2), 0.0)
    recovered_at = refunded + pd.to_timedelta(rng.integers(86400, 20 * 86400, n), unit="s")
    methods = choose(rng, spec.shop.recovery_methods, n)
    reasons = choose(rng, spec.shop.loss_reasons, n)
    df = pd.DataFrame({
        "order_id": picked["order_id"], "customer_id": picked["customer_id"], "refunded_at": refunded,
        "amount_yuan": amount, "reason": reasons, "recovered": recovered.astype(int), "recovered_yuan": back,
        "recovered_at": stamp(recovered_at).where(recovered, ""), "method": np.where(recovered, methods, ""),
    })
    df = df.sort_values("refunded_at", kind="stable", ignore_index=True)
    df["refunded_at"] = stamp(df["refunded_at"])
    df.insert(0, "case_id", [f"L{i + 1:04d}" for i in range(n)])
    return df
