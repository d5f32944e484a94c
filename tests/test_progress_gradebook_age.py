"""Gradebooks of any nbgrader age: nbgrader's own old test gradebook (from before the `course` table)."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbgrader
import pytest
from typer.testing import CliRunner

from progress_builders import build_gradebook, write_grader
from shifu.content.errors import ShifuError
from shifu.grading.gradebook import check_schema, schema_gaps, upgrade_command
from shifu.grading.gradebook_tables import load_gradebook

OLD = Path(nbgrader.__file__).parent / "tests" / "apps" / "files" / "gradebook.db"


@pytest.fixture
def old_gradebook(tmp_path) -> str:
    if not OLD.is_file():
        pytest.fail(f"nbgrader no longer ships its old test gradebook at {OLD}")
    course = tmp_path / "course"
    course.mkdir()
    shutil.copyfile(OLD, course / "gradebook.db")
    return f"sqlite:///{course / 'gradebook.db'}"


def test_old_schema_is_detected_before_reading(old_gradebook):
    with pytest.raises(ShifuError) as exc:
        load_gradebook(old_gradebook)
    msg = str(exc.value)
    assert "made by an older nbgrader" in msg and "assignment.course_id" in msg
    assert f"`nbgrader db upgrade --db={old_gradebook}`" in msg and "--upgrade" in msg
    assert upgrade_command(old_gradebook) == f"nbgrader db upgrade --db={old_gradebook}"


def test_a_current_gradebook_has_no_gaps(tmp_path):
    url = build_gradebook(tmp_path / "c")
    assert check_schema(url) == []


def test_cli_stops_with_the_command_then_upgrades_with_consent(old_gradebook, tmp_path, monkeypatch):
    from shifu.cli import app

    write_grader(tmp_path)
    monkeypatch.setenv("SHIFU_HOME", str(tmp_path))
    runner = CliRunner()
    res = runner.invoke(app, ["progress", "--out", str(tmp_path / "out"), "--db", old_gradebook])
    assert isinstance(res.exception, ShifuError), res.output
    assert "nbgrader db upgrade --db=" in str(res.exception)
    db_file = Path(old_gradebook.removeprefix("sqlite:///"))
    before = db_file.read_bytes()
    res = runner.invoke(app, ["progress", "--out", str(tmp_path / "out"), "--db", old_gradebook, "--upgrade"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "0 trainees" in res.output
    backups = [p for p in db_file.parent.iterdir() if p.name.startswith("gradebook.db.")]
    assert len(backups) == 1 and backups[0].read_bytes() == before  # nbgrader's own backup of the old file
    from sqlalchemy import create_engine, inspect

    engine = create_engine(old_gradebook)
    try:
        insp = inspect(engine)
        assert schema_gaps({t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}) == []
    finally:
        engine.dispose()
    assert load_gradebook(old_gradebook).grades.empty
