"""Friendly Chinese hints for common pandas mistakes in a real kernel (nbclient), the error still an error."""
from __future__ import annotations

import re

import nbformat
from nbclient import NotebookClient

from shifu.labs.lab_hints import hint_for, lab_hints

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SETUP = ("import pandas as pd\nfrom shifu.labs.lab_hints import install\nok = install()\n"
         "df = pd.DataFrame({'agent_id': ['a1', 'a2'], 'first_response_s': [12.0, 30.0], 'shift': ['day', 'night']})\nok")


def _run(cells: list[str], monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [SETUP, *cells]]
    NotebookClient(nb, timeout=120, allow_errors=True, iopub_timeout=60, raise_on_iopub_timeout=False).execute()
    return nb


def _error(cell) -> dict:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, cell.outputs
    return errors[0]


def test_a_misspelt_column_names_the_columns_and_the_closest(monkeypatch):
    nb = _run(['df["first_reponse_s"].mean()', "df[df['first_response_s'] > 10 and df['shift'] == 'day']",
               "print(frt_stats)", "1 / 0"], monkeypatch)
    assert "True" in nb.cells[0].outputs[-1]["data"]["text/plain"]
    key = _error(nb.cells[1])
    text = _ANSI.sub("", "\n".join(key["traceback"]))
    assert key["ename"] == "KeyError" and "first_reponse_s" in key["evalue"]  # still the same error for nbgrader
    assert lab_hints().header in text and "agent_id、first_response_s、shift" in text and '"first_response_s"' in text
    assert re.search(r"Cell In\[\d+\], line 1", text)  # where it failed, as IPython says it (the grader reads it)
    assert "pandas/core" not in text and "get_loc" not in text  # no page of pandas internals
    assert "%tb" in text
    both = _ANSI.sub("", "\n".join(_error(nb.cells[2])["traceback"]))
    assert "&" in both and "and / or" in both
    name = _ANSI.sub("", "\n".join(_error(nb.cells[3])["traceback"]))
    assert "frt_stats" in name and lab_hints().header in name
    plain = _error(nb.cells[4])
    assert plain["ename"] == "ZeroDivisionError" and lab_hints().header not in "\n".join(plain["traceback"])


def test_full_traceback_stays_available_with_tb(monkeypatch):
    nb = _run(['df["nope"]', "%tb"], monkeypatch)
    full = _ANSI.sub("", "".join(o.get("text", "") for o in nb.cells[2].outputs) +
                     "\n".join(l for o in nb.cells[2].outputs for l in o.get("traceback", [])))
    assert "KeyError" in full and ("get_loc" in full or "pandas" in full)


def test_no_hints_while_nbgrader_runs_the_notebook(monkeypatch):
    from shifu.labs.lab_hints import install

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert install(object()) is False


def test_rules_come_from_yaml_and_unknown_errors_get_none():
    assert hint_for(ZeroDivisionError("division by zero")) is None
    assert "x1" in (hint_for(NameError("name 'x1' is not defined")) or "")
    assert hint_for(KeyError("col")) is not None  # without a table: the generic KeyError rule


def test_every_lab_gets_the_hints_from_lab_data(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("from shifu.datagen import lab_data\nagents = lab_data('agents')"),
                nbformat.v4.new_code_cell("agents['agent_name_typo']")]
    NotebookClient(nb, timeout=120, allow_errors=True, iopub_timeout=60, raise_on_iopub_timeout=False).execute()
    text = _ANSI.sub("", "\n".join(_error(nb.cells[1])["traceback"]))
    assert lab_hints().header in text and "agent_id" in text
