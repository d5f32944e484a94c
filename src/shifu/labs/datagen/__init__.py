"""Synthetic customer-service data for the analysis labs: generate it, and load it in a notebook.

`generate(seed, out)` writes every data set as CSV; `lab_data(name)` reads one back with its
timestamp columns parsed, wherever the notebook runs (course/source, release, submitted,
autograded copies, a trainee's workspace), because it finds the files through shifu.content.paths.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from typing import TYPE_CHECKING

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path

if TYPE_CHECKING:
    from shifu.labs.datagen.spec import Spec

DEFAULT_SEED = 1111

# data set -> its timestamp columns (parsed by lab_data)
DATASETS: dict[str, tuple[str, ...]] = {
    "agents": ("hired_on",),
    "chat_sessions": ("started_at",),
    "agent_kpi_monthly": (),
    "orders": ("ordered_at",),
    "returns": ("received_at", "unpacked_at", "refunded_at"),
    "asset_loss": ("refunded_at", "recovered_at"),
    "complaints": ("created_at",),
    "nps_survey": ("submitted_at",),
    "double11_hourly": ("hour_start",),
}


def build(seed: int = DEFAULT_SEED, spec: "Spec | None" = None) -> dict[str, pd.DataFrame]:
    """Every data set for one seed, in memory."""
    # imported here so that notebooks, which only read CSVs, start without the generator's stack
    from shifu.labs.datagen.asset_loss import asset_loss
    from shifu.labs.datagen.chat import chat_sessions
    from shifu.labs.datagen.complaints import complaints
    from shifu.labs.datagen.double11 import double11_hourly
    from shifu.labs.datagen.kpi import agent_kpi_monthly
    from shifu.labs.datagen.nps import nps_survey
    from shifu.labs.datagen.orders import orders, sample
    from shifu.labs.datagen.returns import returns
    from shifu.labs.datagen.roster import public, roster
    from shifu.labs.datagen.spec import load_spec

    spec = spec or load_spec()
    team = roster(spec, seed)
    order_rows = orders(spec, seed)  # the whole brand's log; orders.csv keeps a sample of its customers
    return {
        "agents": public(team),
        "chat_sessions": chat_sessions(spec, team, seed),
        "agent_kpi_monthly": agent_kpi_monthly(spec, team, seed, order_rows),
        "orders": sample(order_rows, spec, seed),
        "returns": returns(spec, order_rows, seed),
        "asset_loss": asset_loss(spec, order_rows, seed),
        "complaints": complaints(spec, seed),
        "nps_survey": nps_survey(spec, seed),
        "double11_hourly": double11_hourly(spec, seed),
    }


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8, '\\n' line ends, no index: the same frame always gives the same bytes."""
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def generate(seed: int = DEFAULT_SEED, out: Path | None = None) -> dict[str, Path]:
    """Write every data set as <out>/<name>.csv; return name -> path."""
    out = Path(out) if out is not None else paths.data_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ShifuError([Problem(display_path(out), "out", f"cannot create the folder: {exc.strerror}",
                                  "choose a folder you can write to")])
    written = {}
    for name, df in build(seed).items():
        path = out / f"{name}.csv"
        write_csv(df, path)
        written[name] = path
    return written


def lab_data(name: str, folder: Path | str | None = None) -> pd.DataFrame:
    """One data set as a DataFrame, timestamps parsed; a clear error when it is missing.

    Every lab calls this first, so it also turns on the Chinese hints for pandas mistakes (shifu.labs.lab_hints).
    """
    from shifu.labs.lab_hints import install

    install()
    if name not in DATASETS:
        raise ShifuError([Problem("lab_data", "name", f"no data set called {name!r}",
                                  f"use one of {', '.join(DATASETS)}")])
    path = Path(folder) / f"{name}.csv" if folder is not None else paths.data_dir() / f"{name}.csv"
    if not path.exists():
        raise ShifuError([Problem(display_path(path), "(file)", "is missing",
                                  "run `shifu data generate` to write the lab data sets")])
    dates = list(DATASETS[name])
    df = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in _numeric_with_gaps(name)})
    for col in dates:
        df[col] = pd.to_datetime(df[col].replace("", None), format="ISO8601")
    return df


def pain_point_keywords() -> dict[str, dict[str, list[str]]]:
    """Complaint category -> pain point -> keywords, from data/generator/complaints.yaml (the labs search texts for them)."""
    from shifu.labs.datagen.spec import load_spec

    spec = load_spec()
    return {cat: {pain: list(pp.keywords) for pain, pp in body.pain_points.items()}
            for cat, body in spec.complaints.categories.items()}


def _numeric_with_gaps(name: str) -> tuple[str, ...]:
    """Numeric columns that are blank where they do not apply (read as NaN, not as text)."""
    return {"chat_sessions": ("first_response_s", "qc_score")}.get(name, ())


__all__ = ["DATASETS", "DEFAULT_SEED", "build", "generate", "lab_data", "pain_point_keywords", "write_csv"]
