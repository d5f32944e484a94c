"""`shifu scenarios list|validate`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from shifu.content.errors import ShifuError, display_path
from shifu.roleplay.scenario import load_all, scenario_files_in, validate_files

app = typer.Typer(help="The difficult-buyer library in scenarios/.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """A table of every scenario: id, title, family, difficulty."""
    scenarios = load_all()
    table = Table("id", "title", "family", "channel", "difficulty", show_lines=False)
    for sc in sorted(scenarios, key=lambda s: (s.family.value, s.difficulty, s.id)):
        table.add_row(sc.id, sc.title, sc.family.value, sc.channel.value, str(sc.difficulty))
    Console(width=160).print(table)
    typer.echo(f"{len(scenarios)} scenarios")


@app.command("validate")
def validate(paths: Optional[list[Path]] = typer.Argument(None, help="scenario files or folders; default: all of scenarios/")) -> None:
    """Exit 0 when every scenario is valid; otherwise print each problem with file, line, field and fix, and exit 1."""
    try:
        files = scenario_files_in(paths)
    except ShifuError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1)
    good, problems = validate_files(files)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        shown = {display_path(f) for f in files}
        bad = len({p.file for p in problems} & shown)
        others = sorted({p.file for p in problems} - shown)
        also = f"; also in {', '.join(others)}" if others else ""
        typer.echo(f"{bad} of {len(files)} scenario files have problems ({len(problems)} in all{also})", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(good)} scenarios valid")
