"""The `shifu` command. Each verb lives in its own module under shifu.commands."""
from __future__ import annotations

import sys

import typer

from shifu.content import paths
from shifu.content.errors import ShifuError
from shifu.commands import data as data_cmd
from shifu.commands import course as course_cmd
from shifu.commands import demo as demo_cmd
from shifu.commands import eval as eval_cmd
from shifu.commands import grade as grade_cmd
from shifu.commands import hub as hub_cmd
from shifu.commands import lab as lab_cmd
from shifu.commands import llm as llm_cmd
from shifu.commands import play as play_cmd
from shifu.commands import scenarios as scenarios_cmd
from shifu.commands import progress as progress_cmd
from shifu.commands import review as review_cmd
from shifu.commands import calibrate as calibrate_cmd
from shifu.commands import score as score_cmd
from shifu.commands import transcript as transcript_cmd

app = typer.Typer(
    help="Shifu 师傅 — training lab for e-commerce customer-service agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(scenarios_cmd.app, name="scenarios")
app.command("lab")(lab_cmd.lab)
app.add_typer(data_cmd.app, name="data")
app.add_typer(course_cmd.app, name="course")
app.add_typer(llm_cmd.app, name="llm")
app.add_typer(hub_cmd.app, name="hub")
app.add_typer(transcript_cmd.app, name="transcript")
app.command("demo")(demo_cmd.demo)
app.command("play")(play_cmd.play)
app.command("progress")(progress_cmd.progress)
app.command("review")(review_cmd.review)
app.command("calibrate")(calibrate_cmd.calibrate)
app.command("grade")(grade_cmd.grade)
app.command("score")(score_cmd.score)
app.command("eval")(eval_cmd.eval_cmd)
# more verbs register here


def main() -> None:
    """Entry point: a ShifuError becomes clear lines on stderr and exit code 2, never a traceback."""
    paths.ensure_venv_on_path()
    try:
        app()
    except ShifuError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2)
