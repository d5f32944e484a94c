"""`shifu demo`: the whole chain on the embedded defaults, headless, with a SYNTHETIC cohort.

course (copied) → release notebooks → synthetic trainees answer them and play the role-plays
through the real engine → nbgrader submitted/ layout → parallel autograde → feedback → LLM review
suggestions (only when an LLM is configured) → SYNTHETIC mentors grade the 导师点评 cells (one harsh,
one lenient) → progress report, semiannual review and calibration (mentors vs rubric).
Everything is written under the output folder; the project's course/ is never touched.
"""
from __future__ import annotations

import csv
import shutil
import time
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Protocol

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.course import layout
from shifu.course.build import build_course
from shifu.grading.limits import default_workers
from shifu.progress.calibration import calibration_report
from shifu.progress.report import progress_report
from shifu.progress.review import semiannual_review
from shifu.grading import GRADER_NAME, SubmissionResult
from shifu.course.simulate import (MentorPanel, Profiles, Submitted, cohort_kpi, deal_mentors, grade_as_mentors, load_mentors,
                       load_profiles, submit_cohort)

MARKER = ".shifu-demo"


@dataclass
class DemoResult:
    out: Path
    course: Path
    assignments: list[str]
    submitted: list[Submitted]
    outcomes: list[SubmissionResult]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    written: dict[str, Path] = field(default_factory=dict)


def prepare_out(out: Path) -> Path:
    """An empty output folder, or one a previous demo wrote (cleared); never someone else's files."""
    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ShifuError([Problem(display_path(out), "out", "exists and was not written by `shifu demo`",
                                  "name an empty or new output folder")])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by `shifu demo`; the whole folder is replaced on the next run\n", encoding="utf-8")
    return out


def copy_course(src: Path, dest: Path, assignments: list[str], cell_timeout: int | None = None) -> None:
    """The course's config and sources; cell_timeout shortens how long a never-ending cell may run."""
    dest.mkdir(parents=True)
    config = (src / "nbgrader_config.py").read_text(encoding="utf-8")
    if cell_timeout:
        config += f"\n# shifu demo: never-ending cells are interrupted sooner than in the course\nc.Execute.timeout = {int(cell_timeout)}\n"
    (dest / "nbgrader_config.py").write_text(config, encoding="utf-8")
    for a in assignments:
        shutil.copytree(layout.source_dir(src) / a, layout.source_dir(dest) / a,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))


class Summarised(Protocol):
    """What a report entry returns (progress.report.ProgressRun, review.ReviewRun, calibration.CalibrationRun)."""

    def summary(self) -> list[str]: ...


def logged_report(make: Callable[[Callable[[str], None]], Summarised], log: Path) -> str | None:
    """Make one report; its summary lines, or why it failed, go to `log`.

    make: called with a `say` callback, returns a run with `.summary()` (progress_report and its kin).
    Returns None when the report was written, else the last lines of the failure: the reports come
    after minutes of grading, so one that fails is a note in the summary, not the end of the demo.
    """
    lines: list[str] = []
    try:
        lines += make(lines.append).summary()
        failed = None
    except ShifuError as exc:
        lines += [f"error: {line}" for line in str(exc).splitlines()]
        failed = "\n".join(lines[-4:])
    except Exception:  # noqa: BLE001 — any failure of a report becomes a note; the traceback goes to the log
        lines += traceback.format_exc().splitlines()
        failed = "\n".join(lines[-4:])
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return failed


def half_year(today: date) -> str:
    return f"{today.year}-H{1 if today.month <= 6 else 2}"


def write_cohort_kpi(profiles: Profiles, members: list, period: str, out: Path) -> Path:
    """The cohort's synthetic monthly service KPIs over the review's six months, so the review has candidates."""
    year, half = int(period[:4]), int(period[-1])
    months = [f"{year}-{m:02d}" for m in range(1 + 6 * (half - 1), 7 + 6 * (half - 1))]
    rows = cohort_kpi(profiles, members, months)
    path = out / "service_kpi_synthetic.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["month", "agent_id"])
        w.writeheader()
        w.writerows(rows)
    return path


