"""`shifu score`: score one reply against a scenario's rubric, as a table or as JSON."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shifu.reading.feedback_text import feedback_text
from shifu.reading.rubric import ScoreResult, score_reply
from shifu.roleplay.scenario import load_scenario


def _table(result: ScoreResult) -> Table:
    text = feedback_text().table
    table = Table(title=text.title.format(total=result.total, max=result.max), show_lines=True)
    table.add_column(text.criterion, no_wrap=True)
    table.add_column(text.score, justify="right", no_wrap=True)
    table.add_column(text.evidence, overflow="fold")
    table.add_column(text.tip, overflow="fold")
    for c in result.criteria:
        score = f"{c.points:g}/{c.max:g}" if c.applicable else text.not_scored
        evidence = "\n".join(text.evidence_line.format(turn=e.turn, quote=escape(e.quote)) for e in c.evidence) or "—"
        table.add_row(f"{c.label}\n[dim]{c.id}[/dim]", score, evidence, escape(c.tip))
    return table


def score(
    scenario: str = typer.Option(..., "--scenario", help="scenario id (a file name in scenarios/ without .yaml) or a path"),
    reply: str = typer.Option(..., "--reply", help="the trainee's reply; '-' reads it from stdin"),
    buyer: str = typer.Option("", "--buyer", help="the buyer message being answered (default: the scenario's first opening line)"),
    latency: Optional[float] = typer.Option(None, "--latency", help="seconds the reply took; without it timeliness is not scored"),
    as_json: bool = typer.Option(False, "--json", help='print exactly one JSON object: {"total", "max", "criteria": [...]}'),
) -> None:
    """Score one reply: points per criterion, the evidence quoted from the reply, and a tip in Chinese."""
    sc = load_scenario(scenario)
    text = sys.stdin.read() if reply == "-" else reply
    text = text.encode("utf-8", "replace").decode("utf-8")  # undecodable bytes from the shell become "?"
    buyer_text = buyer or sc.lines.opening[0]
    result = score_reply(sc, text, buyer=buyer_text, latency_s=latency)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    text = feedback_text().table
    console = Console()
    console.print(text.heading.format(title=escape(sc.title), scenario=sc.id, rubric=result.rubric))
    console.print(escape(text.buyer.format(text=buyer_text)))
    console.print(_table(result))
    for note in result.notes:
        console.print(f"[dim]{escape(text.note.format(note=note))}[/dim]")
