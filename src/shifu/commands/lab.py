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

app = typer.Typer()


def is_headless() -> bool:
    """CI, or no display and nobody at the terminal: starting a server that never returns would hang the caller."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return True
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    return not has_display and not sys.stdin.isatty()


def lab_command(root_dir: Path, port: int, open_browser: bool) -> list[str]:
    jupyter = shutil.which("jupyter-lab") or str(Path(sys.executable).parent / "jupyter-lab")
    cmd = [jupyter, f"--ServerApp.root_dir={root_dir}", f"--port={port}", "--ServerApp.ip=127.0.0.1"]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root; JupyterLab refuses root without it
    return cmd


def _prepare_workspace() -> Path:
    """The folder trainees work in; the course module fills it when the course exists."""
    try:
        from ..course.workspace import prepare_workspace  # type: ignore[import-not-found]
    except ImportError:
        return paths.course_dir()
    return prepare_workspace()


def smoke_check(root_dir: Path, port: int, timeout: float = 90.0) -> str:
    """Start JupyterLab, wait until /lab answers, stop it; return the URL it answered on."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
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


@app.command()
def lab(
    serve: bool = typer.Option(None, "--serve/--check", help="keep JupyterLab running (default when someone is at the screen), or only prove it starts (default under CI or with no display)"),
    port: int = typer.Option(8888, help="port for JupyterLab"),
) -> None:
    """Open the course in JupyterLab with the offline buyer."""
    root = _prepare_workspace()
    if serve is None:
        serve = not is_headless()
    if serve:
        typer.echo(f"Starting JupyterLab in {root} (Ctrl-C to stop)")
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        raise typer.Exit(subprocess.call(lab_command(root, port, open_browser=True), env=env))
    url = smoke_check(root, port)
    typer.echo(f"JupyterLab started and answered at {url} (workspace: {root}), then stopped: no display here.")
    typer.echo("To keep it running: `make lab SERVE=1` (or `shifu lab --serve`), then open the URL it prints.")
