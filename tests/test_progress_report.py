"""Charts (Chinese labels), the HTML/CSV reports, the dashboard and `shifu progress`."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from progress_builders import build_gradebook, write_grader, write_transcript
from shifu.content.errors import ShifuError
from shifu.progress import charts, dashboard
from shifu.progress.config import load_progress_rules
from shifu.progress.evidence import collect_evidence
from shifu.progress.report import cohort_view, trainee_view, write_cohort, write_trainee

AS_OF = "2026-05-10"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    grader = write_grader(root)
    course = root / "course"
    build_gradebook(course)
    write_transcript(course / "submitted/ana/m01_logistics/late.jsonl", "2026-03-01T09:00:00+08:00", [30, 24])
    write_transcript(course / "submitted/ana/m02_refunds/refund.jsonl", "2026-04-01T09:00:00+08:00", [18, 12])
    return root, grader, course


def _glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message) or "Glyph" in str(w.message)]


def test_every_chart_renders_chinese_without_missing_glyphs(course):
    root, grader, c = course
    rules = load_progress_rules(grader)
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cv = cohort_view(ev, rules, AS_OF)
        tv = trainee_view(ev, rules, "ana", AS_OF)
        ranking = pd.DataFrame({"candidate": ["王芳"], "kpi_contribution": [50.0], "competencies_contribution": [25.0],
                                "apprentices_contribution": [5.0]})
        figs = [*cv.figures.values(), *tv.figures.values(),
                charts.contributions(ranking, {"kpi": "统一KPI", "competencies": "五项能力", "apprentices": "徒弟转正"}, rules)]
        for fig in figs:
            charts.to_data_uri(fig)  # draws every text element
    assert len(figs) == 7
    assert _glyph_warnings(caught) == []
    labels = [t.get_text() for ax in tv.figures["radar"].axes for t in ax.get_xticklabels()]
    assert any("沟通能力" in s for s in labels) and any("证据不足" in s for s in labels)


def _self_contained(html: str) -> None:
    assert "<img" in html and 'src="data:image/png;base64,' in html
    assert not re.search(r'(src|href)="(?!data:)', html), "no external assets"
    assert "<script" not in html


def test_cohort_report_files(course):
    root, grader, c = course
    rules = load_progress_rules(grader)
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    out = root / "cohort"
    written = write_cohort(cohort_view(ev, rules, AS_OF), rules, out)
    assert {p.name for p in written} >= {"index.html", "proficiency.csv", "evidence.csv", "at_risk.csv", "backlog.csv",
                                        "unmapped.csv", "missing.csv"}
    html = (out / "index.html").read_text(encoding="utf-8")
    _self_contained(html)
    for needle in ("q3_extra__no_such_tag", "q2_letter__communication", "cy", "学员进度总览", "需关注学员"):
        assert needle in html
    prof = pd.read_csv(out / "proficiency.csv")
    assert set(prof["trainee"]) == {"ana", "bo", "cy"}
    risk = pd.read_csv(out / "at_risk.csv").set_index("trainee")
    assert "份到期作业未提交" in risk.loc["cy", "reasons"] and "2 份到期作业未提交:m02_refunds、lab1_kpi" in risk.loc["bo", "reasons"]
    assert "ana" not in risk.index
    evidence = pd.read_csv(out / "evidence.csv")
    assert len(evidence) == 11


def test_trainee_report(course):
    root, grader, c = course
    rules = load_progress_rules(grader)
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    view = trainee_view(ev, rules, "ana", AS_OF)
    assert view.name == "王芳"
    assert view.latency["mean_latency_s"].tolist() == [27.0, 15.0]
    written = write_trainee(view, rules, root / "one")
    html = written[0].read_text(encoding="utf-8")
    _self_contained(html)
    assert html.count("<img") == 3 and "王芳" in html
    with pytest.raises(ShifuError, match="no trainee 'zoe'"):
        trainee_view(ev, rules, "zoe", AS_OF)


def test_trainee_with_no_submissions_gets_a_readable_report(course):
    root, grader, c = course
    rules = load_progress_rules(grader)
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    view = trainee_view(ev, rules, "cy", AS_OF)
    html = write_trainee(view, rules, root / "cy")[0].read_text(encoding="utf-8")
    assert view.prof["score"].isna().all()
    assert "m01_logistics" in html  # listed as missing
    assert "暂无数据" in (view.figures["trend"].axes[0].texts[0].get_text())


def test_empty_cohort_report(tmp_path):
    grader = write_grader(tmp_path)
    course = tmp_path / "course"
    build_gradebook(course, empty=True)
    rules = load_progress_rules(grader)
    ev = collect_evidence(course, grader_dir=grader, scorer=None)
    assert ev.trainees == [] and ev.table.empty
    written = write_cohort(cohort_view(ev, rules), rules, tmp_path / "out")
    html = written[0].read_text(encoding="utf-8")
    assert "成绩册里还没有学员" in html
    _self_contained(html)


def test_dashboard_in_a_notebook(course):
    root, grader, c = course
    d = dashboard(c, grader_dir=grader, as_of=AS_OF, scorer=None)
    assert set(d.figures) == {"heatmap", "levels", "backlog"}
    assert list(d.at_risk["trainee"]) == ["cy", "bo"]
    assert "<html" in d._repr_html_()
    one = dashboard(c, trainee="ana", grader_dir=grader, as_of=AS_OF, scorer=None)
    assert set(one.figures) == {"radar", "trend", "response"} and "prof" in one.tables()


def test_shifu_progress_cli(course, monkeypatch):
    from shifu.cli import app

    root, grader, c = course
    monkeypatch.setenv("SHIFU_HOME", str(root))
    runner = CliRunner()
    res = runner.invoke(app, ["progress", "--out", str(root / "cli"), "--course", str(c), "--as-of", AS_OF])
    assert res.exit_code == 0, res.output
    assert "3 trainees" in res.output and (root / "cli" / "index.html").exists()
    res = runner.invoke(app, ["progress", "--trainee", "bo", "--out", str(root / "cli"),
                              "--db", f"sqlite:///{c / 'gradebook.db'}", "--course", str(c)])
    assert res.exit_code == 0, res.output
    assert (root / "cli" / "bo.html").exists()


def test_missing_gradebook_cli_error_is_one_line(tmp_path):
    write_grader(tmp_path)
    env = dict(os.environ, SHIFU_HOME=str(tmp_path), MPLBACKEND="Agg")
    shifu = Path(sys.executable).parent / "shifu"
    proc = subprocess.run([str(shifu), "progress", "--out", str(tmp_path / "o"), "--course", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no gradebook at") and "Traceback" not in proc.stderr


def test_transcripts_scored_by_the_rubric_module(course):
    """The real rubric scores the role-plays: their criteria join the evidence as source transcript."""
    pytest.importorskip("shifu.reading.rubric")
    root, grader, c = course
    ev = collect_evidence(c, grader_dir=grader)
    tr = ev.table[ev.table["source"] == "transcript"]
    assert len(tr) > 0 and set(tr["trainee"]) == {"ana"}
    assert set(tr["competency"]) <= {"communication", "product", "operations", "analysis", "business"}
    assert (tr["score"] <= tr["max"]).all() and (tr["max"] > 0).all()
    # m01's timeliness is graded in the gradebook's roleplay_1 cell: not counted twice
    assert not ((tr["assignment"] == "m01_logistics") & (tr["criterion"] == "timeliness")).any()


class _Text(__import__("html.parser").parser.HTMLParser):
    """The words a reader sees: text outside <style>, <title> and the data notes (file paths, log lines)."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title") or (tag == "ul" and ("class", "notes") in attrs):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title", "ul") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.words.append(data)


