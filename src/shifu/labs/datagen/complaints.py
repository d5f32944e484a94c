"""complaints.csv: eight weeks of classified complaints with Chinese free text.

Sentences are opener + pain-point template + closer from data/generator/complaints.yaml. In the
last week one category (figures.yaml: complaints.rising_category) surges, led by its first pain
point, so the weekly broadcast has a real change to find.
"""
from __future__ import annotations

import pandas as pd

from shifu.labs.datagen.common import choose, fill, pick, rng_for, stamp
from shifu.labs.datagen.spec import Spec


def complaints(spec: Spec, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "complaints")
    f, texts, shop = spec.figures.complaints, spec.complaints, spec.shop
    days = pd.date_range(f.start, periods=f.weeks * 7, freq="D")
    last_week = days[-7]
    rows = []
    for day in days:
        weights = {k: v.weight for k, v in texts.categories.items()}
        if day >= last_week:
            weights[f.rising_category] *= f.rising_factor
        weekend = 1.15 if day.day_of_week >= 5 else 1.0
        n = int(rng.poisson(f.per_day * weekend * sum(weights.values())))
        for cat in choose(rng, weights, n):
            pains = list(texts.categories[cat].pain_points)
            pw = {p: 1.0 for p in pains}
            if day >= last_week and cat == f.rising_category:
                pw[pains[0]] = 4.0
            pain = str(choose(rng, pw, 1)[0])
            product = pick(rng, list(shop.products))
            slots = {"product": product, "courier": pick(rng, shop.couriers), "days": int(rng.integers(3, 9)),
                     "amount": int(rng.integers(2, 60)) * 10, "order_tail": f"{int(rng.integers(10000)):04d}"}
            body = fill(pick(rng, texts.categories[cat].pain_points[pain].templates), slots)
            closer = fill(pick(rng, texts.closers), slots)
            text = fill(pick(rng, texts.openers), slots) + body + ("," + closer if closer else "。")
            rows.append((day + pd.Timedelta(seconds=int(rng.integers(8 * 3600, 24 * 3600))),
                         str(choose(rng, shop.channels, 1)[0]), product, cat, text))
    df = pd.DataFrame(rows, columns=["created_at", "channel", "product", "category", "text"])
    df = df.sort_values("created_at", kind="stable", ignore_index=True)
    df["created_at"] = stamp(df["created_at"])
    df.insert(0, "complaint_id", [f"K{i + 1:05d}" for i in range(len(df))])
    return df
