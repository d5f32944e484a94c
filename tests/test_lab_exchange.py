"""`make lab` in single-user mode: nbgrader's exchange and the two roles' settings, run for real.

The configuration is the one `shifu lab` writes (shifu.course.labsetup.prepare_lab); nbgrader reads it
as it always does (JUPYTER_CONFIG_PATH plus the working folder). Release → fetch → submit → collect go
through nbgrader's own commands and the Assignments panel's own server endpoints."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from labserver import BIN, content_copy, get_json, running_lab

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
    # the mentor collects in the course folder, with the mentor's settings
    col = _nbgrader(["collect", "m00_orientation"], mentor, mentor.root_dir)
    assert col.returncode == 0, col.stderr[-2000:]
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
        assert trainee.default_url.startswith("/lab/tree/") and trainee.default_url.removeprefix("/lab/tree/") in names
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
