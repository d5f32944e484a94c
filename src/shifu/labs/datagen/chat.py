"""chat_sessions.csv: one week of conversations, bot and human, day and night.

First response times are lognormal per agent (median near the 19 s benchmark, long right tail,
a few slow agents); slow answers lose conversions; the bot alone keeps the night shift and closes
enough daytime sessions on its own to cover `bot_only_share` of all conversations (seed 002: 35%).
Each agent's day is a Poisson draw around the team's load (figures.yaml `human_sessions_per_agent_day`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import choose, rng_for, stamp
from shifu.labs.datagen.roster import members
from shifu.labs.datagen.spec import Spec


def _clock(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 3600 + int(m) * 60


def _day_seconds(rng: np.random.Generator, weights: list[float], size: int, start_s: int) -> np.ndarray:
    """Seconds after midnight for human-shift sessions, following the hourly weights, not before start_s."""
    w = np.array(weights, dtype=float)
    hours = rng.choice(24, size=size, p=w / w.sum())
    secs = hours * 3600 + rng.integers(0, 3600, size=size)
    return np.maximum(secs, start_s + rng.integers(0, 600, size=size))


def chat_sessions(spec: Spec, agents: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "chat_sessions")
    c = spec.figures.chat
    night_start, night_end = _clock(c.night_start), _clock(c.night_end)
    frames = []
    for day in pd.date_range(c.start, periods=c.days, freq="D"):
        humans = 0
        for agent in members(agents):
            n = int(rng.poisson(c.human_sessions_per_agent_day[agent.team]))
            frt = np.maximum(2, np.round(agent._frt_median * np.exp(rng.normal(0, c.first_response_sigma, n)))).astype(int)
            presales = agent.team == spec.figures.team.names.presales
            inquiry = rng.random(n) < (c.daytime_inquiry_share if presales else c.aftersales_inquiry_share)
            # each second past ~20 s costs conversions; a very slow answer keeps about half
            p_convert = agent._conversion * np.clip(1.15 - 0.0075 * frt, 0.5, 1.1)
            converted = inquiry & (rng.random(n) < p_convert)
            complaint = rng.random(n) < agent._complaint
            reviewed = (rng.random(n) < c.review_share) | complaint
            positive = rng.random(n) < agent._positive
            words = c.review_labels
            review = np.where(~reviewed, "", np.where(complaint, words.negative, np.where(
                positive, words.positive, np.where(rng.random(n) < 0.6, words.neutral, words.negative))))
            qc = np.clip(np.round(rng.normal(agent._qc, 5, n) - 12 * complaint), 0, 100).astype(int)
            handoff = rng.random(n) < c.handoff_share  # the rest asked for a person straight away
            humans += n
            frames.append(pd.DataFrame({
                "started_at": day + pd.to_timedelta(_day_seconds(rng, c.hourly_weights, n, night_end), unit="s"),
                "served_by": "human", "agent_id": agent.agent_id, "bot_handoff": handoff.astype(int),
                "first_response_s": frt, "inquiry": inquiry.astype(int), "converted": converted.astype(int),
                "review": review, "complaint": complaint.astype(int), "qc_score": qc,
            }))
        # the bot keeps all of the night and closes daytime sessions on its own, together bot_only_share of the day's
        n_night = int(rng.poisson(c.night_sessions_per_night))
        n_bot = int(rng.poisson(max(0.0, humans * c.bot_only_share / (1 - c.bot_only_share) - c.night_sessions_per_night)))
        night_secs = np.where(rng.random(n_night) < 0.45, rng.integers(night_start, night_start + 2 * 3600, n_night),
                              rng.integers(night_start, night_end, n_night))
        for secs, n, share, conv in (
            (_day_seconds(rng, c.hourly_weights, n_bot, night_end), n_bot, c.bot_daytime_inquiry_share, c.bot_daytime_inquiry_conversion),
            (night_secs, n_night, c.night_inquiry_share, c.night_inquiry_conversion),
        ):
            inquiry = rng.random(n) < share
            frames.append(pd.DataFrame({
                "started_at": day + pd.to_timedelta(secs, unit="s"), "served_by": "bot", "agent_id": "",
                "bot_handoff": 0, "first_response_s": pd.NA, "inquiry": inquiry.astype(int),
                "converted": (inquiry & (rng.random(n) < conv)).astype(int),
                "review": np.where(rng.random(n) < c.bot_review_share, choose(rng, c.bot_review_mix, n), ""),
                "complaint": 0, "qc_score": pd.NA,
            }))
    df = pd.concat(frames, ignore_index=True).sort_values(["started_at", "agent_id"], kind="stable", ignore_index=True)
    df["started_at"] = stamp(df["started_at"])
    df["first_response_s"] = df["first_response_s"].astype("Int64")
    df["qc_score"] = df["qc_score"].astype("Int64")
    df.insert(0, "session_id", [f"S{i + 1:05d}" for i in range(len(df))])
    return df
