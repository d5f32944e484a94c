"""`shifu hub`: the cohort on JupyterHub (`up`), and the mentor's fetch of the transcripts of record."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import typer

from shifu.course.labsetup import is_headless

app = typer.Typer(help="The cohort on JupyterHub: real logins, nbgrader's exchange, the role-play service.",
                  no_args_is_help=True)


@app.command("up")
def up(
    serve: bool = typer.Option(None, "--serve/--check", help="keep the hub running (default when someone is at the screen), or start, check and stop it (default under CI or with no display)"),
    state: Path = typer.Option(Path("/srv/shifu-hub"), help="folder for the hub's state: course, exchange, gradebook, transcripts"),
    roster: Path = typer.Option(None, help="the cohort roster (default hub/cohort.yaml)"),
    ip: str = typer.Option("127.0.0.1", help="address the hub listens on (0.0.0.0 for the whole network; put TLS in front)"),
    port: int = typer.Option(8000, help="the hub's public port"),
    assignment: list[str] = typer.Option(None, "--assignment", "-a", help="build only these releases (default: all)"),
) -> None:
    """Bring the cohort up: Unix users from the roster, the course and its releases, nbgrader's exchange,
    the PostgreSQL gradebook, JupyterHub with real logins and the role-play service."""
    from shifu.hub.up import HubSettings, make_hub

    t0 = time.perf_counter()
    hub = make_hub(HubSettings(state=state, ip=ip, port=port, roster_path=roster, assignments=assignment or None))
    if serve is None:
        serve = not is_headless()
    try:
        hub.prepare()
        url = hub.start()
        took = time.perf_counter() - t0
        typer.echo(f"JupyterHub is up at {url}/hub/login ({took:.0f} s): "
                   f"{len(hub.roster.trainees)} trainees, {len(hub.roster.mentors)} mentors; role-play service at {url}/services/roleplay/")
        if hub.new_passwords:
            typer.echo(f"New users' passwords: {state / 'initial-passwords.txt'} (root only)")
        if not serve:
            typer.echo("No display here: the hub answered and is being stopped. To keep it running: `make hub SERVE=1`.")
            return
        typer.echo("Ctrl-C stops the hub.")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            assert hub.proc is not None
            hub.proc.wait()
        except KeyboardInterrupt:
            pass
    finally:
        hub.stop()


@app.command("transcripts")
def transcripts(
    course: Path = typer.Option(Path("."), help="the course folder (its submitted/ is updated)"),
    assignment: str = typer.Option(None, help="only this assignment"),
) -> None:
    """Replace the transcripts in collected submissions by the role-play service's transcripts of record
    (run after collecting, before `shifu grade`; needs the hub token a mentor's server has)."""
    from shifu.hub.client import fetch_transcripts

    written = fetch_transcripts(course / "submitted", assignment=assignment)
    typer.echo(f"{len(written)} transcripts of record from the role-play service written into {course / 'submitted'}")
