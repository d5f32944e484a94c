"""`shifu data generate`: write the synthetic data sets the analysis labs read."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shifu.labs.datagen import DEFAULT_SEED, generate as generate_all
from shifu.content.errors import ShifuError

app = typer.Typer(no_args_is_help=True)


@app.callback()
def data() -> None:
    """Synthetic customer-service data for the analysis labs (data/)."""


@app.command("generate")
def generate(
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="random seed; the same seed always writes byte-identical files"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder for the CSV files (default: the project's data/ folder)"),
) -> None:
    """Write every data set as CSV (figures and sentences come from data/generator/*.yaml)."""
    try:
        written = generate_all(seed=seed, out=out)
    except ShifuError as exc:
        raise exc.hint({"out": "--out"}) from None
    total = 0
    for name, path in written.items():
        size = path.stat().st_size
        total += size
        with path.open(encoding="utf-8") as fh:
            rows = sum(1 for _ in fh) - 1
        typer.echo(f"{path}  {rows:>6} rows  {size / 1024:>7.1f} KiB")
    typer.echo(f"{len(written)} data sets, {total / 1024 / 1024:.2f} MiB, seed {seed}")
