"""`shifu demo`: the whole chain, headless, on a SYNTHETIC cohort; says where to look."""
from __future__ import annotations

from pathlib import Path

import typer

from shifu.content.errors import ShifuError, display_path


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="folder for everything the demo writes (replaced on each run)"),
    trainees: int = typer.Option(None, "--trainees", help="how many synthetic trainees (default: the whole cohort file, 12)"),
    assignment: list[str] = typer.Option(None, "--assignment", help="only these assignments (repeatable; default: all in course/source)"),
    workers: int = typer.Option(None, "--workers", help="notebooks graded at once (default: cores + 1)"),
    timeout: int = typer.Option(120, "--timeout", help="seconds one notebook may run in all under autograde"),
) -> None:
    """Build the course, simulate a synthetic cohort, grade it, write feedback, progress and review."""
    from shifu.course.demo import cohort_table, run_demo, short_reason, where_to_look

    try:
        result = run_demo(out, trainees, assignment or None, workers, timeout, say=typer.echo)
    except ShifuError as exc:
        raise exc.hint({"out": "--out", "trainees": "--trainees N"}) from None
    typer.echo("")
    typer.echo(f"{'trainee (SYNTHETIC)':24} {'profile':12} {'done':>5} {'score':>13}")
    for r in cohort_table(result):
        typer.echo(f"{r.student:24} {r.profile:12} {r.submitted:>2}/{len(result.assignments):<2} {r.score:6.1f}/{r.max_score:<5.0f}"
                   + (f"  {short_reason(r.reasons, 60)}" if r.reasons else ""))
    for note in result.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"\ndemo finished in {result.timings['total']:.0f} s. Where to look:")
    for what, path in where_to_look(result).items():
        typer.echo(f"  {what:40} {display_path(path)}")
