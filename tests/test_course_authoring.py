"""The course's authoring format, notebook shape, leak check and trainee workspace (fast, no grading)."""
from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest

from shifu.content import paths
from shifu.course import layout
from shifu.course.authoring import build_notebook, scenarios_of
from shifu.course.check import hidden_lines, leaks
from shifu.course.notebook import roleplay_transcript, start_roleplay
from shifu.course.spec import CRITERIA, course_text, load_module, module_files
from shifu.content.errors import ShifuError

TAGS = set(CRITERIA) | {"communication", "product", "operations", "analysis", "business"}


@pytest.fixture(scope="module")
def m01():
    spec = load_module(layout.authoring_dir() / "m01_logistics.yaml")
    return spec, build_notebook(spec, scenarios_of(spec), course_text())


def test_every_module_file_loads_and_names_known_scenarios():
    files = module_files()
    assert {f.stem for f in files} >= {"m00_orientation", "m01_logistics", "m02_refunds", "m03_claims",
                                       "m04_presales", "m05_complaints", "m06_double11"}
    for f in files:
        spec = load_module(f)
        assert spec.assignment in layout.ASSIGNMENTS
        scenarios_of(spec)  # raises when a scenario is missing or invalid


def test_graded_cells_follow_the_grade_id_convention(m01):
    spec, nb = m01
    graded = [c.metadata["nbgrader"] for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade") or c.metadata.get("nbgrader", {}).get("task")]
    assert graded, "a module without graded cells"
    for meta in graded:
        assert "__" in meta["grade_id"] and meta["grade_id"].rsplit("__", 1)[1] in TAGS, meta["grade_id"]
        assert meta["points"] > 0
    ids = {m["grade_id"] for m in graded}
    assert {"q1_reply__de_escalation", "roleplay_1__need_tracing", "review__communication"} <= ids
    review = next(m for m in graded if m["grade_id"].startswith("review__"))
    # the mentor grades it in formgrader: a task, never also a grade cell (nbgrader would count it twice)
    assert review["task"] is True and review["grade"] is False


def test_reply_tests_are_hidden_and_call_the_rubric_helper(m01):
    _, nb = m01
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("q1_reply__")]
    for cell in tests:
        assert "### BEGIN HIDDEN TESTS" in cell.source and "reply_points(q1_reply" in cell.source
        criterion = cell.metadata["nbgrader"]["grade_id"].split("__")[1]
        assert f'criterion="{criterion}"' in cell.source


def test_roleplay_cells_carry_the_scenario_for_the_widget_and_the_grader(m01):
    _, nb = m01
    launch = [c for c in nb.cells if c.metadata.get("shifu", {}).get("kind") == "roleplay"]
    assert launch and launch[0].metadata["shifu"]["scenario"] == "late-parcel-wrong-station"
    assert 'start_roleplay("late-parcel-wrong-station")' in launch[0].source


def test_unknown_criterion_is_reported_with_file_and_field(tmp_path):
    bad = (layout.authoring_dir() / "m01_logistics.yaml").read_text(encoding="utf-8").replace("de_escalation: 2", "calmness: 2", 1)
    path = tmp_path / "m01_logistics.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ShifuError) as exc:
        load_module(path)
    text = str(exc.value)
    assert "m01_logistics.yaml" in text and "criteria" in text and "calmness" in text


def test_leak_check_finds_a_hidden_line_in_a_release(tmp_path, m01):
    _, nb = m01
    src = tmp_path / "src.ipynb"
    nbformat.write(nb, src)
    hidden = sorted(hidden_lines(nb))
    assert any("reply_points(q1_reply" in h for h in hidden)
    clean = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in clean.cells:
        cell.source = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION\n?", "", cell.source.split("### BEGIN HIDDEN TESTS")[0], flags=re.S)
    rel = tmp_path / "rel.ipynb"
    nbformat.write(clean, rel)
    assert leaks(src, rel) == []
    clean.cells[-2].source += "\n" + hidden[0]
    nbformat.write(clean, rel)
    assert any(hidden[0][:40] in p for p in leaks(src, rel))


def test_source_notebooks_are_committed_without_outputs():
    for nb_path in sorted(layout.source_dir().glob("m0*/*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), nb_path


def test_roleplay_transcript_prefers_the_trainees_own(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    folder = tmp_path / "source" / "m09_x"
    folder.mkdir(parents=True)
    (tmp_path / "reference" / "m09_x").mkdir(parents=True)
    (tmp_path / "reference" / "m09_x" / "x.jsonl").write_text("{}\n")
    assert roleplay_transcript("x", folder).endswith("reference/m09_x/x.jsonl")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # a trainee's kernel is never pointed at a reference
    assert roleplay_transcript("x", folder) == str(folder / "x.jsonl")
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    (folder / "x.jsonl").write_text("{}\n")
    assert roleplay_transcript("x", folder) == str(folder / "x.jsonl")


def test_reference_transcripts_live_outside_the_source_folders():
    assert not list(layout.source_dir().rglob("*.jsonl"))
    assert {p.parent.name for p in layout.reference_dir().glob("*/*.jsonl")} >= {"m01_logistics", "m06_double11"}


def test_roleplay_cell_does_not_open_a_chat_while_grading(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert start_roleplay("late-parcel-wrong-station") is None
    assert "late-parcel-wrong-station.jsonl" in capsys.readouterr().out


def test_workspace_copies_once_and_never_overwrites(tmp_path):
    from shifu.course.workspace import sync_workspace

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(paths.course_dir() / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(layout.source_dir() / "m00_orientation", course / "source" / "m00_orientation")
    ws = tmp_path / "ws"
    first = sync_workspace(course, ws)
    nb = ws / "m00_orientation" / "m00_orientation.ipynb"
    assert first.built == ["m00_orientation"] and nb in first.copied
    assert "BEGIN SOLUTION" not in nb.read_text(encoding="utf-8")
    nb.write_text(nb.read_text(encoding="utf-8").replace("benchmark_seconds", "my_answer"), encoding="utf-8")
    second = sync_workspace(course, ws)
    assert second.copied == [] and nb in second.kept and second.built == []
    assert "my_answer" in nb.read_text(encoding="utf-8")
