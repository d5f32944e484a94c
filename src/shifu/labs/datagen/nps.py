"""nps_survey.csv: 0-10 recommendation scores with channel, product, main reason and comment."""
from __future__ import annotations

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import choose, fill, pick, rng_for, stamp
from shifu.labs.datagen.spec import Spec


def group_of(score: int) -> str:
    return "promoter" if score >= 9 else ("passive" if score >= 7 else "detractor")


def nps_survey(spec: Spec, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "nps_survey")
    f, t, shop = spec.figures.nps, spec.nps, spec.shop
    n = f.responses
    base = np.array(t.base_score_weights, dtype=float)
    channel = choose(rng, shop.channels, n)
    product = choose(rng, shop.product_weights, n)
    latent = (rng.choice(11, size=n, p=base / base.sum())
              + np.array([t.channel_shift.get(c, 0.0) for c in channel])
              + np.array([t.product_shift.get(p, 0.0) for p in product])
              + rng.normal(0, 0.8, n))
    score = np.clip(np.round(latent), 0, 10).astype(int)
    reasons, comments = [], []
    for s, prod in zip(score, product):
        group = group_of(int(s))
        reason = str(choose(rng, t.reason_weights[group], 1)[0])
        reasons.append(reason)
        if rng.random() < 0.15:
            comments.append("")  # many buyers leave the comment box empty
            continue
        slots = {"product": prod, "courier": pick(rng, shop.couriers), "days": int(rng.integers(4, 10)),
                 "amount": int(rng.integers(2, 30)) * 10, "order_tail": f"{int(rng.integers(10000)):04d}"}
        comments.append(fill(pick(rng, t.openers), slots) + fill(pick(rng, t.comments[group][reason]), slots))
    submitted = pd.Timestamp(f.start) + pd.to_timedelta(rng.integers(0, f.days * 86400, n), unit="s")
    df = pd.DataFrame({"submitted_at": submitted, "channel": channel, "product": product, "score": score,
                       "reason": reasons, "comment": comments})
    df = df.sort_values("submitted_at", kind="stable", ignore_index=True)
    df["submitted_at"] = stamp(df["submitted_at"])
    df.insert(0, "response_id", [f"N{i + 1:05d}" for i in range(n)])
    return df
