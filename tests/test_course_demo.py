"""`shifu demo` on a small synthetic cohort: the whole chain runs and says where to look."""
from __future__ import annotations

import csv

import pytest

from shifu.course.demo import MARKER, run_demo
from shifu.content.errors import ShifuError


def test_small_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    lines: list[str] = []
    result = run_demo(out, trainees=3, assignments=["m01_logistics"], workers=2, say=lines.append, reports=False)
    assert len(lines) == 5 and "SYNTHETIC" in lines[1]
    rows = list(csv.DictReader((out / "scores.csv").open(encoding="utf-8")))
    assert {r["student"] for r in rows} == {"synthetic-01-strong", "synthetic-03-average", "synthetic-06-weak"}
    assert {r["profile"] for r in rows} == {"strong", "average", "weak"}
    assert all(r["synthetic"] == "yes" and r["graded"] == "True" for r in rows)
    assert (out / "course" / "submitted" / "synthetic-01-strong" / "m01_logistics" / "late-parcel-wrong-station.jsonl").exists()
    assert list((out / "course" / "feedback").rglob("*.html"))
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in summary and "Where to look" in summary
    # synthetic mentors graded each submission's 导师点评 cell and signed it; the roster says who mentors whom
    assert "SYNTHETIC mentors graded 3 导师点评 cells" in lines[2]
    roster = list(csv.DictReader((out / "course" / "mentors.csv").open(encoding="utf-8")))
    assert [r["trainee"] for r in roster] == ["synthetic-01-strong", "synthetic-03-average", "synthetic-06-weak"]
    assert all(r["mentor"].startswith("synthetic-mentor-") for r in roster)
    by = {o.student: o.score for o in result.outcomes}
    assert by["synthetic-01-strong"] > by["synthetic-03-average"] > by["synthetic-06-weak"]


def test_demo_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ShifuError, match="not written by `shifu demo`"):
        run_demo(tmp_path, trainees=1, assignments=["m00_orientation"])
    assert (tmp_path / "notes.txt").exists() and not (tmp_path / MARKER).exists()


def test_a_small_cohort_spreads_over_the_profiles():
    from shifu.course.demo import pick_members
    from shifu.course.simulate import load_profiles

    cohort = load_profiles().cohort
    picked = pick_members(cohort, 6)
    assert len({m.profile for m in picked}) == 6
    many = pick_members(cohort, len(cohort) + 2)
    assert len({m.id for m in many}) == len(cohort) + 2 and all(m.id.startswith("synthetic-") for m in many)


def test_demo_reports_are_made_in_process_and_logged(tmp_path, monkeypatch):
    """The progress report, review and calibration come from the progress library, not a `shifu` subprocess."""
    import subprocess

    real_run = subprocess.run

    def no_shifu(cmd, *args, **kwargs):
        assert "shifu.cli" not in " ".join(map(str, cmd)), cmd
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", no_shifu)
    out = tmp_path / "demo"
    result = run_demo(out, trainees=2, assignments=["m01_logistics"], workers=2, say=lambda line: None)
    assert not [n for n in result.notes if "did not finish" in n], result.notes
    assert (out / "progress" / "index.html").exists() and (out / "calibration" / "calibration.html").exists()
    assert list((out / "review").glob("review-*.html"))
    assert result.written["progress"] == out / "progress" and result.written["review"] == out / "review"
    progress_log = (out / "progress.log").read_text(encoding="utf-8")
    assert progress_log.startswith("2 trainees, ") and "wrote " in progress_log
    assert (out / "review.log").read_text(encoding="utf-8").startswith("KPI: ")
    assert "mentor-graded pairs" in (out / "calibration.log").read_text(encoding="utf-8")


def test_a_report_that_fails_is_a_note_with_its_log(tmp_path):
    from shifu.course.demo import logged_report

    def refused(say):
        say("KPI: read")
        raise ShifuError("no gradebook at x — fix: y")

    def broken(say):
        raise RuntimeError("a bug in a report")

    tail = logged_report(refused, tmp_path / "a.log")
    assert tail == "KPI: read\nerror: no gradebook at x — fix: y"
    assert (tmp_path / "a.log").read_text(encoding="utf-8") == tail + "\n"
    tail = logged_report(broken, tmp_path / "b.log")
    assert tail.endswith("RuntimeError: a bug in a report")
    assert "Traceback" in (tmp_path / "b.log").read_text(encoding="utf-8")


def test_library_errors_name_fields_and_the_command_adds_its_flag(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ShifuError) as caught:
        run_demo(tmp_path, trainees=1, assignments=["m00_orientation"])
    assert "--" not in str(caught.value) and ": out: " in str(caught.value)
    hinted = str(caught.value.hint({"out": "--out"}))
    assert hinted.endswith("— fix: name an empty or new output folder (use --out)")
    with pytest.raises(ShifuError) as caught:
        run_demo(tmp_path / "new", trainees=0, assignments=["m00_orientation"])
    assert str(caught.value).startswith("trainees: is 0;") and "--" not in str(caught.value)
