"""`shifu progress`: the cohort progress report, or one trainee's, as self-contained HTML plus CSV."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from shifu.content.errors import ShifuError

if TYPE_CHECKING:
    import pandas as pd


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
    from shifu.progress.report import progress_report

    run = progress_report(out, course, db, trainee, mentors=mentors, as_of=_date(as_of), upgrade=upgrade)
    for line in run.summary():
        typer.echo(line)


def _date(text: Optional[str]) -> "pd.Timestamp | None":
    """--as-of as a date (None: today, decided by the report)."""
    import pandas as pd

    if text is None:
        return None
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ShifuError(f"--as-of {text!r} is not a date — fix: write YYYY-MM-DD") from None
