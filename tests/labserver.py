"""A real JupyterLab for tests: started the way `shifu lab` starts it (its Launch), token-less on 127.0.0.1,
and a content copy of the project so building releases, the exchange and a gradebook leave the repo alone."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_CHROMIUM = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def content_copy(dest: Path) -> Path:
    """scenarios/, grader/, course/ and data/ of the project in `dest` (no build output)."""
    from shifu.content import paths

    root = paths.project_root()
    generated = shutil.ignore_patterns("release", "submitted", "autograded", "feedback", "gradebook.db", ".nbgrader.log",
                                       "__pycache__", ".ipynb_checkpoints")
    for name in ("scenarios", "grader", "course", "data"):
        shutil.copytree(root / name, dest / name, ignore=generated)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_lab(launch, log_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:  # launch: shifu.course.labsetup.Launch
    """Start JupyterLab for `launch` (its folder, settings and first page); yield its base URL; stop it."""
    from shifu.course.labsetup import lab_command

    port = free_port()
    # the command `shifu lab` runs, plus what a test needs: no token, no XSRF, its own lab workspaces
    cmd = lab_command(launch.root_dir, port, open_browser=False, default_url=launch.default_url)
    cmd += ["--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
            f"--LabApp.workspaces_dir={log_dir / 'lab-workspaces'}", "--ServerApp.disable_check_xsrf=True"]
    full_env = {**os.environ, **(env or {}), **launch.env, "JUPYTER_RUNTIME_DIR": str(log_dir / "runtime"),
                "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{launch.role}-lab.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=launch.root_dir, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a busy 2-core machine starts JupyterLab slowly
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def get_json(url: str, method: str = "GET") -> tuple[int, object]:
    """(status, parsed JSON body or text) of one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            body = resp.read().decode("utf-8")
            status = resp.status
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def _fontconfig(folder: Path) -> Path | None:
    """A fontconfig file adding the CJK fonts the mplfonts package ships (a dependency): screenshots taken
    on a machine without a system CJK font still show Chinese, not boxes. None when there is none."""
    try:
        import mplfonts
    except ImportError:
        return None
    fonts = Path(mplfonts.__file__).parent / "fonts"
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                    f"<dir>{fonts}</dir><cachedir>{folder / 'cache'}</cachedir></fontconfig>", encoding="utf-8")
    return conf


@contextmanager
def chromium(width: int = 1400, height: int = 1000, scratch: Path | None = None):
    """Headless chromium; scratch: a folder for its font settings (Chinese glyphs in screenshots)."""
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--window-size={width},{height}",
                 "--disable-dev-shm-usage", "--lang=zh-CN"):
        opts.add_argument(flag)
    conf = _fontconfig(Path(scratch or tempfile.mkdtemp(prefix="shifu-fonts-")) / "fontconfig")
    env = {**os.environ, **({"FONTCONFIG_FILE": str(conf)} if conf else {})}
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot_dir(default: Path) -> Path:
    """SHIFU_SCREENSHOTS, else `default` (the test's own tmp folder): where a reviewer finds the views."""
    d = Path(os.environ.get("SHIFU_SCREENSHOTS") or default)
    d.mkdir(parents=True, exist_ok=True)
    return d
