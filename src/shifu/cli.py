"""The `shifu` command. Each verb lives in its own module under shifu.commands."""
from __future__ import annotations

import sys

import typer

from .errors import ShifuError
from .commands import lab as lab_cmd
from .commands import scenarios as scenarios_cmd

app = typer.Typer(
    help="Shifu 师傅 — training lab for e-commerce customer-service agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(scenarios_cmd.app, name="scenarios")
app.command("lab")(lab_cmd.lab)
# more verbs register here


def main() -> None:
    """Entry point: a ShifuError becomes clear lines on stderr and exit code 2, never a traceback."""
    try:
        app()
    except ShifuError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2)
