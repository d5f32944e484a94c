"""`shifu lab`: open the course in JupyterLab, or prove it starts when nobody can look at it."""
from __future__ import annotations

import sys

import typer

from shifu.course.labsetup import is_headless, prepare_lab, serve_lab, smoke_check


def lab(
    serve: bool = typer.Option(None, "--serve/--check", help="keep JupyterLab running (default when someone is at the screen), or only prove it starts (default under CI or with no display)"),
    port: int = typer.Option(8888, help="port for JupyterLab"),
    mentor: bool = typer.Option(False, "--mentor", help="the mentor's JupyterLab: starts in course/ with the formgrader (Manage Assignments, Collect, Manual Grading)"),
) -> None:
    """Open the course in JupyterLab with the offline buyer (trainee), or the formgrader (--mentor)."""
    launch = prepare_lab("mentor" if mentor else "trainee")
    for line in launch.notes:
        print(f"warning: {line}", file=sys.stderr)
    root = launch.root_dir
    if serve is None:
        serve = not is_headless()
    if serve:
        typer.echo(f"Starting JupyterLab in {root} (Ctrl-C to stop)")
        raise typer.Exit(serve_lab(launch, port))
    url = smoke_check(root, port, extra_env=launch.env)
    where = "course" if mentor else "workspace"
    typer.echo(f"JupyterLab started and answered at {url} ({where}: {root}), then stopped: no display here.")
    more = " --mentor" if mentor else ""
    typer.echo(f"To keep it running: `make {'mentor' if mentor else 'lab'} SERVE=1` (or `shifu lab{more} --serve`), then open the URL it prints.")
