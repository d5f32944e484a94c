"""double11_hourly.csv: questions per hour from 10 to 12 November, three years, growing."""
from __future__ import annotations

import numpy as np
import pandas as pd

from shifu.labs.datagen.common import rng_for, stamp
from shifu.labs.datagen.spec import Spec


def double11_hourly(spec: Spec, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "double11_hourly")
    d = spec.figures.double11
    frames = []
    for year, peak in zip(d.years, d.peak_questions):
        for day, shares in d.profile.items():
            start = pd.Timestamp(f"{year}-{day}")
            q = np.round(peak * np.array(shares) * np.exp(rng.normal(0, d.noise, 24))).astype(int)
            frames.append(pd.DataFrame({"year": year, "hour_start": pd.date_range(start, periods=24, freq="h"), "questions": q}))
    df = pd.concat(frames, ignore_index=True)
    df["hour_start"] = stamp(df["hour_start"])
    return df
