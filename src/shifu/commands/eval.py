"""`shifu eval`: the validity harness (shifu.reading.evaluation) — does the reader reward what mentors reward?"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shifu.content.errors import ShifuError


def _reader(name: str):
    from shifu.reading.readers import reader_named

    return reader_named(name)


def eval_cmd(
    reader: str = typer.Option("rules", "--reader", help="which reader reads the replies: rules (offline) or llm"),
    data: Optional[Path] = typer.Option(None, "--data", help="folder of the labelled set (default tests/data/eval)"),
    as_json: bool = typer.Option(False, "--json", help="print the whole report as one JSON object"),
    check: bool = typer.Option(False, "--check", help="exit 1 when a done-threshold of issue 14 is not met"),
    failures: bool = typer.Option(False, "--failures", help="list the tune split's failing cases (never the held-out ones)"),
    no_conversations: bool = typer.Option(False, "--no-conversations", help="skip playing the conversations"),
    show_heldout: bool = typer.Option(False, "--show-heldout-failures",
                                      help="also list held-out failures (spoils the held-out third for tuning)"),
) -> None:
    """Precision/recall per signal, agreement per criterion, stock-phrase share and conversation outcomes."""
    from shifu.reading.evaluation import EvalSetError, default_eval_dir, dumps, format_report, run

    folder = data or default_eval_dir()
    if not folder.is_dir():
        raise ShifuError(f"{folder}: no labelled set here — fix: pass --data with the folder of replies_*.yaml")
    try:
        report = run(folder, _reader(reader), reader, conversations=not no_conversations, show_heldout=show_heldout)
    except EvalSetError as exc:
        raise ShifuError(str(exc)) from None
    print(dumps(report) if as_json else format_report(report, failures=failures or show_heldout))
    if check and report["misses"]:
        raise typer.Exit(1)
