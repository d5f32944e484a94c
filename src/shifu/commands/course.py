"""`shifu course …`: write, build and check the nbgrader course; pre-fill mentor reviews."""
from __future__ import annotations

from pathlib import Path

import typer

from shifu.content.errors import display_path

app = typer.Typer(help="The nbgrader course: author, build, check, suggest.", no_args_is_help=True)

CourseOpt = typer.Option(None, "--course", help="course directory (default: course/ in the project)")


def _course(course: Path | None) -> Path:
    from shifu.content import paths

    return (course or paths.course_dir()).resolve()


@app.command()
def author(
    assignments: list[str] = typer.Argument(None, help="module names (default: every file in course/authoring/)"),
    force: bool = typer.Option(False, "--force", help="overwrite source notebooks that already exist (trainers' edits are lost)"),
    transcripts: bool = typer.Option(False, "--transcripts", help="only replay the reference role-plays; notebooks untouched"),
    course: Path = CourseOpt,
) -> None:
    """Write source notebooks from course/authoring/*.yaml (existing notebooks are kept unless --force)."""
    from shifu.course.authoring import author as run

    for a in run(_course(course), assignments or None, force, transcripts):
        if transcripts:
            typer.echo(f"replayed {len(a.transcripts)} reference transcript(s) of {display_path(a.notebook)} into course/reference")
        elif a.written:
            extra = f" + {len(a.transcripts)} reference transcript(s)" if a.transcripts else ""
            typer.echo(f"wrote {display_path(a.notebook)}{extra}")
        else:
            typer.echo(f"kept  {display_path(a.notebook)} (exists; --force to overwrite)")


@app.command()
def build(
    assignments: list[str] = typer.Argument(None, help="assignment names (default: all in course/source)"),
    course: Path = CourseOpt,
) -> None:
    """Generate the release notebooks (nbgrader generate_assignment) for every source assignment."""
    from shifu.course.build import build_course

    root = _course(course)
    results = build_course(root, assignments or None)
    for b in results:
        if b.ok:
            typer.echo(f"ok    {b.assignment:18} {len(b.notebooks)} notebook(s)  {b.seconds:5.1f} s")
        else:
            typer.echo(f"FAIL  {b.assignment:18} {b.error}")
    bad = [b for b in results if not b.ok]
    typer.echo(f"release notebooks in {display_path(root / 'release')}: {len(results) - len(bad)}/{len(results)} assignments built")
    if bad:
        raise typer.Exit(1)


@app.command()
def check(
    assignments: list[str] = typer.Argument(None, help="assignment names (default: all in course/source)"),
    workers: int = typer.Option(None, "--workers", help="parallel notebooks (default: cores + 1)"),
    timeout: int = typer.Option(300, "--timeout", help="seconds one notebook may run in all under autograde (each cell: the course's Execute.timeout)"),
    keep: Path = typer.Option(None, "--keep", help="keep the scratch course in this (new) folder to inspect it"),
    course: Path = CourseOpt,
) -> None:
    """Prove the course is sound: reference answers validate, releases hide tests, untouched copies score 0."""
    from shifu.course.check import check_course

    report = check_course(_course(course), assignments or None, workers, timeout, keep)
    steps = ("validate", "build", "hidden", "untouched")
    by_assignment: dict[str, list] = {}
    for f in report.findings:
        by_assignment.setdefault(f.assignment, []).append(f)
    for name, findings in by_assignment.items():
        ok = all(f.ok for f in findings)
        marks = "  ".join(f"{s}:{'ok' if all(f.ok for f in findings if f.step == s) else 'FAIL'}"
                          for s in steps if any(f.step == s for f in findings))
        typer.echo(f"{'ok  ' if ok else 'FAIL'}  {name or '(course)':18} {marks}")
        for f in findings:
            if not f.ok:
                typer.echo(f"        {f.step}: {f.detail}")
    t = report.timings
    typer.echo(f"graded with {report.grader}; validate {t.get('validate', 0):.0f} s, build {t.get('build', 0):.0f} s, "
               f"untouched autograde {t.get('untouched', 0):.0f} s, total {t.get('total', 0):.0f} s")
    if report.ok:
        typer.echo(f"course check passed: {len(by_assignment)} assignments")
    else:
        typer.echo(f"course check FAILED: {len(report.failures())} problem(s) above")
        raise typer.Exit(1)


@app.command()
def suggest(
    assignment: str = typer.Argument(None, help="assignment name (default: every graded assignment)"),
    course: Path = CourseOpt,
    db_url: str = typer.Option(None, "--db", "--db-url", help="gradebook URL (default: the course's); --db as in every other command"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace suggestions written earlier"),
) -> None:
    """Pre-fill each mentor-review comment with the LLM judge's suggestion (never points; needs an LLM)."""
    from shifu.course.suggest import suggest_reviews

    result = suggest_reviews(_course(course), assignment, db_url=db_url, overwrite=overwrite)
    typer.echo(result.summary())
    if result.failed:
        raise typer.Exit(1)
