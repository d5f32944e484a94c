"""orders.csv: a year of the brand's orders, with monthly milk-powder buyers among occasional shoppers.

`orders()` builds the whole brand's order log in memory (every customer, every store); returns,
refunds without return and the KPI volumes are drawn from it. The log is far too large to commit,
so `sample()` keeps every order of a random share of the customers (figures.yaml
`orders.customer_sample_rate`): that is what orders.csv holds, and a sampled customer's returns and
refunds point at her orders in it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import choose, rng_for, stamp
from shifu.labs.datagen.spec import Spec

COLUMNS = ["order_id", "customer_id", "ordered_at", "channel", "product", "category", "quantity", "amount_yuan"]


def _times(rng: np.random.Generator, days: np.ndarray, hour_weights: list[float], first: pd.Timestamp) -> pd.Series:
    w = np.array(hour_weights, dtype=float)
    hours = rng.choice(24, size=len(days), p=w / w.sum())
    secs = days.astype(np.int64) * 86400 + hours * 3600 + rng.integers(0, 3600, size=len(days))
    return pd.Series(first + pd.to_timedelta(secs, unit="s"))


def day_weights(spec: Spec) -> np.ndarray:
    """Relative order volume of each day of the year for occasional shoppers (Double 11 pulls orders in)."""
    o, year = spec.figures.orders, spec.figures.shop.year
    first = pd.Timestamp(f"{year}-01-01")
    span = (pd.Timestamp(f"{year}-12-31") - first).days
    w = np.ones(span + 1)
    d11 = (pd.Timestamp(f"{year}-11-11") - first).days
    w[d11 - o.double11_run_up_days:d11] = o.double11_run_up_weight
    w[d11] = o.double11_day_weight
    return w


def orders(spec: Spec, seed: int) -> pd.DataFrame:
    """The whole brand's orders of the year; `ordered_at` as Timestamps (sorted), ids in time order."""
    rng = rng_for(seed, "orders")
    o, shop, year = spec.figures.orders, spec.shop, spec.figures.shop.year
    first = pd.Timestamp(f"{year}-01-01")
    weights = day_weights(spec)
    span = len(weights) - 1
    n_cust = o.customers
    home = choose(rng, shop.channels, n_cust)  # each customer's usual store
    channels = np.array(list(shop.channels), dtype=object)

    # monthly milk-powder buyers: an order every 26-34 days, a quarter stop during the year
    monthly = rng.choice(n_cust, size=o.monthly_milk_buyers, replace=False)
    m = len(monthly)
    steps_max = span // 15 + 2
    start = rng.integers(0, 45, m)
    interval = rng.uniform(*o.monthly_interval_days, size=m)
    steps = np.maximum(15, np.round(interval[:, None] + rng.normal(0, 2.5, (m, steps_max - 1))))
    days = start[:, None] + np.concatenate([np.zeros((m, 1)), np.cumsum(steps, axis=1)], axis=1)
    stop = np.where(rng.random(m) > o.churn_share, span, rng.integers(120, 330, m))
    keep = days <= stop[:, None]
    rows_m = np.repeat(np.arange(m), keep.sum(axis=1))
    milk_product = np.array(shop.milk_products, dtype=object)[rng.integers(len(shop.milk_products), size=m)]
    milk = pd.DataFrame({
        "cust": monthly[rows_m], "day": days[keep].astype(int), "channel": home[monthly[rows_m]],
        "product": milk_product[rows_m], "quantity": rng.integers(2, 5, len(rows_m)),
    })

    # everyone, milk buyers included, also orders 1-4 times at random through the year
    lo, hi = o.occasional_orders_per_customer
    count = rng.integers(lo, hi + 1, n_cust)
    cust = np.repeat(np.arange(n_cust), count)
    k = len(cust)
    other = np.where(rng.random(k) < 0.8, home[cust], channels[rng.integers(len(channels), size=k)])
    occasional = pd.DataFrame({
        "cust": cust, "day": rng.choice(span + 1, size=k, p=weights / weights.sum()), "channel": other,
        "product": choose(rng, shop.product_weights, k), "quantity": rng.integers(1, 4, k),
    })

    df = pd.concat([milk, occasional], ignore_index=True)
    df["ordered_at"] = _times(rng, df["day"].to_numpy(), o.hourly_weights, first)
    df["customer_id"] = "C" + (df["cust"] + 1).astype(str).str.zfill(6)
    df = df.sort_values(["ordered_at", "customer_id"], kind="stable", ignore_index=True)
    df["category"] = df["product"].map({p: v[0] for p, v in shop.products.items()})
    price = df["product"].map({p: v[1] for p, v in shop.products.items()}).astype(float)
    discount = np.where(rng.random(len(df)) < 0.3, rng.choice([0.85, 0.9, 0.95], size=len(df)), 1.0)
    df["amount_yuan"] = np.round(price * df["quantity"] * discount, 2)
    df["order_id"] = "O" + pd.Series(range(1, len(df) + 1)).astype(str).str.zfill(7)
    return df[COLUMNS]


def sample(full: pd.DataFrame, spec: Spec, seed: int) -> pd.DataFrame:
    """orders.csv: every order of a random `customer_sample_rate` share of the customers."""
    rng = rng_for(seed, "orders.sample")
    customers = np.sort(full["customer_id"].unique())
    picked = rng.choice(customers, size=round(len(customers) * spec.figures.orders.customer_sample_rate), replace=False)
    out = full[full["customer_id"].isin(picked)].reset_index(drop=True)
    out["ordered_at"] = stamp(out["ordered_at"])
    return out
