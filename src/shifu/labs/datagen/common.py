"""Randomness and small helpers shared by the data-set modules.

Every data set draws from its own generator derived from (seed, data-set name), so changing one
data set's recipe leaves the others byte-for-byte unchanged.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def rng_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def choose(rng: np.random.Generator, weights: Mapping[str, float], size: int) -> np.ndarray:
    """`size` keys of `weights`, drawn in proportion to their values."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def fill(template: str, slots: Mapping[str, Any]) -> str:
    """A template with its {slots} filled; spec.py has already checked every slot name."""
    return template.format_map(dict(slots))


def stamp(values: pd.Series) -> pd.Series:
    """Timestamps as 'YYYY-MM-DD HH:MM:SS' text, the form every CSV here uses."""
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d %H:%M:%S")