def english_words(html: str, ids: set[str]) -> set[str]:
    """Latin words in the visible text that are not ids (trainees, assignments, cells, paths) or KPI."""
    p = _Text()
    p.feed(html)
    text = " ".join(p.words)
    tokens = set(re.findall(r"[A-Za-z][A-Za-z0-9_.+-]*", text))
    allowed = {"KPI"} | set(ids) | {part for i in ids for part in re.split(r"[/:\s]+", i) if part}
    return {t.rstrip(".") for t in tokens} - allowed


def test_reports_speak_chinese(course):
    """Every heading, card, column, reason and value a mentor reads is Chinese; only ids stay as they are."""
    root, grader, c = course
    rules = load_progress_rules(grader)
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    ids = set(ev.trainees) | set(ev.assignments["assignment"]) | {ev.source_url, "main", "sqlite"} \
        | set(ev.table["item"].astype(str)) | set(ev.unmapped["item"].astype(str)) | set(ev.unmapped["tag"].dropna().astype(str)) \
        | set(ev.backlog["cell"].astype(str))
    cohort = write_cohort(cohort_view(ev, rules, AS_OF), rules, root / "zh")[0].read_text(encoding="utf-8")
    assert english_words(cohort, ids) == set()
    for heading in ("概况", "需关注学员", "进步最大", "待人工批改", "未提交作业", "能力熟练度"):
        assert heading in cohort
    one = write_trainee(trainee_view(ev, rules, "ana", AS_OF), rules, root / "zh-ana")[0].read_text(encoding="utf-8")
    assert english_words(one, ids | {"late-parcel-wrong-station"}) == set()
    # the check can fail: an English heading is caught
    assert english_words("<h2>at risk</h2>", ids) == {"at", "risk"}


def test_long_tables_are_folded(course):
    from shifu.progress.report import table_html

    root, grader, c = course
    rules = load_progress_rules(grader)
    df = pd.DataFrame({"trainee": [f"t{i:03d}" for i in range(100)], "overall": [float(i) for i in range(100)]})
    out = table_html(df, rules=rules)
    opened, folded = out.split("<details>")
    assert opened.count("<tr>") == rules.tables.top  # body rows (the header row has a style)
    assert folded.count("<tr>") == 100 - rules.tables.top and "共 100 条" in folded
    assert "<th>学员</th>" in out and "<th>综合</th>" in out


def test_most_improved_shows_a_value(course):
    root, grader, c = course
    rules = load_progress_rules(grader)
    ev = collect_evidence(c, grader_dir=grader, scorer=None)
    view = cohort_view(ev, rules, AS_OF)
    # ana handed in m01, m02 and lab1 in that order; the test rules compare the last one with the two before
    assert list(view.improved["trainee"]) == ["ana"] and view.improved.loc[0, "change"] > 0
    html = write_cohort(view, rules, root / "imp")[0].read_text(encoding="utf-8")
    section = html.split("进步最大")[1].split("<h2>")[0]
    assert "ana" in section and f"{view.improved.loc[0, 'change']:.1f}" in section
