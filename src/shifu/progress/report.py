"""Cohort and trainee progress views, and their self-contained HTML (charts inlined as base64 PNG).

A view holds the tables and figures; the same view feeds the HTML report, the CSV files and the
mentor dashboard in a notebook.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from shifu.content.errors import ShifuError
from shifu.labs.fonts import css_font_face
from shifu.progress import charts
from shifu.progress.csvfiles import write_csv
from shifu.progress.config import ProgressRules, Taxonomy
from shifu.progress.evidence import Evidence, missing_submissions

if TYPE_CHECKING:
    from shifu.progress.calibration import CalibrationResult
from shifu.progress.proficiency import ability_matrix, as_timestamp, at_risk, module_trend, overall, proficiency, trend

_CSS = """
body{font-family:"Shifu CJK","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1200px}
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
    from shifu.progress.calibration import calibrate

    tax = ev.taxonomy
    when = as_timestamp(as_of)
    prof = proficiency(ev, tax, rules.proficiency, when)
    m = ability_matrix(prof, tax)
    if len(m):
        m = m.assign(_o=overall(prof, tax)).sort_values("_o", na_position="first").drop(columns="_o")
    trends = trend(ev, rules.trend)
    improved = trends[trends["change"] > 0].sort_values(["change", "trainee"], ascending=[False, True])
    view = CohortView(
        as_of=when, prof=prof, matrix=m,
        at_risk=at_risk(ev, prof, tax, rules.at_risk, when, text=rules.say, trend_rules=rules.trend, trends=trends),
        improved=improved.head(rules.improvement.top).reset_index(drop=True),
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
        evidence=_in_time_order(table, ev.assignments),
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


def _in_time_order(table: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Evidence by date, then course order (m00 → m06 → labs, not the alphabet), then item."""
    course = dict(zip(assignments["assignment"], assignments["order"])) if "order" in assignments else {}
    t = table.assign(_course=table["assignment"].astype(object).map(course), _item=table["item"].astype(object))
    return t.sort_values(["date", "_course", "_item"], na_position="last", kind="stable").drop(columns=["_course", "_item"])


# ---------------------------------------------------------------- HTML

def esc(x: object) -> str:
    return html.escape(str(x))


def num(v: object, digits: int = 1) -> str:
    """A score for a table cell: `digits` decimals, blank for missing."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return f"{v:.{digits}f}" if isinstance(v, (float, np.floating)) else str(v)


def exact(v: float) -> str:
    """A rule's figure as written in its YAML (0.38, 0.005, 19 — never rounded to 0.4 or 0.0)."""
    return f"{v:.10g}"


def readable(df: pd.DataFrame, rules: ProgressRules, tax: Taxonomy | None = None) -> pd.DataFrame:
    """A table as a mentor reads it: column headings from progress.yaml `columns:`, ability ids as their
    labels, yes/no and the evidence sources in words. The CSV keeps the ids."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == bool:
            out[col] = s.map({True: rules.t("bool_true"), False: rules.t("bool_false")})
        elif col == "source":
            out[col] = s.astype(object).map(lambda v: rules.text.get(f"source_{v}", v))
        elif tax is not None and col in ("competency", "skill", "criterion"):
            out[col] = s.astype(object).map(lambda v: tax.label(v) if isinstance(v, str) else v)
    return out.rename(columns={c: rules.columns.get(c, c) for c in out.columns if isinstance(c, str)})


def table_html(df: pd.DataFrame, empty: str = "—", max_rows: int | None = None, rules: ProgressRules | None = None,
               tax: Taxonomy | None = None, digits: int = 1, escape: bool = True) -> str:
    """A table; with `rules`, headings and values in words (readable()) and long tables folded: the
    first `tables.top` rows open, the rest under <details>, at most `tables.max_rows` (or max_rows) in all."""
    if df is None or df.empty:
        return f'<p class="muted">{esc(empty)}</p>'
    shown = readable(df, rules, tax) if rules is not None else df
    limit = max_rows or (rules.tables.max_rows if rules is not None else None)
    top = rules.tables.top if rules is not None else None

    def render(part: pd.DataFrame) -> str:
        return part.to_html(index=False, escape=escape, na_rep="", float_format=lambda v: num(v, digits), border=0)

    capped = shown.head(limit) if limit else shown
    if top is not None and len(capped) > top + 5:  # folding a handful of rows helps no one
        out = render(capped.head(top)) + (
            f'<details><summary>{esc(rules.say("folded", shown=top, total=len(shown)))}</summary>'
            + render(capped.iloc[top:]) + "</details>")
    else:
        out = render(capped)
    if limit and len(shown) > limit:
        out += f'<p class="muted">{limit} / {len(shown)} …</p>'
    return out


def img(fig: Figure) -> str:
    return f'<img alt="" src="{charts.to_data_uri(fig)}">'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{css_font_face(title + body)}{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def _cards(items: list[tuple[str, object]]) -> str:
    return "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in items)


def _unmapped(ev: Evidence, rules: ProgressRules) -> pd.DataFrame:
    u = ev.unmapped.copy()
    if len(u):
        def reason(r: str) -> str:
            if r.startswith("no `__"):
                return rules.t("unmapped_no_tag")
            if r.startswith("unknown"):
                return rules.t("unmapped_unknown_tag")
            return r
        u["reason"] = u["reason"].map(reason)
    return u


def _notes(ev: Evidence, rules: ProgressRules) -> str:
    parts = [f"<h2>{esc(rules.t('unmapped_title'))}</h2>",
             table_html(_unmapped(ev, rules), "—", rules=rules)]
    if ev.notes:
        parts.append(f"<h2>{esc(rules.t('notes_title'))}</h2><ul class=\"notes\">" + "".join(f"<li>{esc(n)}</li>" for n in ev.notes) + "</ul>")
    return "\n".join(parts)


def _prof_table(prof: pd.DataFrame, tax: Taxonomy, rules: ProgressRules) -> pd.DataFrame:
    p = prof.copy()
    p.insert(2, "label", p["skill"].map(tax.label))
    p["score"] = p["score"].map(lambda v: "" if v != v else f"{v:.1f}")
    p["last_date"] = p["last_date"].dt.strftime("%Y-%m-%d").fillna("")
    p["weight"] = p["weight"].round(2)
    return p.drop(columns=["sufficient", "level", "skill", "competency", "trainee"])


def cohort_html(view: CohortView, rules: ProgressRules, out_dir: Path | None = None) -> str:
    ev, tax = view.ev, view.ev.taxonomy
    n = len(ev.trainees)
    matrix = view.matrix.copy()
    matrix.columns = [tax.label(c) for c in matrix.columns]
    matrix = matrix.reset_index().rename(columns={"index": "trainee"})
    backlog_subs = view.backlog.drop_duplicates(["trainee", "assignment"]).shape[0] if len(view.backlog) else 0
    body = [
        f"<h1>{esc(rules.t('cohort_title'))}</h1>",
        f'<p class="muted">{esc(rules.say("as_of", date=f"{view.as_of:%Y-%m-%d}", source=ev.source_url))}</p>',
        f"<h2>{esc(rules.t('summary_title'))}</h2>",
        _cards([(rules.t("card_trainees"), n), (rules.t("card_evidence"), len(ev.table)), (rules.t("card_at_risk"), len(view.at_risk)),
                (rules.t("card_backlog"), backlog_subs), (rules.t("card_missing"), len(view.missing)),
                (rules.t("card_unmapped"), len(ev.unmapped))]),
    ]
    if n == 0:
        body.append(f'<p class="muted">{esc(rules.t("no_data"))} — {esc(rules.t("no_students"))}</p>')
    for key in ("heatmap", "levels"):
        if key in view.figures:
            body.append(img(view.figures[key]))
    risk = view.at_risk.drop(columns=["count"], errors="ignore")
    body += [
        f"<h2>{esc(rules.t('at_risk_title'))}</h2>", f'<p class="muted">{esc(rules.t("at_risk_note"))}</p>',
        table_html(risk, rules.t("at_risk_none"), rules=rules),
        f"<h2>{esc(rules.t('improved_title'))}</h2>",
        f'<p class="muted">{esc(rules.say("improved_note", n=rules.trend.recent_assignments))}</p>',
        table_html(view.improved, rules.t("no_data"), rules=rules),
        f"<h2>{esc(rules.t('backlog_title'))}</h2>",
        img(view.figures["backlog"]) if "backlog" in view.figures and len(view.backlog) else "",
        table_html(view.backlog, rules.t("no_data"), rules=rules),
        f"<h2>{esc(rules.t('missing_title'))}</h2>", table_html(view.missing, "—", rules=rules),
        f"<h2>{esc(rules.t('proficiency_title'))}</h2>", table_html(matrix, "—", rules=rules),
    ]
    if view.calibration is not None:
        from shifu.progress.calibration import section_html

        body.append(section_html(view.calibration, rules, out_dir or Path.cwd()))
    body.append(_notes(ev, rules))
    return page(rules.t("cohort_title"), "\n".join(body))


def trainee_html(view: TraineeView, rules: ProgressRules) -> str:
    tax = view.ev.taxonomy
    from shifu.content import clock

    tz = clock.time_zone(view.ev.course_dir)  # times are naive UTC (nbgrader's); shown in the course's zone
    evidence = view.evidence.drop(columns=["trainee"]).copy()
    evidence["date"] = clock.to_local(evidence["date"], tz).dt.strftime("%Y-%m-%d").fillna("")
    lat = view.latency[["date", "scenario", "turns", "mean_latency_s"]].copy() if len(view.latency) else view.latency
    if len(lat):
        lat["date"] = clock.to_local(lat["date"], tz).dt.strftime("%Y-%m-%d %H:%M").fillna("")
    title = f"{rules.t('trainee_title')} · {view.trainee}" + (f" {view.name}" if view.name else "")
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(rules.say("as_of", date=f"{view.as_of:%Y-%m-%d}", source=view.ev.source_url))}</p>',
        img(view.figures["radar"]) if "radar" in view.figures else "",
        f"<h2>{esc(rules.t('proficiency_title'))}</h2>", table_html(_prof_table(view.prof, tax, rules), rules=rules),
        f"<h2>{esc(rules.t('trend_title'))}</h2>", img(view.figures["trend"]) if "trend" in view.figures else "",
        f"<h2>{esc(rules.t('response_title'))}</h2>", img(view.figures["response"]) if "response" in view.figures else "",
        table_html(lat, "—", rules=rules),
        f"<h2>{esc(rules.t('backlog_title'))}</h2>", table_html(view.backlog.drop(columns=["trainee"]), "—", rules=rules),
        f"<h2>{esc(rules.t('missing_title'))}</h2>", table_html(view.missing.drop(columns=["trainee"]), "—", rules=rules),
        f"<h2>{esc(rules.t('evidence_title'))}</h2>", table_html(evidence, "—", rules=rules, tax=tax),
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
        written.append(write_csv(df, out_dir / name))
    return written


def write_trainee(view: TraineeView, rules: ProgressRules, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_name(view.trainee)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(trainee_html(view, rules), encoding="utf-8")
    csv_path = write_csv(view.evidence, out_dir / f"{stem}-evidence.csv")
    prof_path = write_csv(view.prof, out_dir / f"{stem}-proficiency.csv")
    return [html_path, csv_path, prof_path]


@dataclass
class ProgressRun:
    """What `shifu progress` made: the evidence read, the cohort's or one trainee's view, the files written."""

    evidence: Evidence
    view: CohortView | TraineeView
    written: list[Path]

    def summary(self) -> list[str]:
        """Lines for a terminal or a log: for the cohort its counts and the calibration; then the files written."""
        from shifu.content.errors import display_path

        ev, view, lines = self.evidence, self.view, []
        if isinstance(view, CohortView):
            lines.append(f"{len(ev.trainees)} trainees, {len(ev.table)} evidence items, {len(view.at_risk)} at risk, "
                         f"{len(ev.unmapped)} unmapped cells, {len(ev.backlog)} cells waiting for manual grading")
            cal = view.calibration
            if cal is not None and cal.overall["pairs"]:
                flagged = "; ".join(f"{v}: {', '.join(cal.mentors_with(v))}" for v in ("harsh", "lenient") if cal.mentors_with(v))
                lines.append(f"calibration: {cal.overall['pairs']} mentor-graded pairs, mean difference (mentor − rubric) "
                             f"{cal.overall['mean_difference']:+.1f}" + (f"; {flagged}" if flagged else ""))
        return lines + [f"wrote {display_path(p)}" for p in self.written]


def progress_report(out: Path, course: Path | None = None, db_url: str | None = None, trainee: str | None = None,
                    mentors: Path | None = None, as_of: pd.Timestamp | None = None, upgrade: bool = False) -> ProgressRun:
    """The cohort's progress report (index.html with its charts, CSV tables), or one trainee's, written to `out`.

    course: the course folder (default paths.course_dir()); db_url: its gradebook (default the course's);
    trainee: an nbgrader student id for one trainee's report; mentors: the roster for the cohort's
    calibration section (default <course>/<calibration.roster> when it exists); as_of: the report date
    recency counts back from (default today); upgrade: migrate an older nbgrader's gradebook.
    Raises ShifuError for a missing gradebook, an unknown trainee or a bad roster.
    """
    from shifu.progress.calibration import roster_for
    from shifu.progress.config import load_progress_rules
    from shifu.progress.evidence import collect_evidence

    rules = load_progress_rules()
    ev = collect_evidence(course, db_url, upgrade=upgrade)
    if trainee:
        one = trainee_view(ev, rules, trainee, as_of)
        return ProgressRun(ev, one, write_trainee(one, rules, out))
    view = cohort_view(ev, rules, as_of, roster=roster_for(ev, rules, mentors))
    return ProgressRun(ev, view, write_cohort(view, rules, out))
