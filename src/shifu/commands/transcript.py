"""`shifu transcript show FILE`: a role-play conversation in the terminal, as the grader replays it."""
from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Role-play transcripts (.jsonl) for people to read.", no_args_is_help=True)


@app.command("show")
def show(
    file: Path = typer.Argument(..., help="a role-play transcript, e.g. workspace/m01_logistics/late-parcel-wrong-station.jsonl"),
) -> None:
    """Each turn: who spoke (buyer / trainee), the buyer's mood, the reply time, the signals read in the reply.

    The conversation is replayed first (the trainee's replies through the engine), so moods and
    signals are the engine's, not what the file claims; a file that fails the replay is shown as
    written under a warning.
    """
    from shifu.roleplay.transcript_view import render_text, show_file

    typer.echo(render_text(show_file(file)), nl=False)
