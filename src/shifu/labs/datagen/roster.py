"""agents.csv: the customer-service team, with the hidden traits the other data sets draw on."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import rng_for
from shifu.labs.datagen.spec import Spec


def roster(spec: Spec, seed: int) -> pd.DataFrame:
    """One row per agent; columns starting with '_' are traits that are never written out."""
    rng = rng_for(seed, "agents")
    f, chat = spec.figures, spec.figures.chat
    rows = []
    for team, count in (("presales", f.team.presales_agents), ("aftersales", f.team.aftersales_agents)):
        for name in spec.shop.agents[team][:count]:
            rows.append({"name": name, "team": getattr(f.team.names, team)})
    df = pd.DataFrame(rows)
    n = len(df)
    df.insert(0, "agent_id", [f"A{i + 1:02d}" for i in range(n)])
    months_in = rng.integers(2, 60, size=n)
    df["hired_on"] = [(pd.Timestamp(f"{f.shop.year}-09-01") - pd.DateOffset(months=int(m))).strftime("%Y-%m-%d") for m in months_in]
    median = chat.first_response_median_s * np.exp(rng.normal(0, 0.08, size=n))
    slow = rng.choice(n, size=min(chat.slow_agents, n), replace=False)
    median[slow] *= rng.uniform(*chat.slow_factor, size=len(slow))
    df["_frt_median"] = median
    df["_conversion"] = rng.uniform(*chat.daytime_inquiry_conversion, size=n)
    df["_positive"] = rng.uniform(*chat.positive_review_rate, size=n)
    df["_complaint"] = rng.uniform(*chat.complaint_rate, size=n)
    # slow agents tend to draw more complaints and weaker inspection scores
    df.loc[slow, "_complaint"] = np.maximum(df.loc[slow, "_complaint"], chat.complaint_rate[1] * 0.8)
    df["_qc"] = rng.uniform(*chat.qc_score_mean, size=n)
    df.loc[slow, "_qc"] -= 4
    return df


def members(df: pd.DataFrame) -> list[SimpleNamespace]:
    """Rows as objects with attribute access, traits included (itertuples would rename '_' columns)."""
    return [SimpleNamespace(**row) for row in df.to_dict("records")]


def public(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in df.columns if not c.startswith("_")]]
