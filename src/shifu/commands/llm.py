"""`shifu llm check`: does the configured LLM endpoint work for the buyer voice and the judge?"""
from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="The optional LLM endpoint (buyer voice, judge, reply reader).", no_args_is_help=True)


@app.command("check")
def check(
    config: Path = typer.Option(None, "--config", help="an LLM settings file (.toml or .yaml); default: the usual places"),
) -> None:
    """Probe the endpoint the way Shifu uses it: model list, a short chat, streaming, exam parameters.

    Prints what works, what was adapted (and the setting that says so), time to first token and
    tokens per second, and the fix for common mistakes (no /v1, full endpoint URL, unknown model,
    refused key). Exit code 0 when the endpoint works, 1 when it does not, 2 when the settings are wrong.
    """
    import logging

    from shifu.llm.check import check_endpoint
    from shifu.llm.config import load_llm_config

    logging.getLogger("shifu.llm.client").setLevel(logging.ERROR)  # the report lists every adaptation itself
    report = check_endpoint(load_llm_config(config))
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 1)