def run_demo(out: Path, trainees: int | None = None, assignments: list[str] | None = None, workers: int | None = None,
             timeout: int = 120, profiles: Profiles | None = None, say: Callable[[str], None] = print,
             reports: bool = True, cell_timeout: int = 10) -> DemoResult:
    """Run the chain; `say` gets one line per step. trainees: how many of the cohort file's trainees (default all)."""
    t_start = time.perf_counter()
    src_course = paths.course_dir()
    names = layout.source_assignments(src_course)
    if assignments:
        unknown = [a for a in assignments if a not in names]
        if unknown:
            raise ShifuError(f"unknown assignment {unknown[0]!r} — fix: use one of: {', '.join(names)}")
        names = [a for a in names if a in assignments]
    if not names:
        raise ShifuError(f"no assignments in {display_path(layout.source_dir(src_course))} — fix: run `shifu course author`")
    profiles = profiles or load_profiles()
    members = list(profiles.cohort)
    if trainees is not None:
        if trainees < 1:
            raise ShifuError([Problem("", "trainees", f"is {trainees}; the demo needs at least 1 synthetic trainee",
                                      "ask for 1 or more")])
        members = pick_members(members, trainees)
    out = prepare_out(out)
    course = out / "course"
    db_url = "sqlite:///" + str(course / "gradebook.db")
    workers = workers or default_workers()
    result = DemoResult(out, course, names, [], [])

    t = time.perf_counter()
    copy_course(src_course, course, names, cell_timeout)
    built = build_course(course, names, db_url=db_url)
    bad = [b for b in built if not b.ok]
    if bad:
        raise ShifuError(f"could not build {bad[0].assignment}: {bad[0].error} — fix: run `shifu course check {bad[0].assignment}`")
    result.timings["build"] = time.perf_counter() - t
    say(f"[1/5] built {len(names)} assignments in {display_path(course)} ({result.timings['build']:.0f} s)")

    t = time.perf_counter()
    result.submitted = submit_cohort(course, names, profiles, members)
    result.timings["simulate"] = time.perf_counter() - t
    plays = sum(1 for s in result.submitted for o in s.roleplays if o != "not done")
    say(f"[2/5] {len(members)} SYNTHETIC trainees submitted {len(result.submitted)} assignment folders "
        f"with {plays} role-play transcripts ({result.timings['simulate']:.0f} s)")

    t = time.perf_counter()
    from shifu.grading import grade_course  # nbgrader and jupyter_client load when grading starts

    result.outcomes = grade_course(course, None, workers=workers, timeout=timeout, db_url=db_url, force=True, feedback=True)
    result.timings["grade"] = time.perf_counter() - t
    failed = [o for o in result.outcomes if not o.graded]
    t = time.perf_counter()
    graded, roster_csv = mentor_review(course, db_url, [m.id for m in members])
    result.written["mentor roster (synthetic)"] = roster_csv
    result.timings["mentors"] = time.perf_counter() - t
    say(f"[3/5] graded {len(result.outcomes)} submissions with {GRADER_NAME}, {workers} workers, feedback written "
        f"({result.timings['grade']:.0f} s; {len(failed)} could not be graded); SYNTHETIC mentors graded {graded} "
        f"导师点评 cells (a harsh and a lenient one among them)")

    t = time.perf_counter()
    from shifu.course.suggest import llm_configured, suggest_reviews

    if llm_configured():
        sug = suggest_reviews(course, None, db_url=db_url)
        say(f"[4/5] LLM review suggestions: {sug.summary()}")
    else:
        result.notes.append("no LLM configured: mentor-review comments were not pre-filled (see `shifu course suggest`)")
        say("[4/5] no LLM configured: mentor-review suggestions skipped (the review cells wait for a mentor)")
    result.timings["suggest"] = time.perf_counter() - t

    t = time.perf_counter()
    result.written.update(write_scores(result, out))
    if reports:
        period = half_year(date.today())
        kpi_csv = write_cohort_kpi(profiles, members, period, out)
        result.written["service KPIs (synthetic)"] = kpi_csv
        reports_made = {
            "progress": lambda say: progress_report(out / "progress", course, db_url),
            "review": lambda say: semiannual_review(period, out / "review", kpi_csv, None, course, db_url, say=say),
            "calibration": lambda say: calibration_report(out / "calibration", course, db_url),
        }
        for name, make in reports_made.items():
            failed = logged_report(make, out / f"{name}.log")
            if failed is None:
                result.written[name] = out / name
            else:
                result.notes.append(f"the {name} report did not finish (log: {display_path(out / f'{name}.log')}): {failed}")
    result.timings["reports"] = time.perf_counter() - t
    say(f"[5/5] scores, progress report, review and calibration written ({result.timings['reports']:.0f} s)")
    result.timings["total"] = time.perf_counter() - t_start
    result.written["summary"] = write_summary(result, out)
    return result


