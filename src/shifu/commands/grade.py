"""`shifu grade`: autograde every submission in the course with nbgrader, in parallel, then feedback."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

import typer

from shifu.content import paths
from shifu.content.errors import ShifuError, display_path
from shifu.grading.limits import DEFAULT_NOTEBOOK_TIMEOUT, available_cores, default_workers
from shifu.grading.results import FAILED, SubmissionResult

if TYPE_CHECKING:
    from shifu.grading.runner import Progress as GradingProgress

# grade_course names the parameter or setting at fault in each problem; here they are this command's flags
FLAGS = {"course": "--course", "assignment": "--assignment", "workers": "--workers", "timeout": "--timeout"}


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
    from shifu.grading import grade_course

    notes: list[str] = []
    try:
        with _progress_bar(progress) as bar:
            results = grade_course(root, assignment=assignment, workers=workers, timeout=timeout, db_url=db,
                                   progress=bar, force=force, feedback=feedback, sandbox=not no_sandbox, notes=notes)
    except ShifuError as exc:
        # the same kind of error (CourseLocked, SandboxUnavailable …), fields named as this command's flags
        raise type(exc)([dataclasses.replace(p, field=FLAGS.get(p.field, p.field)) for p in exc.problems]) from None
    finally:
        for line in notes:
            typer.echo(f"note: {line}", err=True)
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

    from shifu.content.terminal import visible

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


@contextlib.contextmanager
def _progress_bar(enabled: bool) -> Iterator["GradingProgress | None"]:
    """A rich progress bar on stderr fed by grade_course's progress callback; None when disabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}", style="dim"), console=Console(stderr=True)) as bar:
        task = None

        def show(done: int, total: int, result: SubmissionResult | None) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task("grading", total=total, status="")
            label = f"{result.student}/{result.assignment} {result.score:g}/{result.max_score:g}" if result else ""
            bar.update(task, completed=done, status=label)
        yield show
