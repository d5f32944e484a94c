"""orders.csv: a year of orders, with monthly milk-powder buyers among occasional shoppers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .common import choose, rng_for, stamp
from .spec import Spec


def _order_time(rng: np.random.Generator, day: pd.Timestamp) -> pd.Timestamp:
    hour = int(rng.choice(24, p=_HOURS))
    return day + pd.Timedelta(seconds=hour * 3600 + int(rng.integers(3600)))


_H = np.array([3, 2, 1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 5, 5, 5, 5, 5, 5, 5, 6, 8, 9, 9, 6], dtype=float)
_HOURS = _H / _H.sum()


def orders(spec: Spec, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "orders")
    o, shop, year = spec.figures.orders, spec.shop, spec.figures.shop.year
    first, last = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-31")
    span = (last - first).days
    channels = list(shop.channels)
    rows = []
    customers = [f"C{i + 1:05d}" for i in range(o.customers)]
    monthly = set(rng.choice(o.customers, size=o.monthly_milk_buyers, replace=False).tolist())
    # Double 11 pulls ordinary orders into early November
    day_w = np.ones(span + 1)
    d11 = (pd.Timestamp(f"{year}-11-11") - first).days
    day_w[d11 - 10:d11 + 1] = 3.0
    day_w[d11] = 8.0
    day_w /= day_w.sum()
    for idx, cust in enumerate(customers):
        channel = str(choose(rng, shop.channels, 1)[0])
        if idx in monthly:
            product = str(rng.choice(shop.milk_products))
            interval = rng.uniform(*o.monthly_interval_days)
            day = first + pd.Timedelta(days=int(rng.integers(0, 45)))
            stop = last if rng.random() > o.churn_share else first + pd.Timedelta(days=int(rng.integers(120, 330)))
            while day <= stop:
                rows.append((cust, _order_time(rng, day), channel, product, int(rng.integers(2, 5))))
                day += pd.Timedelta(days=max(15, int(round(interval + rng.normal(0, 2.5)))))
        n = int(rng.integers(o.occasional_orders_per_customer[0], o.occasional_orders_per_customer[1] + 1))
        for d in np.sort(rng.choice(span + 1, size=n, p=day_w)):
            ch = channel if rng.random() < 0.8 else channels[int(rng.integers(len(channels)))]
            product = str(choose(rng, shop.product_weights, 1)[0])
            rows.append((cust, _order_time(rng, first + pd.Timedelta(days=int(d))), ch, product, int(rng.integers(1, 4))))
    df = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "channel", "product", "quantity"])
    df = df.sort_values(["ordered_at", "customer_id"], kind="stable", ignore_index=True)
    df["category"] = df["product"].map(lambda p: shop.products[p][0])
    price = df["product"].map(lambda p: shop.products[p][1]).astype(float)
    discount = np.where(rng.random(len(df)) < 0.3, rng.choice([0.85, 0.9, 0.95], size=len(df)), 1.0)
    df["amount_yuan"] = np.round(price * df["quantity"] * discount, 2)
    df["ordered_at"] = stamp(df["ordered_at"])
    df.insert(0, "order_id", [f"O{i + 1:06d}" for i in range(len(df))])
    return df[["order_id", "customer_id", "ordered_at", "channel", "product", "category", "quantity", "amount_yuan"]]
