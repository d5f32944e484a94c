"""A real JupyterLab on 127.0.0.1 and headless chromium (selenium), for the browser tests.

`lab(root)` starts JupyterLab serving `root` (no token, its own runtime and workspace folders) and
yields its URL; `chrome()` yields a webdriver. Helpers wait for the notebook's kernel, run commands
through `window.jupyterapp` (exposed with --LabApp.expose_app_in_browser) and save screenshots.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)
WAIT_S = 180  # a busy 2-core machine: JupyterLab, a kernel and chromium all start in this time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab(root: Path) -> Iterator[str]:
    port = _free_port()
    jupyter = str(Path(sys.executable).parent / "jupyter-lab")
    cmd = [jupyter, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
           "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.workspaces_dir={root / '.ws'}", "--ServerApp.disable_check_xsrf=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log_path = root / "lab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_S
        try:
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("JupyterLab did not start:\n" + log_path.read_text()[-3000:]) from None
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _cjk_fontconfig() -> dict[str, str]:
    """A fontconfig file that adds the CJK fonts the project already depends on (mplfonts) to the system's,
    so screenshots show Chinese on a machine without a system CJK font. Empty when mplfonts is missing."""
    import tempfile

    try:
        import mplfonts
    except ImportError:
        return {}
    fonts = Path(mplfonts.__file__).parent / "fonts"
    if not fonts.is_dir():
        return {}
    conf = Path(tempfile.mkdtemp(prefix="shifu-fonts-")) / "fonts.conf"
    system = "<include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>"
    conf.write_text(f"<?xml version=\"1.0\"?>\n<fontconfig>{system}<dir>{fonts}</dir>"
                    f"<cachedir>{conf.parent / 'cache'}</cachedir></fontconfig>\n", encoding="utf-8")
    return {"FONTCONFIG_FILE": str(conf)}


@contextlib.contextmanager
def chrome() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env={**os.environ, **_cjk_fontconfig()}), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


KERNEL_READY = ("const a = window.jupyterapp; if (!a) return false;"
                "const w = a.shell.currentWidget; return !!(w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.connectionStatus === 'connected'"
                " && w.sessionContext.session.kernel.status === 'idle');")


def buyer_answered(driver) -> bool:  # type: ignore[no-untyped-def]
    """The buyer's answer to the last reply is on screen (for WebDriverWait.until). The bubble is redrawn while
    the line streams in, so it is read in one go, in the page: a stale element can't end the wait."""
    texts = driver.execute_script("return Array.from(document.querySelectorAll('.shifu-row.buyer .shifu-bubble'))"
                                  ".map(e => e.textContent.trim());")
    return len(texts) >= 2 and texts[-1] not in ("", "…")


def open_notebook(driver, url: str, name: str):  # type: ignore[no-untyped-def]
    """Open `name` and wait until its kernel is connected; returns a WebDriverWait for further waits."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}/lab/tree/{name}")
    wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.5)
    wait.until(lambda d: d.execute_script(KERNEL_READY))
    return wait


def command(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    driver.execute_script(f"window.jupyterapp.commands.execute({name!r});")


def screenshot(driver, folder: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a PNG of the page under folder/ (and under $SHIFU_SCREENSHOTS when set, for a reviewer)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("SHIFU_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(extra) / path.name)
    print(f"screenshot: {path}")
    return path
