"""The one gradebook access layer (issue 10): one URL rule, one existence check, one score reader;
grading's progress as a callback; grading errors name parameters, the command names its flags."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

from shifu import cli  # noqa: E402
from shifu.content.errors import ShifuError  # noqa: E402
from shifu.grading import FAILED, grade_course  # noqa: E402
from shifu.grading.gradebook import gradebook_url, read_scores, require_gradebook  # noqa: E402
from shifu.grading.nbgrader_course import load_config, open_course  # noqa: E402


def _urls(course: Path, db_url: str | None = None) -> tuple[str, str, str]:
    """The gradebook URL as the three users of a course's nbgrader configuration see it."""
    return (gradebook_url(course, db_url), str(load_config(course, db_url).CourseDirectory.db_url),
            open_course(course, db_url).db_url)


def test_every_reader_of_the_course_config_finds_the_same_gradebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFU_GRADEBOOK_URL", raising=False)
    course = tmp_path / "course"
    gc.write_config(course)
    local = "sqlite:///" + str((course / "gradebook.db").resolve())
    assert _urls(course) == (local, local, local)

    elsewhere = "sqlite:///" + str(tmp_path / "shared" / "grades.db")
    monkeypatch.setenv("SHIFU_GRADEBOOK_URL", elsewhere)  # read by the course's nbgrader_config.py
    assert _urls(course) == (elsewhere, elsewhere, elsewhere)

    given = "sqlite:///" + str(tmp_path / "given.db")
    assert _urls(course, given) == (given, given, given)


def test_a_course_without_config_gets_nbgraders_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFU_GRADEBOOK_URL", raising=False)
    course = tmp_path / "bare"
    (course / "source").mkdir(parents=True)  # an nbgrader course by its folders alone
    default = "sqlite:///" + str((course / "gradebook.db").resolve())
    assert _urls(course) == (default, default, default)


def test_a_missing_gradebook_is_refused_and_never_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFU_GRADEBOOK_URL", raising=False)
    course = tmp_path / "course"
    gc.write_config(course)
    with pytest.raises(ShifuError, match="no gradebook at") as grading:
        grade_course(course, sandbox=False)
    with pytest.raises(ShifuError, match="no gradebook at") as reading:
        read_scores(course)
    assert str(grading.value) == str(reading.value)  # one check, one message
    assert "SHIFU_GRADEBOOK_URL" in str(grading.value) and "--db" not in str(grading.value)
    assert not (course / "gradebook.db").exists()


def test_a_bad_url_is_one_clear_error() -> None:
    with pytest.raises(ShifuError, match="not a database URL") as exc:
        require_gradebook("grades.db")
    assert "fix:" in str(exc.value) and "--" not in str(exc.value)


def test_a_bad_option_names_the_parameter_and_the_command_names_its_flag(tmp_path: Path) -> None:
    course = tmp_path / "course"
    gc.write_config(course)
    with pytest.raises(ShifuError) as exc:
        grade_course(course, workers=-1, sandbox=False)
    assert [p.field for p in exc.value.problems] == ["workers"] and "--" not in str(exc.value)

    result = CliRunner().invoke(cli.app, ["grade", "--no-progress", "--course", str(course), "--workers", "-1",
                                          "--no-sandbox"])
    assert isinstance(result.exception, ShifuError)
    assert "--workers: must be at least 1" in str(result.exception)


@pytest.mark.slow
def test_progress_is_told_of_every_submission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFU_GRADEBOOK_URL", raising=False)
    course = gc.build_course(tmp_path / "course")
    (course / "submitted" / ".ghost" / gc.ASSIGNMENT).mkdir(parents=True)  # reported, never run
    (course / "submitted" / "empty" / gc.ASSIGNMENT).mkdir(parents=True)
    seen: list[tuple[int, int, str | None]] = []
    results = grade_course(course, sandbox=False, feedback=False,
                           progress=lambda done, total, r: seen.append((done, total, r and r.student)))
    assert {r.student for r in results} == {".ghost", "empty"} and all(r.status == FAILED for r in results)
    assert seen[0] == (0, 2, None)
    assert [(d, t) for d, t, _ in seen[1:]] == [(1, 2), (2, 2)]
    assert {s for _, _, s in seen[1:]} == {".ghost", "empty"}


def test_naming_the_gradebook_layer_loads_no_nbgrader() -> None:
    """Every `shifu` command imports the CLI; nbgrader.api pulls in nbformat and jsonschema's IRI grammars
    (seconds of CPU on a busy machine), so they load only when a gradebook is used (grading.skip_slow_imports)."""
    import subprocess

    code = ("import sys, shifu.cli, shifu.grading.gradebook, shifu.grading.nbgrader_course, shifu.progress.evidence\n"
            "print(sorted(m for m in ('nbformat', 'nbgrader.api', 'shifu.grading.runner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
