"""A trainee's markup in front of the mentor's formgrader: the submission page is rendered by nbgrader's
formgrader extension (nbconvert's HTMLExporter, configured from the server's settings) and served by
the mentor's own Jupyter server, so a script in it runs with the mentor's session (it could set
grades through the formgrader API or start a kernel as the mentor).

Rendered here exactly as the extension does it (nbgrader 0.9.6 server_extensions/formgrader:
FormgradeExtension(parent=serverapp).initialize([]), then HTMLExporter(config=its config)), with
the mentor settings `shifu lab --mentor` and `shifu hub up` write. Found by the red-team pass on
branch wt-attack2.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

OUTPUT_SCRIPT = "<script>window.OWNED_BY_OUTPUT=1</script>"
OUTPUT_HANDLER = '<img src=x onerror="window.OWNED_BY_IMG=1">'
MD_SCRIPT = "<script>window.OWNED_BY_MD=1</script>"


def _mentor_config(tmp_path: Path, how: str) -> Path:
    """The mentor's settings folder as `shifu lab --mentor` (how="lab") or `shifu hub up` (how="hub") writes it."""
    course = tmp_path / "course"
    course.mkdir()
    if how == "lab":
        from shifu.course.labsetup import LabState, write_role_config

        return write_role_config(LabState(tmp_path / "state", course), "mentor", "shifu")
    from shifu.hub.up import _write_role_configs

    _write_role_configs(tmp_path / "state", course, tmp_path / "exchange", "sqlite:///" + str(tmp_path / "gb.db"))
    return tmp_path / "state" / "jupyter" / "mentor"


def _formgrader_page(tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from jupyter_server.serverapp import ServerApp
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    config_dir = _mentor_config(tmp_path, how)
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config_dir))
    monkeypatch.chdir(tmp_path / "course")
    server = ServerApp()
    server.load_config_file()  # the mentor's jupyter_server_config.json, as the server reads it
    ext = FormgradeExtension(parent=server)
    ext.root_dir = os.getcwd()
    ext.log = server.log
    ext.initialize([])

    # what a trainee's autograded notebook can hold: outputs of their own code, and markdown they wrote
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("from IPython.display import HTML, display\ndisplay(HTML(...))")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/html": OUTPUT_SCRIPT + OUTPUT_HANDLER})]
    nb.cells = [code, nbformat.v4.new_markdown_cell(f"亲,您好 {MD_SCRIPT}")]
    path = tmp_path / "course" / "submission.ipynb"
    nbformat.write(nb, path)
    resources = {"assignment_id": "a", "notebook_id": "submission", "submission_id": "x", "index": 0, "total": 1,
                 "base_url": "/", "student": "mallory", "last_name": None, "first_name": None,
                 "notebook_path": "submission.ipynb"}
    html, _ = HTMLExporter(config=ext.config).from_filename(str(path), resources=resources)
    assert "formgrade" in html.lower()  # nbgrader's formgrade template rendered it
    return html


@pytest.mark.parametrize("how", ["lab", "hub"])
def test_formgrader_page_runs_no_script_from_a_trainee_output(tmp_path, how, monkeypatch):
    html = _formgrader_page(tmp_path, how, monkeypatch)
    assert OUTPUT_SCRIPT not in html
    assert OUTPUT_HANDLER not in html


@pytest.mark.parametrize("how", ["lab", "hub"])
def test_formgrader_page_runs_no_script_from_a_trainee_markdown_cell(tmp_path, how, monkeypatch):
    html = _formgrader_page(tmp_path, how, monkeypatch)
    assert MD_SCRIPT not in html
    assert "亲,您好" in html  # what the trainee wrote is still there for the mentor to read


def test_trainee_markup_is_cleaned_but_tables_and_text_stay():
    from shifu.grading.safe_html import clean_notebook_markup

    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("df")
    table = "<table class='dataframe'><thead><tr><th>agent</th></tr></thead><tbody><tr><td>A01</td></tr></tbody></table>"
    code.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": table + '<a href="javascript:alert(1)">x</a>', "application/javascript": "alert(1)",
        "image/svg+xml": "<svg onload='alert(1)'/>", "text/plain": "df"})]
    md = nbformat.v4.new_markdown_cell("[点我](javascript:alert(1)) 和 <img src=x onerror=alert(1)> 以及 *强调*")
    nb.cells = [code, md]
    clean_notebook_markup(nb)
    data = nb.cells[0].outputs[0]["data"]
    assert "<th>agent</th>" in data["text/html"] and "javascript:" not in data["text/html"]
    assert set(data) == {"text/html", "text/plain"}
    assert "javascript:" not in nb.cells[1].source and "onerror" not in nb.cells[1].source
    assert "*强调*" in nb.cells[1].source
