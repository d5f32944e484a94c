"""`shifu grade` from the command line: a gradebook elsewhere (--db), re-runs, JSON, clear errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

from shifu import cli  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A course whose gradebook lives outside it, reached only through --db."""
    root = tmp_path_factory.mktemp("grading-cli")
    db_url = "sqlite:///" + str(root / "shared" / "grades.db")
    (root / "shared").mkdir()
    course = gc.build_course(root / "course", cell_timeout=5, db_url=db_url)
    gc.submit(course, "good", gc.answered(course, gc.GOOD, "亲,抱歉久等了。"))
    gc.submit(course, "raises", gc.answered(course, gc.RAISES))
    return course, db_url


def _grade(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, ["grade", "--no-progress", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_grades_into_the_database_given_with_db(course: tuple[Path, str]) -> None:
    path, db_url = course
    code, out = _grade("--course", str(path), "--db", db_url, "--workers", "2")
    assert code == 0, out
    assert "good" in out and "3/5" in out and "raises" in out and "RuntimeError" in out
    assert "Feedback HTML for 2 trainees" in out
    assert not (path / "gradebook.db").exists()  # nothing assumed about a course-local SQLite file
    snap = gc.gradebook_snapshot(db_url)
    assert snap["students"] == ["good", "raises"]
    grades = snap["submissions"][(gc.ASSIGNMENT, "good")]["notebooks"][gc.NOTEBOOK]["grades"]
    assert grades["partial_test__analysis"][0] == 2.0 and grades["assert_test__analysis"][0] == 1.0

    # a second run leaves graded work alone and still reports it
    code, out = _grade("--course", str(path), "--db", db_url, "--json")
    rows = {r["student"]: r for r in json.loads(out)}
    assert code == 0
    assert {r["status"] for r in rows.values()} == {"skipped"}
    assert rows["good"]["score"] == 3 and rows["good"]["feedback"]

    code, out = _grade("--course", str(path), "--db", db_url, "--json", "--force", "--assignment", gc.ASSIGNMENT)
    assert code == 0 and {r["status"] for r in json.loads(out)} == {"graded"}


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["shifu", "grade", "--no-progress", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    return exc.value.code, capsys.readouterr().err


def test_unknown_assignment_is_a_clear_error(course: tuple[Path, str], monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    path, db_url = course
    code, err = _main(monkeypatch, capsys, "--course", str(path), "--db", db_url, "--assignment", "nope")
    assert code == 2
    assert err.startswith("error: ") and "'nope' is not in the gradebook" in err and gc.ASSIGNMENT in err
    assert "Traceback" not in err


def test_missing_course_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    code, err = _main(monkeypatch, capsys, "--course", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err and "--course" in err
