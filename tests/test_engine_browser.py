"""The chat widget in a real JupyterLab, driven by headless chromium: type a reply, click send,
see the buyer answer, and find the turn in the transcript beside the notebook."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SID = "late-parcel-wrong-station"
REPLY = "亲,您好,特别理解您的着急。我马上帮您查,请问您有没有接到快递员的电话,或者驿站的取件通知?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)), reason="chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"from shifu.roleplay.widget import roleplay\nroleplay({SID!r}, transcript_dir='.')")]
    nbformat.write(nb, tmp_path / "chat.ipynb")
    port = _free_port()
    jupyter = str(Path(sys.executable).parent / "jupyter-lab")
    cmd = [jupyter, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={tmp_path}",
           "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.workspaces_dir={tmp_path / '.ws'}", "--ServerApp.disable_check_xsrf=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    try:
        yield url, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def test_type_a_reply_click_send_see_the_buyer_answer(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    url, root = lab
    browser.get(f"{url}/lab/tree/chat.ipynb")
    wait = WebDriverWait(browser, 150, poll_frequency=0.5)
    wait.until(lambda d: d.execute_script(
        "const a = window.jupyterapp; if (!a) return false;"
        "const w = a.shell.currentWidget; return !!(w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.connectionStatus === 'connected');"))
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".shifu-row.buyer")))
    assert len(browser.find_elements(By.CSS_SELECTOR, ".shifu-row.buyer")) == 1
    box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".shifu-input textarea")))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", box)
    box.send_keys(REPLY)
    send = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button.jupyter-button") if "发送" in b.text)
    browser.execute_script("arguments[0].click();", send)
    from browser_lab import buyer_answered

    wait.until(buyer_answered)
    bubbles = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".shifu-bubble")]
    assert REPLY in bubbles[1] and bubbles[2] not in ("", "…")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".shifu-input textarea").get_attribute("value") == "")
    # the reply timer counts in the browser
    timer = browser.find_element(By.CSS_SELECTOR, ".shifu-timer span")
    wait.until(lambda d: int(timer.get_attribute("data-seconds") or 0) >= 2)
    records = [json.loads(line) for line in (root / f"{SID}.jsonl").read_text(encoding="utf-8").splitlines()]
    trainee = [r for r in records if r.get("role") == "trainee"]
    assert [r["text"] for r in trainee] == [REPLY]
    assert trainee[0]["latency_s"] is not None and "wrong_station" in trainee[0]["revealed"]
