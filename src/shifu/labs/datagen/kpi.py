"""agent_kpi_monthly.csv: the inputs of the unified KPI report, per agent and month.

Drawn from the same hidden agent traits as chat_sessions, so a slow agent in the sample week is
slow here too; the mentor review reads twelve months of it. Sessions follow the brand's orders:
an agent's month is her team's daily load in the chat week, scaled by that month's orders per day
against September's (Double 11 makes November the busiest). 好评率 is 好评 over rated sessions,
complaints (always 差评) included, the same definition as in the chat week.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import rng_for
from shifu.labs.datagen.roster import members
from shifu.labs.datagen.spec import Spec


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _positive_rate(positive: float, complaint: float, review_share: float) -> float:
    """Expected 好评 share of rated sessions: complaints are always rated 差评 (chat.py)."""
    rated = complaint + (1 - complaint) * review_share
    return (1 - complaint) * review_share * positive / rated


def agent_kpi_monthly(spec: Spec, agents: pd.DataFrame, seed: int, order_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per agent and month; `order_rows` is the whole brand's order log (orders.orders)."""
    rng = rng_for(seed, "agent_kpi_monthly")
    f = spec.figures
    sigma = f.chat.first_response_sigma
    ordered = pd.to_datetime(order_rows["ordered_at"])
    counts = ordered.dt.to_period("M").value_counts()
    per_day = counts / counts.index.days_in_month  # the brand's orders per day, month by month
    base = per_day[pd.Period(f.chat.start, freq="M")]
    rows = []
    for m in range(1, f.kpi.months + 1):
        month = f"{f.shop.year}-{m:02d}"
        for a in members(agents):
            median = a._frt_median * (1 - f.kpi.improvement_per_month) ** (m - 9)  # the chat sample is September
            if m == f.kpi.double11_month:
                median *= f.kpi.double11_slowdown
            median *= math.exp(rng.normal(0, 0.06))
            presales = a.team == f.team.names.presales
            period = pd.Period(month, freq="M")
            load = f.chat.human_sessions_per_agent_day[a.team] * period.days_in_month * per_day[period] / base
            sessions = int(round(load * math.exp(rng.normal(0, f.kpi.sessions_noise))))
            conv = a._conversion if presales else a._conversion * 0.5
            rows.append({
                "month": month, "agent_id": a.agent_id, "team": a.team, "sessions": sessions,
                "avg_first_response_s": round(median * math.exp(sigma**2 / 2), 1),
                "response_30s_rate": round(min(1.0, max(0.0, _phi(math.log(30 / median) / sigma) + rng.normal(0, 0.015))), 4),
                "inquiry_conversion": round(float(np.clip(conv + rng.normal(0, 0.025), 0, 1)), 4),
                "positive_review_rate": round(float(np.clip(
                    _positive_rate(a._positive, a._complaint, f.chat.review_share) + rng.normal(0, 0.005), 0, 1)), 4),
                "qc_score": round(float(np.clip(a._qc + rng.normal(0, 2), 0, 100)), 1),
                "complaint_rate": round(float(max(0.0, a._complaint * math.exp(rng.normal(0, 0.25)))), 4),
            })
    return pd.DataFrame(rows)
