"""`shifu lab`: open the course in JupyterLab, or prove it starts when nobody can look at it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import typer

from .. import paths
from ..errors import ShifuError

from ..course.labsetup import Launch

def is_headless() -> bool:
    """CI, or no display and nobody at the terminal: starting a server that never returns would hang the caller."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return True
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    return not has_display and not sys.stdin.isatty()


def lab_command(root_dir: Path, port: int, open_browser: bool, default_url: str = "/lab") -> list[str]:
    jupyter = shutil.which("jupyter-lab") or str(Path(sys.executable).parent / "jupyter-lab")
    cmd = [jupyter, f"--ServerApp.root_dir={root_dir}", f"--port={port}", "--ServerApp.ip=127.0.0.1"]
    if default_url != "/lab":
        cmd.append(f"--LabApp.default_url={default_url}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root; JupyterLab refuses root without it
    return cmd


def _prepare(role: str) -> Launch:
    """The workspace (trainee) or the course (mentor), nbgrader's exchange and the role's settings."""
    from ..course.labsetup import prepare_lab

    launch = prepare_lab("mentor" if role == "mentor" else "trainee")
    for line in launch.notes:
        print(f"warning: {line}", file=sys.stderr)
    return launch


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return paths.venv_env(**(extra or {}))


def smoke_check(root_dir: Path, port: int, timeout: float = 90.0, extra_env: dict[str, str] | None = None) -> str:
    """Start JupyterLab, wait until /lab answers, stop it; return the URL it answered on."""
    env = _env(extra_env)
    proc = subprocess.Popen(lab_command(root_dir, port, open_browser=False), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    url = ""
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+/lab\?token=\w+)", line)
            if m:
                url = m.group(1)
                break
            if time.monotonic() > deadline:
                break
        if not url:
            raise ShifuError(f"JupyterLab did not start within {timeout:.0f} s — fix: run `jupyter lab` by hand to see why")
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    if resp.status == 200:
                        return url.split("?")[0]
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ShifuError(f"JupyterLab printed {url.split('?')[0]} but did not answer there")
            time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def lab(
    serve: bool = typer.Option(None, "--serve/--check", help="keep JupyterLab running (default when someone is at the screen), or only prove it starts (default under CI or with no display)"),
    port: int = typer.Option(8888, help="port for JupyterLab"),
    mentor: bool = typer.Option(False, "--mentor", help="the mentor's JupyterLab: starts in course/ with the formgrader (Manage Assignments, Collect, Manual Grading)"),
) -> None:
    """Open the course in JupyterLab with the offline buyer (trainee), or the formgrader (--mentor)."""
    launch = _prepare("mentor" if mentor else "trainee")
    root = launch.root_dir
    if serve is None:
        serve = not is_headless()
    if serve:
        typer.echo(f"Starting JupyterLab in {root} (Ctrl-C to stop)")
        raise typer.Exit(subprocess.call(lab_command(root, port, open_browser=True, default_url=launch.default_url),
                                         env=_env(launch.env)))
    url = smoke_check(root, port, extra_env=launch.env)
    where = "course" if mentor else "workspace"
    typer.echo(f"JupyterLab started and answered at {url} ({where}: {root}), then stopped: no display here.")
    more = " --mentor" if mentor else ""
    typer.echo(f"To keep it running: `make {'mentor' if mentor else 'lab'} SERVE=1` (or `shifu lab{more} --serve`), then open the URL it prints.")
