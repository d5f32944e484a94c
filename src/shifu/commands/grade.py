"""`shifu grade`: autograde every submission in the course with nbgrader, in parallel, then feedback."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from .. import paths
from ..errors import display_path
from ..grading import skip_slow_imports
from ..grading.limits import DEFAULT_NOTEBOOK_TIMEOUT, available_cores, default_workers
from ..grading.results import FAILED, SubmissionResult


def grade(
    assignment: Optional[str] = typer.Option(None, "--assignment", "-a", help="grade only this assignment (default: all)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help=f"notebooks executing at once (default: cores + 1 = {default_workers()})"),
    course: Optional[Path] = typer.Option(None, "--course", help="the course folder (default: the project's course/)"),
    db: Optional[str] = typer.Option(None, "--db", help="gradebook database URL, e.g. postgresql://grader@host/shifu "
                                     "(default: the course config, which reads SHIFU_GRADEBOOK_URL)"),
    timeout: int = typer.Option(DEFAULT_NOTEBOOK_TIMEOUT, "--timeout", help="seconds one notebook may run in all, 0 for no "
                                "limit (each cell is also limited by the course's Execute.timeout)"),
    force: bool = typer.Option(False, "--force", "-f", help="grade again submissions graded before"),
    feedback: bool = typer.Option(True, "--feedback/--no-feedback", help="write feedback HTML for every trainee"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON instead of a table"),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="UNSAFE: run trainee notebooks without the "
                                    "bubblewrap sandbox, as you, with your files, network and environment (API keys)"),
) -> None:
    """Autograde every submission (course/submitted/<trainee>/<assignment>/) and write feedback HTML.

    Each notebook runs in a sandbox (bubblewrap): a private copy of its own folder, no network, no
    secrets, memory/CPU/process limits. One run per course at a time; an interrupted run is resumed."""
    root = course or paths.course_dir()
    if no_sandbox:
        typer.echo("warning: --no-sandbox: trainee notebooks run as you, with your files, network and "
                   "environment; grade this way only notebooks you trust", err=True)
    began = time.monotonic()
    from ..grading import grade_course

    results = grade_course(root, assignment=assignment, workers=workers, timeout=timeout, db_url=db,
                           progress=progress, force=force, feedback=feedback, sandbox=not no_sandbox)
    took = time.monotonic() - began
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    else:
        _print_summary(results, Path(root), took, workers or default_workers(), feedback)
    if any(r.status == FAILED for r in results):
        raise typer.Exit(1)


def _print_summary(results: list[SubmissionResult], root: Path, took: float, workers: int, feedback: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..terminal import visible

    console = Console()
    if not results:
        console.print(f"No submissions found in {display_path(root / 'submitted')} "
                      "(expected submitted/<trainee>/<assignment>/*.ipynb).")
        return
    table = Table(show_lines=False, header_style="bold")
    for column in ("trainee", "assignment", "score", "status", "reason"):
        table.add_column(column, overflow="fold", no_wrap=column != "reason")
    for r in results:
        style = "red" if r.status == FAILED else ("yellow" if r.score < r.max_score else "")
        # reasons quote what trainees wrote (scenario ids, file names): plain text, never rich markup or ESC codes
        table.add_row(*(Text(visible(str(v))) for v in (r.student, r.assignment, f"{r.score:g}/{r.max_score:g}",
                                                        r.status, r.reason)), style=style)
    console.print(table)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("graded", "skipped", "failed")}
    console.print(f"{len(results)} submissions: {counts['graded']} graded, {counts['skipped']} skipped, "
                  f"{counts['failed']} failed — {took:.1f} s with {workers} workers on {available_cores()} cores")
    if feedback:
        with_html = [r for r in results if r.feedback]
        if with_html:
            folder = with_html[0].feedback[0].parents[2]
            console.print(f"Feedback HTML for {len(with_html)} trainees in {display_path(folder)}/<trainee>/<assignment>/")
    console.print(f"nbgrader's log: {display_path(root.resolve() / '.nbgrader.log')}")
