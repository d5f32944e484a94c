"""A trainee's notebook in a real JupyterLab, driven by headless chromium.

One JupyterLab and one browser for the module; the tests run in order on the same notebook, as a
trainee would: the live reply timer ticks and Enter sends (Shift+Enter is a new line); a finished
role-play survives Kernel → Restart Kernel and Run All with its grade; a `%%reply` answer takes any
text, quotes included, and the grader reads exactly that text. Screenshots of each view are saved in
the test's folder (printed; also copied to $SHIFU_SCREENSHOTS when set).
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

import browser_lab as bl  # tests/ is on the path under pytest

SID = "late-parcel-wrong-station"
NAME = f"{SID}.jsonl"
GOOD = [
    "亲,您好,我是跑者之家的客服小林。特别理解您的着急,实在抱歉让您久等了。我马上帮您查,想先确认一下:您有没有接到快递员的电话,或者驿站的取件通知?",
    "原来是被错分到城东驿站了,这是我们没跟进好,真的很抱歉。我想再问一下,您最晚哪天需要拿到这双鞋?我按您的时间来安排。",
    "明白了,您周六一早比赛,周五晚上前必须拿到。我现在就联系快递网点,让城东驿站改派送到您家,今天下午3点前给您回复改派结果;如果改派不成,今天就用顺丰加急给您补发一双。另外给您发一张10元无门槛优惠券表示歉意。您看这样处理可以吗?",
]
TYPED = '亲,您好!"""我马上帮您查\'一下\',"包裹"在哪个驿站?'

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not bl.HAVE_BROWSER, reason="chromium is not installed")]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext shifu.course.notebook"),
        nbformat.v4.new_code_cell("%%reply q1_reply\n# 在下面直接写你的回复,不用加引号。"),
        nbformat.v4.new_code_cell(f"from shifu.course.notebook import start_roleplay\nstart_roleplay({SID!r})"),
    ]
    nbformat.write(nb, root / "m01.ipynb")
    shots = root / "screenshots"
    with bl.lab(root) as url, bl.chrome() as driver:
        wait = bl.open_notebook(driver, url, "m01.ipynb")
        yield {"root": root, "driver": driver, "wait": wait, "shots": shots}


def _timer(driver) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    span = driver.find_element("css selector", ".shifu-timer span")
    return span.get_attribute("class"), span.text


def _buyer_lines(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.text for b in driver.find_elements("css selector", ".shifu-row.buyer .shifu-bubble")]


