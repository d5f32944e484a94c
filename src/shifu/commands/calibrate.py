"""`shifu calibrate`: where the automatic grades and the mentors' own 导师点评 grades disagree."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def calibrate(
    out: Path = typer.Option(..., "--out", help="folder for calibration.html and its CSV tables"),
    course: Optional[Path] = typer.Option(None, "--course", help="course folder (gradebook.db, submitted/); default: course/"),
    db: Optional[str] = typer.Option(None, "--db", help="gradebook URL, e.g. sqlite:////abs/path/gradebook.db; default: the course's"),
    mentors: Optional[Path] = typer.Option(None, "--mentors", help="CSV/.xlsx roster: mentor,trainee[,assignment] (or the apprentices "
                                           "file); default: <course>/mentors.csv when it exists"),
    upgrade: bool = typer.Option(False, "--upgrade", help="upgrade a gradebook made by an older nbgrader (nbgrader db upgrade; keeps a backup)"),
) -> None:
    """Compare the rubric's automatic scores with mentors' manual grades: per ability, module and mentor."""
    from shifu.progress.calibration import calibration_report

    for line in calibration_report(out, course, db, mentors=mentors, upgrade=upgrade).summary():
        typer.echo(line)
