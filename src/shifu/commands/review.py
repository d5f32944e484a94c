"""`shifu review`: the semiannual mentor-selection review (June = H1, December = H2)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import paths
from ..errors import Problem, ShifuError, display_path


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
    from ..progress.config import load_progress_rules, load_review_rules
    from ..progress.evidence import collect_evidence
    from ..progress.review import load_apprentices, load_kpi, parse_period, run_review, write_review

    per = parse_period(period)
    rules = load_review_rules()
    progress_rules = load_progress_rules()
    kpi_path = kpi or _default_kpi(rules.kpi.default_files)
    kpi_df = load_kpi(kpi_path, rules)
    typer.echo(f"KPI: {display_path(kpi_path)} read as {kpi_df.attrs.get('encoding', '?')}, {len(kpi_df)} rows")
    app_df = load_apprentices(apprentices, rules) if apprentices else None
    ev = collect_evidence(course, db, upgrade=upgrade)
    result = run_review(per, kpi_df, ev, ev.taxonomy, progress_rules, rules, app_df)
    sources = {progress_rules.t("review_source_kpi"): display_path(kpi_path), progress_rules.t("review_source_gradebook"): ev.source_url}
    if apprentices:
        sources[progress_rules.t("review_source_apprentices")] = display_path(apprentices)
    written = write_review(result, progress_rules, ev.taxonomy, out, sources)
    typer.echo(f"{per.label}: {len(result.ranking)} ranked, {len(result.unranked)} with too little evidence")
    for row in result.ranking.head(5).itertuples():
        typer.echo(f"  {row.rank}. {row.candidate}  {row.total:.1f}" + ("" if row.meets_kpi_bar else "  (below KPI bar)"))
    for path in written:
        typer.echo(f"wrote {display_path(path)}")


def _default_kpi(names: list[str]) -> Path:
    """The first of review.yaml's kpi.default_files that exists under data/."""
    for name in names:
        if (paths.data_dir() / name).is_file():
            return paths.data_dir() / name
    raise ShifuError([Problem(display_path(paths.data_dir() / names[0]), "(file)", "no KPI data under data/",
                              "generate the data sets (see data/README.md) or pass --kpi FILE")])
