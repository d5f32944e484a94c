"""`shifu progress`: the cohort progress report, or one trainee's, as self-contained HTML plus CSV."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import display_path


def progress(
    out: Path = typer.Option(..., "--out", help="folder for the report (HTML with embedded charts, CSV tables)"),
    trainee: Optional[str] = typer.Option(None, "--trainee", help="one trainee's report (nbgrader student id); default: the cohort"),
    course: Optional[Path] = typer.Option(None, "--course", help="course folder (gradebook.db, submitted/, autograded/); default: course/"),
    upgrade: bool = typer.Option(False, "--upgrade", help="upgrade a gradebook made by an older nbgrader (nbgrader db upgrade; keeps a backup)"),
    db: Optional[str] = typer.Option(None, "--db", help="gradebook URL, e.g. sqlite:////abs/path/gradebook.db; default: the course's"),
    mentors: Optional[Path] = typer.Option(None, "--mentors", help="CSV/.xlsx roster mentor,trainee[,assignment] naming who graded "
                                           "导师点评 cells (calibration section); default: <course>/mentors.csv when it exists"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="report date YYYY-MM-DD (recency is counted back from it); default: today"),
) -> None:
    """Progress toward the five abilities from the nbgrader gradebook and role-play transcripts."""
    from ..progress.config import load_progress_rules
    from ..progress.evidence import collect_evidence
    from ..progress.report import cohort_view, trainee_view, write_cohort, write_trainee

    when = _date(as_of)
    rules = load_progress_rules()
    ev = collect_evidence(course, db, upgrade=upgrade)
    if trainee:
        written = write_trainee(trainee_view(ev, rules, trainee, when), rules, out)
    else:
        from ..progress.calibration import default_roster, load_roster
        from ..progress.config import load_review_rules

        roster_path = mentors or default_roster(ev.course_dir, rules.calibration)
        roster = load_roster(roster_path, load_review_rules().tables.total_markers) if roster_path else None
        view = cohort_view(ev, rules, when, roster=roster)
        written = write_cohort(view, rules, out)
        typer.echo(f"{len(ev.trainees)} trainees, {len(ev.table)} evidence items, {len(view.at_risk)} at risk, "
                   f"{len(ev.unmapped)} unmapped cells, {len(ev.backlog)} cells waiting for manual grading")
        cal = view.calibration
        if cal is not None and cal.overall["pairs"]:
            flagged = "; ".join(f"{v}: {', '.join(cal.mentors_with(v))}" for v in ("harsh", "lenient") if cal.mentors_with(v))
            typer.echo(f"calibration: {cal.overall['pairs']} mentor-graded pairs, mean difference (mentor − rubric) "
                       f"{cal.overall['mean_difference']:+.1f}" + (f"; {flagged}" if flagged else ""))
    for path in written:
        typer.echo(f"wrote {display_path(path)}")


def _date(text: Optional[str]):
    if text is None:
        return None
    import pandas as pd

    from ..errors import ShifuError

    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ShifuError(f"--as-of {text!r} is not a date — fix: write YYYY-MM-DD")
