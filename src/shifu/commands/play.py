"""`shifu play SCENARIO`: role-play a difficult buyer in the terminal.

Interactive by default (a mood bar and a reply timer); `--replies FILE` plays a file of trainee
replies, one a line, and prints the conversation and its outcome. The transcript is written every
turn; an unfinished transcript given with --transcript is resumed.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from shifu.roleplay.voices import BACKENDS
from shifu.roleplay.engine import Engine, Turn
from shifu.roleplay.engine_rules import load_rules
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.roleplay.transcript import read_transcript
from shifu.content.ui_text import ui_text

QUIT = ("/quit", "/exit", "/q")


def read_replies(path: Path) -> list[str]:
    """Trainee replies, one a line; blank lines and lines starting with '#' are skipped."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShifuError([Problem(shown, "(file)", "does not exist", "check the path given to --replies")]) from None
    except IsADirectoryError:
        raise ShifuError([Problem(shown, "(file)", "is a folder", "give a text file with one reply a line")]) from None
    except UnicodeDecodeError:
        raise ShifuError([Problem(shown, "(file)", "is not UTF-8 text", "save the file as UTF-8")]) from None
    except OSError as exc:
        raise ShifuError([Problem(shown, "(file)", f"cannot read: {exc.strerror}", "check the path and permissions")]) from None
    replies = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not replies:
        raise ShifuError([Problem(shown, "(file)", "holds no replies", "write one trainee reply per line")])
    return replies


def mood_bar(mood: int, width: int = 20) -> Text:
    filled = round(mood / 100 * width)
    colour = "red" if mood < 30 else ("yellow" if mood < 55 else "green")
    bar = Text(ui_text().mood + " ")
    bar.append("█" * filled, style=colour)
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {mood:3d}/100")
    return bar


def status_line(engine: Engine) -> Text:
    s = engine.state
    line = mood_bar(s.mood)
    line.append("   " + ui_text().patience.format(left=s.patience_left, total=engine.scenario.persona.patience, turn=s.turn))
    return line


def context_panel(sc: Scenario) -> Panel:
    ui = ui_text()
    rows = [f"[b]{escape(sc.title)}[/b]"] + [escape(line) for line in ui.context_lines(sc)]
    return Panel("\n".join(rows), title=ui.context.title, expand=False)


def print_turn(console: Console, engine: Engine, turn: Turn, show_reply: bool) -> None:
    if show_reply:
        console.print(Text(f"{ui_text().trainee_prompt}:", style="bold cyan") + Text(turn.reply))
    if turn.notice:
        console.print(Text(turn.notice, style="yellow"))
    console.print(Text(f"{engine.scenario.persona.name}:", style="bold magenta") + Text(turn.buyer))
    console.print(status_line(engine))


def print_outcome(console: Console, engine: Engine, transcript: Path | None) -> None:
    d = engine.debrief()
    ui = ui_text()
    text = f"outcome: {d.outcome} ({ui.outcome(d.outcome)})"
    if d.escalation:
        text += f"  escalation: {d.escalation}"
    if d.resolution:
        text += f"  resolution: {d.resolution}"
    console.print(Text(text, style="bold"))
    console.print(f"mood: {d.mood}/100  turns: {d.turns}")
    for f in d.facts:
        console.print(escape(f"  {ui.uncovered_mark if f.uncovered else ui.missed_mark} {f.id}: {f.fact}"))
    for turn, demand in d.unanswered:
        console.print(escape("  " + ui.unanswered.format(turn=turn, value=ui.demand_asked.get(demand, demand))))
    if transcript is not None:
        console.print(f"transcript: {display_path(transcript)}")


def _engine(scenario: str, backend: str, seed: int, transcript: Path | None) -> Engine:
    if transcript is not None and transcript.exists() and transcript.stat().st_size > 0:
        t = read_transcript(transcript)
        if t.session.scenario != load_scenario(scenario).id:
            raise ShifuError([Problem(display_path(transcript), "session.scenario",
                                      f"belongs to scenario {t.session.scenario!r}, not {scenario!r}",
                                      "give a new transcript path or the matching scenario")])
        return Engine.resume(transcript, backend=backend)
    return Engine(scenario, backend=backend, seed=seed, transcript_path=transcript)


def play(
    scenario: str = typer.Argument(..., help="scenario id (see `shifu scenarios list`) or a scenario YAML file"),
    backend: str = typer.Option("scripted", "--backend", help="buyer voice: scripted (offline) or openai (settings: SHIFU_LLM_* or ~/.config/shifu/llm.toml)"),
    seed: int = typer.Option(0, "--seed", help="same seed, same buyer lines (scripted voice)"),
    replies: Optional[Path] = typer.Option(None, "--replies", help="play these trainee replies (one a line) without asking"),
    transcript: Optional[Path] = typer.Option(None, "--transcript", help="JSONL transcript to write (an unfinished one is resumed)"),
) -> None:
    """Role-play a difficult buyer: the buyer reacts to how you speak to them."""
    if backend not in BACKENDS:
        raise ShifuError(f"unknown backend {backend!r} — fix: use one of: {', '.join(BACKENDS)}")
    load_scenario(scenario)  # a clear error before anything else
    load_rules()
    lines = read_replies(replies) if replies is not None else None
    console = Console(highlight=False, soft_wrap=True)
    if lines is None and transcript is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        transcript = Path("shifu-transcripts") / f"{Path(scenario).stem}-{stamp}.jsonl"
    engine = _engine(scenario, backend, seed, transcript)
    console.print(context_panel(engine.scenario))
    if engine.turns:
        console.print(Text(f"(resumed after {engine.state.turn} turns)", style="dim"))
        for role, text in engine.history:
            who = ui_text().trainee_prompt if role == "trainee" else engine.scenario.persona.name
            console.print(f"{who}:{text}")
    else:
        opening = engine.opening()
        for notice in engine.notices:
            console.print(Text(notice, style="yellow"))
        console.print(Text(f"{engine.scenario.persona.name}:", style="bold magenta") + Text(opening))
    console.print(status_line(engine))
    if lines is not None:
        _play_file(console, engine, lines)
    else:
        _play_interactive(console, engine)
    engine.finish()
    print_outcome(console, engine, transcript)


def _play_file(console: Console, engine: Engine, lines: list[str]) -> None:
    for i, reply in enumerate(lines):
        if engine.state.ended:
            console.print(Text(f"({len(lines) - i} replies not used: the conversation has ended)", style="dim"))
            return
        print_turn(console, engine, engine.respond(reply), show_reply=True)


def _play_interactive(console: Console, engine: Engine) -> None:
    benchmark = engine.rules.slow_reply_after_s
    console.print(Text(ui_text().terminal_help.format(benchmark=benchmark), style="dim"))
    while not engine.state.ended:
        try:
            reply = console.input(f"[bold cyan]{escape(ui_text().trainee_prompt)}:[/] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if reply.strip() in QUIT:
            return
        if not reply.strip():
            continue
        latency = engine.elapsed_since_buyer()
        style = "green" if latency <= benchmark else "red"
        console.print(Text(ui_text().latency.format(latency=latency), style=style))
        name = engine.scenario.persona.name
        with Live(Text(f"{name}:…"), console=console, transient=True, refresh_per_second=12) as live:
            turn = engine.respond(reply, latency_s=latency,
                                  on_text=lambda so_far: live.update(Text(f"{name}:", style="bold magenta") + Text(so_far)))
        print_turn(console, engine, turn, show_reply=False)
