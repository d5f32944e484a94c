"""`make lab` in single-user mode: nbgrader's exchange and the two roles' settings, run for real.

The configuration is the one `shifu lab` writes (shifu.course.labsetup.prepare_lab); nbgrader reads it
as it always does (JUPYTER_CONFIG_PATH plus the working folder). Release → fetch → submit → collect go
through nbgrader's own commands and the Assignments panel's own server endpoints."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from labserver import BIN, HAVE_CHROMIUM, chromium, content_copy, get_json, running_lab, screenshot_dir

pytestmark = pytest.mark.slow
TRAINEE = "xiaolin"


@pytest.fixture(scope="module")
def single_user(tmp_path_factory):
    from shifu.course.labsetup import prepare_lab

    tmp = tmp_path_factory.mktemp("single-user")
    home = content_copy(tmp / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHIFU_HOME", str(home))
        mp.setenv("SHIFU_WORKSPACE", str(tmp / "workspace"))
        mp.setenv("SHIFU_LAB_STATE", str(tmp / "state"))
        mp.setenv("SHIFU_TRAINEE", TRAINEE)
        mp.delenv("JUPYTER_CONFIG_PATH", raising=False)
        trainee = prepare_lab("trainee")
        mentor = prepare_lab("mentor")
        yield tmp, trainee, mentor


def _nbgrader(args: list[str], launch, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **launch.env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_every_assignment_is_released_to_the_exchange(single_user):
    tmp, trainee, mentor = single_user
    outbound = tmp / "state" / "exchange" / "shifu" / "outbound"
    from shifu.course import layout

    names = layout.source_assignments(tmp / "home" / "course")
    assert sorted(p.name for p in outbound.iterdir()) == sorted(names)
    assert (outbound / "m01_logistics" / "m01_logistics.ipynb").is_file()
    text = (outbound / "m01_logistics" / "m01_logistics.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text  # the release, not the source
    assert trainee.root_dir == (tmp / "workspace").resolve() and mentor.root_dir == (tmp / "home" / "course").resolve()


def test_fetch_submit_collect_with_nbgrader_from_the_written_configuration(single_user):
    tmp, trainee, mentor = single_user
    # a second copy fetched the way a hub trainee would (nbgrader fetch_assignment), in a fresh folder
    other = tmp / "fetched"
    other.mkdir()
    got = _nbgrader(["fetch_assignment", "m01_logistics"], trainee, other)
    assert got.returncode == 0, got.stderr[-2000:]
    assert (other / "m01_logistics" / "m01_logistics.ipynb").is_file()
    # the workspace's own copy is handed in from the workspace
    nb = trainee.root_dir / "m00_orientation" / "m00_orientation.ipynb"
    work = nbformat.read(nb, as_version=4)
    work.cells[0].source += "\n\n我的笔记:先共情再追问"
    nbformat.write(work, nb)
    sub = _nbgrader(["submit", "m00_orientation"], trainee, trainee.root_dir)
    assert sub.returncode == 0, sub.stderr[-2000:]
    inbound = tmp / "state" / "exchange" / "shifu" / "inbound"
    handed = [p.name for p in inbound.iterdir()]
    assert any(n.startswith(f"{TRAINEE}+m00_orientation+") for n in handed), handed
    # the mentor collects in the course folder: with the mentor's settings, or from any terminal there
    col = _nbgrader(["collect", "m00_orientation"], mentor, mentor.root_dir)
    assert col.returncode == 0, col.stderr[-2000:]
    plain = subprocess.run([str(BIN / "nbgrader"), "list", "--inbound"], cwd=mentor.root_dir, capture_output=True,
                           text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"})
    assert plain.returncode == 0 and f"{TRAINEE} m00_orientation" in plain.stdout + plain.stderr, plain.stderr[-2000:]
    collected = mentor.root_dir / "submitted" / TRAINEE / "m00_orientation" / "m00_orientation.ipynb"
    assert collected.is_file()
    assert "我的笔记:先共情再追问" in nbformat.read(collected, as_version=4).cells[0].source


def test_assignments_panel_lists_and_submits_in_the_trainee_lab(single_user):
    tmp, trainee, _ = single_user
    with running_lab(trainee, tmp / "logs-trainee") as url:
        status, listed = get_json(f"{url}/assignments?course_id=shifu")
        assert status == 200 and isinstance(listed, dict) and listed["success"], listed
        by_name = {a["assignment_id"]: a for a in listed["value"]}
        assert by_name["m02_refunds"]["status"] == "fetched"  # the workspace's folder counts as fetched
        assert by_name["m02_refunds"]["path"] == "m02_refunds"
        inbound = tmp / "state" / "exchange" / "shifu" / "inbound"
        before = {p.name for p in inbound.iterdir()}
        status, done = get_json(f"{url}/assignments/submit?course_id=shifu&assignment_id=m02_refunds", method="POST")
        assert status == 200 and isinstance(done, dict) and done["success"], done
        new = {p.name for p in inbound.iterdir()} - before
        assert len(new) == 1 and next(iter(new)).startswith(f"{TRAINEE}+m02_refunds+")
        # mentor tools are not there for the trainee: no formgrader, no course list
        assert get_json(f"{url}/formgrader")[0] == 404
        assert get_json(f"{url}/formgrader/api/assignments")[0] == 404
        # nor nbgrader's English Validate ("Success!" for an empty role-play): the 提交前检查 cell replaces it
        hidden = json.loads((trainee.config_dir / "labconfig" / "page_config.json").read_text(encoding="utf-8"))
        assert hidden["disabledExtensions"].get("@jupyter/nbgrader:validate-assignment") is True
        assert not hidden["disabledExtensions"].get("@jupyter/nbgrader:assignment-list")
        # Chinese UI by default; the start page opens rendered
        status, setting = get_json(f"{url}/lab/api/settings/@jupyterlab/translation-extension:plugin")
        assert status == 200 and setting["schema"]["properties"]["locale"]["default"] == "zh_CN", setting
        status, pack = get_json(f"{url}/lab/api/translations/zh_CN")
        assert status == 200 and pack["data"], "the zh-CN language pack is not installed"
        # the file browser lists the numbered links in course order, not the folders they point at
        status, listing = get_json(f"{url}/api/contents")
        names = sorted(item["name"] for item in listing["content"])
        folders = [n for n in names if n[:2].isdigit()]
        assert folders[:2] == ["01-m00_orientation", "02-m01_logistics"] and folders[7] == "08-lab1_kpi", names
        assert "m00_orientation" not in names and "lab1_kpi" not in names
        assert trainee.default_url.startswith("/lab/tree/") and unquote(trainee.default_url.removeprefix("/lab/tree/")) in names
        # a notebook opens through its link (the kernel's folder is the assignment's)
        status, model = get_json(f"{url}/api/contents/01-m00_orientation/m00_orientation.ipynb?content=0")
        assert status == 200 and model["type"] == "notebook"


def test_formgrader_finds_the_course_in_the_mentor_lab(single_user):
    tmp, _, mentor = single_user
    with running_lab(mentor, tmp / "logs-mentor") as url:
        status, assignments = get_json(f"{url}/formgrader/api/assignments")
        assert status == 200, assignments
        names = {a["name"] for a in assignments}
        assert {"m00_orientation", "lab5_retention"} <= names  # not "No data available"
        m01 = next(a for a in assignments if a["name"] == "m01_logistics")
        assert m01["status"] == "released"  # it sees the exchange `make lab` set up
        settings = json.loads((mentor.config_dir / "labconfig" / "page_config.json").read_text(encoding="utf-8"))
        assert settings["disabledExtensions"] == {}


# -- in a real browser: what a newcomer sees, what the mentor grades --------------------------------------

def _wait_for_app(driver, timeout: float = 180):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: d.execute_script("return !!(window.jupyterapp && window.jupyterapp.shell"
                                   " && document.querySelector('.jp-DirListing-item'))"))


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason="chromium is not installed")
def test_a_newcomer_sees_chinese_a_start_page_modules_in_order_and_no_mentor_tools(single_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tmp, trainee, _ = single_user
    shots = screenshot_dir(tmp / "screenshots")
    with running_lab(trainee, tmp / "logs-trainee-browser") as url, chromium(scratch=tmp) as driver:
        driver.get(f"{url}/")  # the server's own first page: it sends the browser to the start page
        _wait_for_app(driver)
        wait = WebDriverWait(driver, 120, poll_frequency=0.5)
        # the start page opens rendered (Markdown preview), with the course's own words
        start = (tmp / "home" / "course" / "start" / unquote(trainee.default_url.removeprefix("/lab/tree/"))).read_text(encoding="utf-8")
        heading = start.splitlines()[0].lstrip("# ").strip()
        wait.until(lambda d: heading in d.execute_script(
            "const r = document.querySelector('.jp-RenderedMarkdown h1'); return r ? r.textContent : '';"))
        # JupyterLab's own menus in Chinese (the language pack's word for "File")
        wait.until(lambda d: "文件" in [e.text for e in d.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")])
        items = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-DirListing-item .jp-DirListing-itemText")]
        folders = [n for n in items if n[:2].isdigit()]
        assert folders[0] == "01-m00_orientation" and folders[6] == "07-m06_double11" and folders[7] == "08-lab1_kpi", items
        assert "lab1_kpi" not in items
        driver.save_screenshot(str(shots / "trainee-start-page.png"))
        # mentor tools are not in the trainee's lab: no Formgrader, no Create Assignment
        commands = driver.execute_script("return window.jupyterapp.commands.listCommands();")
        assert "nbgrader:open-assignment-list" in commands
        assert "nbgrader:open-formgrader" not in commands and "nbgrader:open-create-assignment" not in commands
        # the Assignments panel lists the workspace's assignments as downloaded, ready to submit
        driver.execute_script("window.jupyterapp.commands.execute('nbgrader:open-assignment-list');")
        wait.until(lambda d: "m01_logistics" in d.find_element(By.ID, "nbgrader-assignment-list").text)
        driver.save_screenshot(str(shots / "trainee-assignment-list.png"))
        panel = driver.find_element(By.ID, "nbgrader-assignment-list").text
        assert "Error" not in panel and "exchange directory" not in panel


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason="chromium is not installed")
def test_the_mentor_grades_a_submitted_roleplay_with_the_chat_in_formgrader(single_user):
    from nbgrader.api import Gradebook
    from selenium.webdriver.support.ui import WebDriverWait

    from shifu.course import layout
    from shifu.grading import grade_course

    tmp, trainee, mentor = single_user
    shots = screenshot_dir(tmp / "screenshots")
    a, sc = "m01_logistics", "late-parcel-wrong-station"
    reference = layout.reference_dir(tmp / "home" / "course") / a / f"{sc}.jsonl"
    shutil.copy2(reference, trainee.root_dir / a / f"{sc}.jsonl")  # the trainee's finished chat
    assert _nbgrader(["submit", a], trainee, trainee.root_dir).returncode == 0
    col = _nbgrader(["collect", a], mentor, mentor.root_dir)
    assert col.returncode == 0, col.stderr[-2000:]
    course = mentor.root_dir
    db = "sqlite:///" + str(course / "gradebook.db")
    results = grade_course(course, assignment=a, workers=1, db_url=db)
    assert all(r.graded for r in results), [r.reason for r in results]
    with Gradebook(db, "shifu") as gb:
        nb_id = gb.find_submission_notebook(a, a, TRAINEE).id
    reply = next(json.loads(line) for line in reference.read_text(encoding="utf-8").splitlines()
                 if '"role": "trainee"' in line)["text"]
    with running_lab(mentor, tmp / "logs-mentor-browser") as url, chromium(1400, 1600, scratch=tmp) as driver:
        driver.get(f"{url}/formgrader/submissions/{nb_id}/")
        WebDriverWait(driver, 180, poll_frequency=0.5).until(
            lambda d: d.execute_script("return document.querySelectorAll('.shifu-transcript .alert-info').length") > 0)
        bubble = driver.execute_script("const b = document.querySelector('.shifu-transcript .alert-info');"
                                       "document.querySelector('.shifu-transcript').scrollIntoView();"
                                       "return [b.textContent, getComputedStyle(b).backgroundColor];")
        assert reply[:20] in bubble[0]
        assert bubble[1] not in ("rgba(0, 0, 0, 0)", "transparent")  # styled as a bubble by formgrader's Bootstrap
        driver.save_screenshot(str(shots / "mentor-formgrader-chat.png"))
        feedback = course / "feedback" / TRAINEE / a / f"{a}.html"
        driver.get(feedback.as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.querySelectorAll('.shifu-transcript .alert-warning').length") > 0)
        driver.execute_script("document.querySelector('.shifu-transcript').scrollIntoView();")
        driver.save_screenshot(str(shots / "trainee-feedback-chat.png"))


def test_course_order_links_are_kept_and_never_replace_a_trainees_file(tmp_path):
    from shifu.course.labsetup import link_in_course_order

    for name in ("m00_orientation", "m01_logistics", "lab1_kpi"):
        (tmp_path / name).mkdir()
    (tmp_path / "02-m01_logistics").write_text("my notes", encoding="utf-8")  # the trainee's own file
    hidden = link_in_course_order(tmp_path, ["m00_orientation", "m01_logistics", "lab1_kpi", "m02_refunds"])
    assert hidden == ["m00_orientation", "lab1_kpi"]  # m01 stays visible: its link name is taken
    assert os.readlink(tmp_path / "01-m00_orientation") == "m00_orientation"
    assert (tmp_path / "02-m01_logistics").read_text(encoding="utf-8") == "my notes"
    assert os.readlink(tmp_path / "03-lab1_kpi") == "lab1_kpi"
    assert link_in_course_order(tmp_path, ["m00_orientation", "m01_logistics", "lab1_kpi"]) == hidden  # idempotent