def mentor_review(course: Path, db_url: str, trainees: list[str], panel: MentorPanel | None = None) -> tuple[int, Path]:
    """SYNTHETIC mentors (course/demo/mentors.yaml) grade the 导师点评 cells, dealt trainees in turn;
    the same assignment is written as the roster <course>/<calibration.roster> (mentor,trainee)."""
    from shifu.progress.config import load_progress_rules

    panel = panel or load_mentors()
    cfg = load_progress_rules().calibration
    roster = deal_mentors(panel, trainees)
    graded = grade_as_mentors(db_url, panel, cfg.mentor_cells, roster)
    path = course / cfg.roster
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["mentor", "trainee"])
        w.writerows((m, t) for t, m in roster.items())
    return graded, path


def pick_members(members: list, n: int) -> list:
    """n trainees with profiles as varied as possible: one of each profile in turn; past the file's end,
    the cohort again with numbered ids."""
    by_profile: dict[str, list] = {}
    for m in members:
        by_profile.setdefault(m.profile, []).append(m)
    spread = [group[i] for i in range(max(len(g) for g in by_profile.values()))
              for group in by_profile.values() if i < len(group)]
    out = []
    for i in range(n):
        base, rounds = spread[i % len(spread)], i // len(spread)
        out.append(base if rounds == 0 else base.model_copy(update={"id": f"{base.id}-{rounds + 1}"}))
    return out


def write_scores(result: DemoResult, out: Path) -> dict[str, Path]:
    """scores.csv: one row per synthetic trainee and assignment."""
    profile_of = {s.student: s.profile for s in result.submitted}
    path = out / "scores.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "profile", "assignment", "graded", "score", "max_score", "reason", "synthetic"])
        for o in sorted(result.outcomes, key=lambda o: (o.student, layout.ASSIGNMENTS.index(o.assignment)
                                                            if o.assignment in layout.ASSIGNMENTS else 99)):
            w.writerow([o.student, profile_of.get(o.student, ""), o.assignment, o.graded, f"{o.score:g}", f"{o.max_score:g}",
                        o.reason, "yes"])
    return {"scores": path}


@dataclass
class CohortRow:
    student: str
    profile: str
    submitted: int
    score: float
    max_score: float  # of the work submitted
    reasons: list[str]


def cohort_table(result: DemoResult) -> list[CohortRow]:
    """One row per synthetic trainee, best first."""
    profile_of = {s.student: s.profile for s in result.submitted}
    rows: dict[str, CohortRow] = {}
    for o in result.outcomes:
        row = rows.setdefault(o.student, CohortRow(o.student, profile_of.get(o.student, ""), 0, 0.0, 0.0, []))
        row.submitted += 1
        row.score += o.score
        row.max_score += o.max_score
        if o.reason and o.reason != "ok":
            row.reasons.append(f"{o.assignment}: {o.reason}")
    return sorted(rows.values(), key=lambda r: -r.score)


def short_reason(reasons: list[str], width: int = 110) -> str:
    """The first reason, cut to one readable line; scores.csv holds them all."""
    if not reasons:
        return ""
    first = reasons[0] if len(reasons[0]) <= width else reasons[0][: width - 1] + "…"
    return first + (f" (+{len(reasons) - 1} more in scores.csv)" if len(reasons) > 1 else "")


def write_summary(result: DemoResult, out: Path) -> Path:
    lines = ["# Shifu demo — SYNTHETIC cohort", "",
             "Every trainee here is simulated (ids start with `synthetic-`); their answers come from "
             "course/demo/trainee_profiles.yaml and their role-plays from the real buyer engine.", "",
             f"Assignments: {', '.join(result.assignments)}", "",
             "| trainee | profile | assignments submitted | score | of (submitted work) | first note |",
             "|---|---|---|---|---|---|"]
    for r in cohort_table(result):
        note = short_reason(r.reasons).replace("|", "/")
        lines.append(f"| {r.student} | {r.profile} | {r.submitted}/{len(result.assignments)} | {r.score:.1f} | {r.max_score:.0f} | {note} |")
    lines += ["", "## Where to look", ""]
    lines += [f"- {k}: `{display_path(v)}`" for k, v in where_to_look(result).items()]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    t = result.timings
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in t.items())]
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def where_to_look(result: DemoResult) -> dict[str, Path]:
    out = {"summary": result.out / "summary.md", "scores (CSV)": result.out / "scores.csv",
           "feedback HTML per trainee": result.course / "feedback",
           "autograded notebooks": result.course / "autograded",
           "submissions and role-play transcripts": result.course / "submitted",
           "gradebook (open with formgrader)": result.course / "gradebook.db"}
    if "progress" in result.written:
        out["progress report"] = result.written["progress"]
    if "review" in result.written:
        out["semiannual review"] = result.written["review"]
    if "calibration" in result.written:
        out["calibration: mentors vs rubric"] = result.written["calibration"]
    return out