def _send_with_enter(session, text: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.keys import Keys

    driver, wait = session["driver"], session["wait"]
    before = len(_buyer_lines(driver))
    box = wait.until(lambda d: next((t for t in d.find_elements("css selector", ".shifu-input textarea") if t.is_enabled()), None))
    _focus(driver, box)
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    wait.until(lambda d: len(_buyer_lines(d)) > before and _buyer_lines(d)[-1].strip() not in ("", "…"))


def _focus(driver, element) -> None:  # type: ignore[no-untyped-def]
    """Scroll to and focus an element (a click may land on JupyterLab's news toast instead)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", element)


def _grade(root: Path) -> float:
    from shifu.roleplay.attempts import hand_in
    from shifu.grading.scoring import transcript_cell

    return transcript_cell(hand_in(root, NAME), SID, 100.0).points  # the whole rubric, out of 100


def test_the_reply_timer_ticks_and_enter_sends(session):
    from selenium.webdriver.common.keys import Keys

    driver, wait, root = session["driver"], session["wait"], session["root"]
    bl.command(driver, "notebook:run-all-cells")
    wait.until(lambda d: len(_buyer_lines(d)) == 1 and _buyer_lines(d)[0] not in ("", "…"))
    # first turn: the order card's reading allowance counts down, then the reply clock counts up (on a slow
    # machine the allowance may be over by the time the page is looked at: either way the timer must tick)
    wait.until(lambda d: _timer(d)[0] in ("shifu-timer-reading", "shifu-timer-ok", "shifu-timer-slow"))
    first = _timer(driver)
    time.sleep(2.5)
    assert _timer(driver)[1] != first[1], f"the timer ticks in the browser: {first} then {_timer(driver)}"
    bl.screenshot(driver, session["shots"], "1-chat-reading-the-order-card")
    # Shift+Enter is a new line, not a send (and not JupyterLab's run-cell)
    box = driver.find_element("css selector", ".shifu-input textarea")
    _focus(driver, box)
    box.send_keys("第一行")
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    box.send_keys("第二行")
    time.sleep(1)
    assert box.get_attribute("value") == "第一行\n第二行" and len(_buyer_lines(driver)) == 1
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    _send_with_enter(session, GOOD[0])
    trainee = [b.text for b in driver.find_elements("css selector", ".shifu-row.trainee .shifu-bubble")]
    assert trainee == [GOOD[0]]
    wait.until(lambda d: d.find_element("css selector", ".shifu-input textarea").get_attribute("value") == "")
    # later turns: timed from the buyer's line, ticking every second
    wait.until(lambda d: _timer(d)[0] in ("shifu-timer-ok", "shifu-timer-slow")
               and int(d.find_element("css selector", ".shifu-timer span").get_attribute("data-seconds") or 0) >= 2)
    bl.screenshot(driver, session["shots"], "2-chat-timer-ticking")
    wide = driver.execute_script(
        "const out = []; const root = document.querySelector('.shifu-roleplay');"
        "for (let e = root; e && !e.classList.contains('jp-Cell'); e = e.parentElement)"
        "  if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') out.push([e.className, e.scrollWidth, e.clientWidth]);"
        "for (const e of root.querySelectorAll('*'))"
        "  if (e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)) out.push([e.className, e.scrollWidth, e.clientWidth]);"
        "return out;")
    assert not wide, f"no horizontal scrollbar in or around the widget: {wide}"
    from shifu.roleplay.transcript import read_transcript

    assert read_transcript(root / NAME).replies == [GOOD[0]]


def test_run_all_after_a_finished_role_play_keeps_it_and_its_grade(session):
    driver, wait, root = session["driver"], session["wait"], session["root"]
    for reply in GOOD[1:]:
        _send_with_enter(session, reply)
    wait.until(lambda d: "问题解决" in d.find_element("css selector", ".shifu-debrief").text)
    bl.screenshot(driver, session["shots"], "3-chat-finished")
    saved = (root / NAME).read_bytes()
    grade = _grade(root)
    assert grade > 50
    bl.command(driver, "notebook:restart-run-all")
    accept = wait.until(lambda d: next(iter(d.find_elements("css selector", ".jp-Dialog-button.jp-mod-accept")), None))
    accept.click()
    wait.until(lambda d: any("之前的对话" in n.text for n in d.find_elements("css selector", ".shifu-notice")))
    wait.until(lambda d: len(_buyer_lines(d)) == 1 + len(GOOD))
    trainee = [b.text for b in driver.find_elements("css selector", ".shifu-row.trainee .shifu-bubble")]
    assert trainee == GOOD
    assert "问题解决" in driver.find_element("css selector", ".shifu-debrief").text
    bl.screenshot(driver, session["shots"], "4-after-restart-and-run-all")
    assert (root / NAME).read_bytes() == saved and not list(root.glob(f"{SID}.*.jsonl"))
    assert _grade(root) == grade


def test_a_reply_cell_takes_any_text_and_the_grader_reads_it(session):
    from selenium.webdriver.common.keys import Keys

    from shifu.grading.rescore import read_reply_source

    driver, wait, root = session["driver"], session["wait"], session["root"]
    editor = driver.find_elements("css selector", ".jp-Cell .cm-content")[1]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", editor)
    editor.click()
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys(Keys.ENTER, TYPED)
    editor.send_keys(Keys.SHIFT, Keys.ENTER)  # run the cell, as the hint says
    wait.until(lambda d: "已记下你的回复" in d.find_elements("css selector", ".jp-Cell")[1].text)
    cell_text = driver.find_elements("css selector", ".jp-Cell")[1].text
    assert "Error" not in cell_text and "SyntaxError" not in cell_text
    bl.screenshot(driver, session["shots"], "5-reply-cell")
    before = (root / "m01.ipynb").stat().st_mtime_ns
    bl.command(driver, "docmanager:save")
    wait.until(lambda d: (root / "m01.ipynb").stat().st_mtime_ns != before)
    source = nbformat.read(root / "m01.ipynb", as_version=4).cells[1].source
    assert read_reply_source(source, "q1_reply").text == TYPED
