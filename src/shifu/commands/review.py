"""`shifu review`: the semiannual mentor-selection review (June = H1, December = H2)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shifu.content.errors import ShifuError


def review(
    period: str = typer.Option(..., "--period", help="YEAR-H1 (June review, Jan–Jun) or YEAR-H2 (December review, Jul–Dec)"),
    out: Path = typer.Option(..., "--out", help="folder for review-<period>.html and review-<period>.csv"),
    kpi: Optional[Path] = typer.Option(None, "--kpi", help="per-agent monthly KPI CSV; default: data/agent_kpi.csv"),
    apprentices: Optional[Path] = typer.Option(None, "--apprentices", help="CSV: mentor,apprentice,passed_probation,date"),
    course: Optional[Path] = typer.Option(None, "--course", help="course folder with the gradebook; default: course/"),
    upgrade: bool = typer.Option(False, "--upgrade", help="upgrade a gradebook made by an older nbgrader (nbgrader db upgrade; keeps a backup)"),
    db: Optional[str] = typer.Option(None, "--db", help="gradebook URL; default: the course's"),
) -> None:
    """Rank candidate mentors by the unified KPI, curriculum competencies and apprentices' outcomes."""
    from shifu.progress.review import semiannual_review

    try:
        run = semiannual_review(period, out, kpi, apprentices, course, db, upgrade=upgrade, say=typer.echo)
    except ShifuError as exc:
        raise exc.hint({"kpi": "--kpi FILE"}) from None
    for line in run.summary():
        typer.echo(line)
