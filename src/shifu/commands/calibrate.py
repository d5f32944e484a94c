"""`shifu calibrate`: where the automatic grades and the mentors' own 导师点评 grades disagree."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import display_path


def calibrate(
    out: Path = typer.Option(..., "--out", help="folder for calibration.html and its CSV tables"),
    course: Optional[Path] = typer.Option(None, "--course", help="course folder (gradebook.db, submitted/); default: course/"),
    db: Optional[str] = typer.Option(None, "--db", help="gradebook URL, e.g. sqlite:////abs/path/gradebook.db; default: the course's"),
    mentors: Optional[Path] = typer.Option(None, "--mentors", help="CSV/.xlsx roster: mentor,trainee[,assignment] (or the apprentices "
                                           "file); default: <course>/mentors.csv when it exists"),
    upgrade: bool = typer.Option(False, "--upgrade", help="upgrade a gradebook made by an older nbgrader (nbgrader db upgrade; keeps a backup)"),
) -> None:
    """Compare the rubric's automatic scores with mentors' manual grades: per ability, module and mentor."""
    from ..progress.calibration import calibrate as run, default_roster, load_roster, write_calibration
    from ..progress.config import load_progress_rules, load_review_rules
    from ..progress.evidence import collect_evidence

    rules = load_progress_rules()
    ev = collect_evidence(course, db, upgrade=upgrade)
    roster_path = mentors or default_roster(ev.course_dir, rules.calibration)
    roster = load_roster(roster_path, load_review_rules().tables.total_markers) if roster_path else None
    result = run(ev, rules, roster)
    written = write_calibration(result, rules, out, ev.source_url)
    o = result.overall
    if o["pairs"]:
        typer.echo(f"{o['pairs']} mentor-graded pairs: Spearman {o['spearman']:.2f}, mean difference (mentor − rubric) "
                   f"{o['mean_difference']:+.1f} points")
    else:
        typer.echo("no mentor grade to compare yet")
    for r in result.by_mentor.itertuples(index=False):
        typer.echo(f"  {r.mentor}: {r.pairs} pairs, mean difference {r.mean_difference:+.1f}, "
                   f"{r.bias:+.1f} against the others → {r.verdict}")
    for verdict in ("harsh", "lenient"):
        names = result.mentors_with(verdict)
        if names:
            typer.echo(f"{verdict}: {', '.join(names)}")
    for n in result.notes:
        typer.echo(f"note: {n}")
    for path in written:
        typer.echo(f"wrote {display_path(path)}")
