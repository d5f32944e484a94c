"""Cohort and trainee progress views, and their self-contained HTML (charts inlined as base64 PNG).

A view holds the tables and figures; the same view feeds the HTML report, the CSV files and the
mentor dashboard in a notebook.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from ..errors import ShifuError
from ..fonts import css_font_face
from . import charts
from .config import ProgressRules, Taxonomy
from .evidence import Evidence, missing_submissions

if TYPE_CHECKING:
    from .calibration import CalibrationResult
from .proficiency import (ability_matrix, as_timestamp, at_risk, improvement, module_trend, overall,
                          proficiency)

_CSS = """
body{font-family:"Noto Sans CJK SC","Shifu CJK","PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1200px}
h1{border-bottom:2px solid #2166ac;padding-bottom:.2em} h2{color:#2166ac;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0} th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f0f4fa} .muted{color:#777} .num{text-align:right} img{max-width:100%;margin:.5em 0}
.card{display:inline-block;border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:.3em;background:#fafafa}
.card b{font-size:1.4em;display:block}
"""


@dataclass
class CohortView:
    as_of: pd.Timestamp
    prof: pd.DataFrame
    matrix: pd.DataFrame          # trainee × ability, lowest overall first
    at_risk: pd.DataFrame
    improved: pd.DataFrame
    backlog: pd.DataFrame
    missing: pd.DataFrame
    ev: Evidence
    figures: dict[str, Figure] = field(default_factory=dict)
    calibration: "CalibrationResult | None" = None   # mentors' grades beside the rubric's (progress.calibration)


@dataclass
class TraineeView:
    trainee: str
    name: str
    as_of: pd.Timestamp
    prof: pd.DataFrame
    trend: pd.DataFrame
    latency: pd.DataFrame
    evidence: pd.DataFrame
    backlog: pd.DataFrame
    missing: pd.DataFrame
    ev: Evidence
    figures: dict[str, Figure] = field(default_factory=dict)


def cohort_view(ev: Evidence, rules: ProgressRules, as_of: object | None = None, charts_too: bool = True,
                roster: pd.DataFrame | None = None) -> CohortView:
    """The cohort's tables and charts; roster (mentor, trainee, assignment) names mentors in the calibration section."""
    from .calibration import calibrate

    tax = ev.taxonomy
    when = as_timestamp(as_of)
    prof = proficiency(ev, tax, rules.proficiency, when)
    m = ability_matrix(prof, tax)
    if len(m):
        m = m.assign(_o=overall(prof, tax)).sort_values("_o", na_position="first").drop(columns="_o")
    view = CohortView(
        as_of=when, prof=prof, matrix=m,
        at_risk=at_risk(ev, prof, tax, rules.at_risk, when),
        improved=improvement(ev, tax, rules.proficiency, rules.improvement.window_days, when).head(rules.improvement.top),
        backlog=ev.backlog, missing=missing_submissions(ev, when), ev=ev,
        calibration=calibrate(ev, rules, roster),
    )
    if charts_too:
        shown = m.head(rules.heatmap_max_rows)
        view.figures = {
            "heatmap": charts.heatmap(shown, tax, rules, total=len(m)),
            "levels": charts.level_distribution(prof, tax, rules),
            "backlog": charts.backlog(ev.backlog, rules),
        }
    return view


def trainee_view(ev: Evidence, rules: ProgressRules, trainee: str, as_of: object | None = None,
                 charts_too: bool = True) -> TraineeView:
    if trainee not in ev.trainees:
        known = ", ".join(ev.trainees[:10]) + (" …" if len(ev.trainees) > 10 else "")
        raise ShifuError(f"no trainee {trainee!r} in the gradebook — fix: use a student id from the gradebook"
                         + (f" ({known})" if known else " (it has no students yet)"))
    tax = ev.taxonomy
    when = as_timestamp(as_of)
    prof = proficiency(ev, tax, rules.proficiency, when, trainees=[trainee])
    table = ev.for_trainee(trainee)
    names = ev.students.set_index("trainee")["name"] if len(ev.students) else pd.Series(dtype=str)
    view = TraineeView(
        trainee=trainee, name=str(names.get(trainee, "") or ""), as_of=when, prof=prof,
        trend=module_trend(table, ev.assignments), latency=ev.latency[ev.latency["trainee"] == trainee],
        evidence=table.sort_values(["date", "assignment", "item"], na_position="last"),
        backlog=ev.backlog[ev.backlog["trainee"] == trainee],
        missing=missing_submissions(ev, when).query("trainee == @trainee"), ev=ev,
    )
    if charts_too:
        view.figures = {
            "radar": charts.radar(prof, tax, rules, trainee),
            "trend": charts.module_trend(view.trend, tax, rules, trainee),
            "response": charts.response_time(ev.latency, rules, trainee),
        }
    return view


# ---------------------------------------------------------------- HTML

def esc(x: object) -> str:
    return html.escape(str(x))


def table_html(df: pd.DataFrame, empty: str = "—", max_rows: int | None = None) -> str:
    if df is None or df.empty:
        return f'<p class="muted">{esc(empty)}</p>'
    shown = df.head(max_rows) if max_rows else df
    out = shown.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.1f}", border=0)
    if max_rows and len(df) > max_rows:
        out += f'<p class="muted">{max_rows} / {len(df)} …</p>'
    return out


def img(fig: Figure) -> str:
    return f'<img alt="" src="{charts.to_data_uri(fig)}">'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{css_font_face(title + body)}{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def _cards(items: list[tuple[str, object]]) -> str:
    return "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in items)


def _notes(ev: Evidence, rules: ProgressRules) -> str:
    parts = [f"<h2>{esc(rules.t('unmapped_title'))}</h2>",
             table_html(ev.unmapped, "—", max_rows=200)]
    if ev.notes:
        parts.append(f"<h2>{esc(rules.t('notes_title'))}</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in ev.notes) + "</ul>")
    return "\n".join(parts)


def _prof_table(prof: pd.DataFrame, tax: Taxonomy, rules: ProgressRules) -> pd.DataFrame:
    p = prof.copy()
    p.insert(2, "label", p["skill"].map(tax.label))
    p["score"] = p["score"].map(lambda v: "" if v != v else f"{v:.1f}")
    p["last_date"] = p["last_date"].dt.strftime("%Y-%m-%d").fillna("")
    p["weight"] = p["weight"].round(2)
    return p.drop(columns=["sufficient", "level"])


def cohort_html(view: CohortView, rules: ProgressRules, out_dir: Path | None = None) -> str:
    ev, tax = view.ev, view.ev.taxonomy
    n = len(ev.trainees)
    matrix = view.matrix.copy()
    matrix.columns = [tax.label(c) for c in matrix.columns]
    matrix = matrix.reset_index().rename(columns={"index": "trainee"})
    body = [
        f"<h1>{esc(rules.t('cohort_title'))}</h1>",
        f'<p class="muted">as of {view.as_of:%Y-%m-%d} · gradebook {esc(ev.source_url)}</p>',
        f"<h2>{esc(rules.t('summary_title'))}</h2>",
        _cards([("trainees", n), ("evidence items", len(ev.table)), ("at risk", len(view.at_risk)),
                ("waiting for manual grading", view.backlog.drop_duplicates(["trainee", "assignment"]).shape[0] if len(view.backlog) else 0),
                ("missing submissions", len(view.missing)), ("unmapped cells", len(ev.unmapped))]),
    ]
    if n == 0:
        body.append(f'<p class="muted">{esc(rules.t("no_data"))} — the gradebook has no students yet.</p>')
    for key in ("heatmap", "levels"):
        if key in view.figures:
            body.append(img(view.figures[key]))
    body += [
        f"<h2>{esc(rules.t('at_risk_title'))}</h2>", table_html(view.at_risk, "—", max_rows=200),
        f"<h2>{esc(rules.t('improved_title'))} ({rules.improvement.window_days:.0f} d)</h2>", table_html(view.improved, "—"),
        f"<h2>{esc(rules.t('backlog_title'))}</h2>",
        img(view.figures["backlog"]) if "backlog" in view.figures else "",
        table_html(view.backlog, "—", max_rows=200),
        f"<h2>{esc(rules.t('missing_title'))}</h2>", table_html(view.missing, "—", max_rows=200),
        f"<h2>{esc(rules.t('proficiency_title'))}</h2>", table_html(matrix, "—", max_rows=300),
    ]
    if view.calibration is not None:
        from .calibration import section_html

        body.append(section_html(view.calibration, rules, out_dir or Path.cwd()))
    body.append(_notes(ev, rules))
    return page(rules.t("cohort_title"), "\n".join(body))


def trainee_html(view: TraineeView, rules: ProgressRules) -> str:
    tax = view.ev.taxonomy
    from .. import clock

    tz = clock.time_zone(view.ev.course_dir)  # times are naive UTC (nbgrader's); shown in the course's zone
    evidence = view.evidence.copy()
    evidence["date"] = clock.to_local(evidence["date"], tz).dt.strftime("%Y-%m-%d").fillna("")
    lat = view.latency[["date", "scenario", "turns", "mean_latency_s"]].copy() if len(view.latency) else view.latency
    if len(lat):
        lat["date"] = clock.to_local(lat["date"], tz).dt.strftime("%Y-%m-%d %H:%M").fillna("")
    title = f"{rules.t('trainee_title')} · {view.trainee}" + (f" {view.name}" if view.name else "")
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">as of {view.as_of:%Y-%m-%d}</p>',
        img(view.figures["radar"]) if "radar" in view.figures else "",
        f"<h2>{esc(rules.t('proficiency_title'))}</h2>", table_html(_prof_table(view.prof, tax, rules)),
        f"<h2>{esc(rules.t('trend_title'))}</h2>", img(view.figures["trend"]) if "trend" in view.figures else "",
        f"<h2>{esc(rules.t('response_title'))}</h2>", img(view.figures["response"]) if "response" in view.figures else "",
        table_html(lat, "—"),
        f"<h2>{esc(rules.t('backlog_title'))}</h2>", table_html(view.backlog, "—"),
        f"<h2>{esc(rules.t('missing_title'))}</h2>", table_html(view.missing, "—"),
        f"<h2>{esc(rules.t('evidence_title'))}</h2>", table_html(evidence, "—", max_rows=500),
        _notes(view.ev, rules),
    ]
    return page(title, "\n".join(b for b in body if b))


def safe_name(trainee: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in trainee) or "trainee"


def write_cohort(view: CohortView, rules: ProgressRules, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "index.html": cohort_html(view, rules, out_dir),
    }
    written = []
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        written.append(out_dir / name)
    csvs = {"proficiency.csv": view.prof, "evidence.csv": view.ev.table, "at_risk.csv": view.at_risk,
            "backlog.csv": view.backlog, "missing.csv": view.missing, "unmapped.csv": view.ev.unmapped,
            "improved.csv": view.improved}
    if view.calibration is not None:
        csvs.update({"calibration-by_mentor.csv": view.calibration.by_mentor, "calibration-pairs.csv": view.calibration.pairs})
    for name, df in csvs.items():
        df.to_csv(out_dir / name, index=False, encoding="utf-8")
        written.append(out_dir / name)
    return written


def write_trainee(view: TraineeView, rules: ProgressRules, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_name(view.trainee)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(trainee_html(view, rules), encoding="utf-8")
    csv_path = out_dir / f"{stem}-evidence.csv"
    view.evidence.to_csv(csv_path, index=False, encoding="utf-8")
    prof_path = out_dir / f"{stem}-proficiency.csv"
    view.prof.to_csv(prof_path, index=False, encoding="utf-8")
    return [html_path, csv_path, prof_path]
