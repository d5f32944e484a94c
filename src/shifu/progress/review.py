"""The semiannual mentor-selection review (June = H1, January–June; December = H2, July–December).

Each candidate's score blends three parts with the weights in grader/review.yaml:
  kpi           the unified KPI composite (seed 002), the mean of the monthly composites in the period;
  competencies  the mean proficiency over the five abilities with enough curriculum evidence;
  apprentices   the share of the candidate's apprentices who passed probation in the period, where any.
score = Σ weight × part / Σ weights of the parts present. Candidates clearing the KPI bar rank first.
Candidates without enough KPI months or curriculum evidence are listed apart, unranked.
Beside each candidate: how many evidence items are automatic and how many mentor-graded (evidence_mix).
Inputs are read by shifu.content.tabular (CSV in any usual encoding, .xlsx); half-years start at local midnight
in the course's time zone (shifu.content.clock).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from zoneinfo import ZoneInfo

from shifu.content import clock, paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.progress import charts
from shifu.progress.config import ProgressRules, ReviewRules, Taxonomy
from shifu.progress.evidence import Evidence
from shifu.progress.proficiency import ability_matrix, proficiency
from shifu.progress.report import esc, img, page, table_html

PARTS = ("kpi", "competencies", "apprentices")
# A rate column whose median is this many times above (or below) its target is probably on another scale.
_SCALE_WARNING = 20.0
_PERIOD = re.compile(r"^(\d{4})-H([12])$")


@dataclass(frozen=True)
class Period:
    label: str
    start: pd.Timestamp        # local time in the course's zone (naive): Jan 1 or Jul 1, 00:00
    end: pd.Timestamp          # the last instant of the period, local time
    months: tuple[str, ...]    # "YYYY-MM"
    start_utc: pd.Timestamp | None = None  # the same instants in naive UTC, as the gradebook stores times
    end_utc: pd.Timestamp | None = None


def parse_period(text: str, tz: ZoneInfo | None = None) -> Period:
    """`2026-H1` (the June review: January–June) or `2026-H2` (the December review: July–December).

    The half-year runs from local midnight in the course's zone (tz, default clock.time_zone()):
    2026-H2 starts 2026-07-01 00:00 in Shanghai, 2026-06-30 16:00 UTC.
    """
    m = _PERIOD.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ShifuError(f"review period {text!r} is not a half-year — fix: write YEAR-H1 (the June review, Jan–Jun) "
                         "or YEAR-H2 (the December review, Jul–Dec), e.g. 2026-H2")
    year, half = int(m.group(1)), int(m.group(2))
    first = 1 if half == 1 else 7
    start = pd.Timestamp(year=year, month=first, day=1)
    end = (start + pd.DateOffset(months=6)) - pd.Timedelta(microseconds=1)
    months = tuple(f"{year}-{mo:02d}" for mo in range(first, first + 6))
    tz = tz or clock.time_zone()
    return Period(label=f"{year}-H{half}", start=start, end=end, months=months,
                  start_utc=clock.local_to_utc(start, tz), end_utc=clock.local_to_utc(end, tz))


# ---------------------------------------------------------------- inputs

def default_kpi_file(rules: ReviewRules) -> Path:
    """The first of review.yaml's kpi.default_files that exists under data/; a ShifuError (field "kpi") when none does."""
    for name in rules.kpi.default_files:
        if (paths.data_dir() / name).is_file():
            return paths.data_dir() / name
    raise ShifuError([Problem(display_path(paths.data_dir() / rules.kpi.default_files[0]), "kpi", "no KPI data under data/",
                              "generate the data sets (see data/README.md) or name another KPI file")])


def load_kpi(path: Path, rules: ReviewRules) -> pd.DataFrame:
    """agent, month (YYYY-MM) and one numeric column per KPI component, read with shifu.content.tabular.

    Rate components (KpiComponent.is_rate) are fractions: "32.81%" and "0.3281" are the same value.
    Any unreadable cell is an error naming the file, column and line. The frame's attrs["notes"] says
    how the file was read (its encoding, total and blank rows skipped, scales assumed).
    """
    from shifu.content import tabular

    k = rules.kpi
    cols = [k.agent_column, k.month_column] + [c.column for c in k.components.values()]
    table = tabular.read_table(path, "KPI", cols, "add it, or name the right column in grader/review.yaml (kpi.components.*.column)",
                               rules.tables.total_markers, key_column=k.agent_column)
    problems: list[Problem] = []
    notes = list(table.notes)
    out = pd.DataFrame({"agent": table.frame[k.agent_column]})
    out["month"], found = tabular.months(table, k.month_column)
    problems += found
    for name, comp in k.components.items():
        if comp.is_rate:
            values, found, more = tabular.rates(table, comp.column)
            notes += more
            median = float(values.median()) if values.notna().any() else float("nan")
            if median == median and median > 0 and not 1 / _SCALE_WARNING <= median / comp.target <= _SCALE_WARNING:
                # a rate read right can still be on the wrong scale: 0.54 meaning 0.54 % reads as 54 %
                notes.append(f"{table.shown}: {comp.column}: the median {median:.4g} is {median / comp.target:.3g}× the target "
                             f"{comp.target:g} — if the column holds percent points without a % sign, write them with % "
                             f"(0.54 → 0.54%)")
        else:
            values, found = tabular.numbers(table, comp.column)
        problems += found
        out[name] = values
    empty = np.flatnonzero((out["agent"] == "").to_numpy())
    problems += table.problems_at(k.agent_column, empty, lambda _: "is empty", "give the agent id")
    if problems:
        raise ShifuError(problems)
    out.attrs["notes"] = notes
    out.attrs["encoding"] = table.encoding
    return out


def load_apprentices(path: Path, rules: ReviewRules) -> pd.DataFrame:
    """mentor, apprentice, passed (bool, from review.yaml's apprentices words), date."""
    from shifu.content import tabular

    table = tabular.read_table(path, "apprentices", ["mentor", "apprentice", "passed_probation", "date"],
                               "the header must be mentor,apprentice,passed_probation,date", rules.tables.total_markers)
    passed, problems = tabular.flags(table, "passed_probation", rules.apprentices.passed, rules.apprentices.failed)
    when, found = tabular.dates(table, "date")
    problems += found
    if problems:
        raise ShifuError(problems)
    out = pd.DataFrame({"mentor": table.frame["mentor"], "apprentice": table.frame["apprentice"], "passed": passed, "date": when})
    out.attrs["notes"] = list(table.notes)
    return out


# ---------------------------------------------------------------- scoring

def kpi_points(kpi: pd.DataFrame, rules: ReviewRules) -> pd.DataFrame:
    """Per agent and month: each component's points (points × capped attainment) and the composite."""
    k = rules.kpi
    out = kpi.groupby(["agent", "month"], as_index=False)[list(k.components)].mean()
    total = np.zeros(len(out))
    for name, c in k.components.items():
        v = out[name].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            att = v / c.target if c.better == "higher" else np.where(v > 0, c.target / np.where(v > 0, v, 1), k.cap)
        pts = c.points * np.clip(att, 0, k.cap)
        out[f"{name}_points"] = pts
        total += pts
    out["composite"] = total
    return out


@dataclass
class ReviewResult:
    period: Period
    ranking: pd.DataFrame          # ranked candidates, best first
    unranked: pd.DataFrame         # candidates with too little evidence, with the reason
    monthly: pd.DataFrame          # per candidate and month: component points and composite
    rules: ReviewRules
    notes: list[str] = field(default_factory=list)


def _fmt(v: float) -> str:
    return "—" if v != v else f"{v:.1f}"


def run_review(period: Period, kpi: pd.DataFrame, ev: Evidence, tax: Taxonomy, progress: ProgressRules,
               rules: ReviewRules, apprentices: pd.DataFrame | None = None) -> ReviewResult:
    """Score and rank every agent in the KPI data over the period; pure given its inputs."""
    notes: list[str] = list(kpi.attrs.get("notes", []))
    if apprentices is not None:
        notes += apprentices.attrs.get("notes", [])
    dupes = kpi.duplicated(["agent", "month"]).sum()
    if dupes:
        notes.append(f"{dupes} duplicate agent-month KPI row(s) averaged")
    monthly = kpi_points(kpi, rules)
    monthly = monthly[monthly["month"].isin(period.months)].reset_index(drop=True)
    candidates = sorted(set(kpi["agent"]))
    comps = list(rules.kpi.components)

    prof_rules = progress.proficiency.model_copy(update={"max_age_days": rules.competencies.max_age_days})
    students = {t.lower(): t for t in ev.trainees}
    student_of = {c: students.get(c.lower(), c) for c in candidates}  # KPI A01 is gradebook student a01
    prof = proficiency(ev, tax, prof_rules, period.end_utc if period.end_utc is not None else period.end, trainees=sorted(set(student_of.values())))
    matrix = ability_matrix(prof, tax)
    items = prof[prof["skill"].isin(tax.ability_ids)].groupby("trainee")["items"].sum()
    mix = evidence_mix(ev, period, rules.competencies.max_age_days)

    app = apprentices if apprentices is not None else pd.DataFrame(columns=["mentor", "apprentice", "passed", "date"])
    app = app[(app["date"] >= period.start) & (app["date"] <= period.end)]
    weights = {p: getattr(rules.parts, p) for p in PARTS}

    rows = []
    for cand in candidates:
        m = monthly[monthly["agent"] == cand]
        kpi_score = float(m["composite"].mean()) if len(m) else np.nan
        sid = student_of[cand]
        row_m = matrix.loc[sid] if sid in matrix.index else pd.Series(np.nan, index=tax.ability_ids)
        abilities = int(row_m.notna().sum())
        comp_score = float(row_m.mean(skipna=True)) if abilities else np.nan
        a = app[app["mentor"].str.lower() == cand.lower()]
        app_score = 100.0 * float(a["passed"].mean()) if len(a) else np.nan
        scores = {"kpi": kpi_score, "competencies": comp_score, "apprentices": app_score}
        reasons = []
        if len(m) < rules.kpi.min_months:
            reasons.append(progress.say("review_needs_kpi", months=len(m), needed=rules.kpi.min_months))
        if abilities < rules.competencies.min_abilities:
            reasons.append(progress.say("review_needs_abilities", abilities=abilities, total=len(tax.ability_ids),
                                        needed=rules.competencies.min_abilities))
        present = {p: s for p, s in scores.items() if s == s and weights[p] > 0}
        wsum = sum(weights[p] for p in present)
        contrib = {p: (weights[p] * present[p] / wsum if p in present and wsum else np.nan) for p in PARTS}
        total = sum(v for v in contrib.values() if v == v) if present and not reasons else np.nan
        row = {
            "candidate": cand, "total": total,
            "meets_kpi_bar": bool(kpi_score == kpi_score and kpi_score >= rules.kpi.bar),
            "kpi_score": kpi_score, "kpi_months": len(m), "kpi_contribution": contrib["kpi"],
            **{f"kpi_{c}": float(m[f"{c}_points"].mean()) if len(m) else np.nan for c in comps},
            "competencies_score": comp_score, "abilities": abilities, "evidence_items": int(items.get(sid, 0)),
            "evidence_automatic": int(mix["automatic"].get(sid, 0)), "evidence_mentor": int(mix["mentor"].get(sid, 0)),
            "competencies_contribution": contrib["competencies"],
            **{f"ability_{c}": row_m.get(c, np.nan) for c in tax.ability_ids},
            "apprentices_score": app_score, "apprentices": len(a), "apprentices_passed": int(a["passed"].sum()) if len(a) else 0,
            "apprentices_contribution": contrib["apprentices"],
            "reasons": "；".join(reasons),
        }
        row["explanation"] = _explain(row, weights, wsum, rules, tax, period, progress)
        rows.append(row)
    df = pd.DataFrame(rows, columns=_columns(comps, tax))
    ok = df["reasons"] == ""
    ranking = df[ok].sort_values(["meets_kpi_bar", "total", "kpi_score", "candidate"], ascending=[False, False, False, True])
    ranking = ranking.reset_index(drop=True)
    ranking.insert(0, "rank", range(1, len(ranking) + 1))
    unranked = df[~ok].sort_values("candidate").reset_index(drop=True)
    no_course = [c for c in candidates if c.lower() not in students]
    if no_course:
        notes.append(f"{len(no_course)} candidate(s) have no curriculum evidence in the gradebook (ids must match student ids): "
                     + ", ".join(no_course[:10]) + (" …" if len(no_course) > 10 else ""))
    if apprentices is not None:
        outside = apprentices[~apprentices["mentor"].str.lower().isin({c.lower() for c in candidates})]["mentor"].nunique()
        if outside:
            notes.append(f"{outside} mentor(s) in the apprentices file have no KPI data and are not candidates")
    return ReviewResult(period=period, ranking=ranking, unranked=unranked, monthly=monthly, rules=rules, notes=notes)


def evidence_mix(ev: Evidence, period: Period, max_age_days: float) -> pd.DataFrame:
    """Per trainee: evidence items the review may count (dated inside max_age_days before the period's end,
    or undated) that are automatic (autograded cells, scored transcripts) and mentor-graded (manual grades)."""
    t = ev.table
    end = period.end_utc if period.end_utc is not None else period.end
    if t.empty:
        return pd.DataFrame(columns=["automatic", "mentor"])
    dated = t["date"].notna()
    keep = ~dated | ((t["date"] <= end) & (t["date"] >= end - pd.Timedelta(days=max_age_days)))
    t = t[keep & t["competency"].isin(ev.taxonomy.ability_ids)]
    kind = t["source"].map(lambda s: "mentor" if s == "manual" else "automatic")
    out = pd.crosstab(t["trainee"], kind)
    return out.reindex(columns=["automatic", "mentor"], fill_value=0)


def _columns(comps: list[str], tax: Taxonomy) -> list[str]:
    return (["candidate", "total", "meets_kpi_bar", "kpi_score", "kpi_months", "kpi_contribution"]
            + [f"kpi_{c}" for c in comps]
            + ["competencies_score", "abilities", "evidence_items", "evidence_automatic", "evidence_mentor", "competencies_contribution"]
            + [f"ability_{c}" for c in tax.ability_ids]
            + ["apprentices_score", "apprentices", "apprentices_passed", "apprentices_contribution", "reasons", "explanation"])


def _explain(row: dict, weights: dict[str, float], wsum: float, rules: ReviewRules, tax: Taxonomy, period: Period,
             progress: ProgressRules) -> str:
    """Which parts, which evidence, and what each part adds — in one line a reviewer can check by hand
    (wording: progress.yaml text.review_*)."""
    def share(p: str) -> str:
        return f"{weights[p]:g}/{wsum:g}" if wsum else f"{weights[p]:g}"

    say = progress.say
    parts = []
    if row["kpi_score"] == row["kpi_score"]:
        comp_bits = "、".join(f"{c.label} {_fmt(row[f'kpi_{n}'])}/{c.points:g}" for n, c in rules.kpi.components.items())
        parts.append(say("review_kpi", score=_fmt(row["kpi_score"]),
                         bar_verdict=progress.t("review_bar_met" if row["meets_kpi_bar"] else "review_bar_missed"),
                         bar=f"{rules.kpi.bar:g}", months=row["kpi_months"], period=period.label, components=comp_bits,
                         share=share("kpi"), contribution=_fmt(row["kpi_contribution"])))
    else:
        parts.append(say("review_kpi_none", period=period.label))
    if row["competencies_score"] == row["competencies_score"]:
        ab = "、".join(f"{tax.label(c)} {_fmt(row[f'ability_{c}'])}" for c in tax.ability_ids if row[f"ability_{c}"] == row[f"ability_{c}"])
        parts.append(say("review_competencies", score=_fmt(row["competencies_score"]), abilities=row["abilities"],
                         items=row["evidence_items"], automatic=row["evidence_automatic"], mentor=row["evidence_mentor"],
                         details=ab, share=share("competencies"), contribution=_fmt(row["competencies_contribution"])))
    else:
        parts.append(progress.t("review_competencies_none"))
    if row["apprentices"]:
        parts.append(say("review_apprentices", score=_fmt(row["apprentices_score"]), passed=row["apprentices_passed"],
                         count=row["apprentices"], share=share("apprentices"), contribution=_fmt(row["apprentices_contribution"])))
    else:
        parts.append(progress.t("review_apprentices_none"))
    return say("review_explain", total=_fmt(row["total"]), parts="；".join(parts))


# ---------------------------------------------------------------- output

def formula_html(rules: ReviewRules, progress: ProgressRules) -> str:
    """The scoring rules with every figure exactly as review.yaml writes it (0.38, 0.005 — never rounded)."""
    from shifu.progress.report import exact

    k = rules.kpi
    comp_rows = pd.DataFrame([
        {"component": c.label, "column": c.column, "better": progress.t(f"better_{c.better}"),
         "target": exact(c.target), "points": exact(c.points)}
        for c in k.components.values()
    ])
    return (
        f"<p>{esc(progress.say('review_formula', kpi=exact(rules.parts.kpi), competencies=exact(rules.parts.competencies), apprentices=exact(rules.parts.apprentices), bar=exact(k.bar)))}</p>"
        f"<p>{esc(progress.say('review_kpi_formula', cap=exact(k.cap), min_months=k.min_months))}</p>"
        + table_html(comp_rows, rules=progress)
        + f"<p>{esc(progress.say('review_above_100', cap=exact(k.cap)))}</p>"
        + f"<p>{esc(progress.say('review_competency_formula', min_abilities=rules.competencies.min_abilities, max_age_days=exact(rules.competencies.max_age_days)))}</p>"
    )


def review_html(result: ReviewResult, progress: ProgressRules, tax: Taxonomy, sources: dict[str, str]) -> str:
    from shifu.progress.report import exact

    part_labels = {"kpi": progress.columns.get("kpi_score", "KPI"), "competencies": progress.columns.get("competencies_score", "competencies"),
                   "apprentices": progress.columns.get("apprentices_score", "apprentices")}
    show = ["rank", "candidate", "total", "meets_kpi_bar", "kpi_score", "kpi_contribution", "competencies_score",
            "competencies_contribution", "evidence_automatic", "evidence_mentor", "apprentices_score", "apprentices_contribution"]
    expl = "".join(f"<li><b>{esc(r.rank)}. {esc(r.candidate)}</b> — {esc(r.explanation)}</li>" for r in result.ranking.itertuples())
    title = f"{progress.t('review_title')} {result.period.label}"
    over = bool(len(result.ranking)) and bool((result.ranking["total"] > 100).any() or (result.ranking["kpi_score"] > 100).any())
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(progress.say("review_period", start=f"{result.period.start:%Y-%m-%d}", end=f"{result.period.end:%Y-%m-%d}"))} · '
        f"{esc(progress.t('review_sources'))}:" + " · ".join(f"{esc(k)} {esc(v)}" for k, v in sources.items()) + "</p>",
        f"<h2>{esc(progress.t('ranking_title'))}</h2>",
        img(charts.contributions(result.ranking, part_labels, progress)),
        table_html(result.ranking[show], "—", rules=progress),
        f'<p class="muted">{esc(progress.say("review_above_100", cap=exact(result.rules.kpi.cap)))}</p>' if over else "",
        f"<h2>{esc(progress.t('review_explain_title'))}</h2>",
        f"<ol style='list-style:none;padding-left:0'>{expl}</ol>",
        f"<h2>{esc(progress.t('unranked_title'))}</h2>",
        table_html(result.unranked[["candidate", "reasons", "kpi_months", "abilities", "evidence_automatic", "evidence_mentor",
                                    "explanation"]], progress.t("review_unranked_none"), rules=progress),
        f"<h2>{esc(progress.t('formula_title'))}</h2>", formula_html(result.rules, progress),
    ]
    if result.notes:
        body.append(f"<h2>{esc(progress.t('notes_title'))}</h2><ul class=\"notes\">" + "".join(f"<li>{esc(n)}</li>" for n in result.notes) + "</ul>")
    return page(title, "\n".join(b for b in body if b))


def write_review(result: ReviewResult, progress: ProgressRules, tax: Taxonomy, out_dir: Path,
                 sources: dict[str, str]) -> list[Path]:
    """review-<period>.csv (ranked rows first, then unranked with their reasons) and review-<period>.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    both = pd.concat([result.ranking.assign(status="ranked"),
                      result.unranked.assign(rank=pd.NA, status="insufficient evidence")], ignore_index=True)
    cols = ["rank", "status"] + [c for c in both.columns if c not in ("rank", "status")]
    csv_path = out_dir / f"review-{result.period.label}.csv"
    both[cols].to_csv(csv_path, index=False, encoding="utf-8", float_format="%.2f")
    html_path = out_dir / f"review-{result.period.label}.html"
    html_path.write_text(review_html(result, progress, tax, sources), encoding="utf-8")
    return [csv_path, html_path]


@dataclass
class ReviewRun:
    """What `shifu review` made: the ranking and the files written (CSV, then HTML)."""

    result: ReviewResult
    written: list[Path]

    def summary(self, top: int = 5) -> list[str]:
        """Lines for a terminal or a log: how many were ranked, the first `top` with their totals, the files."""
        r = self.result
        lines = [f"{r.period.label}: {len(r.ranking)} ranked, {len(r.unranked)} with too little evidence"]
        lines += [f"  {row.rank}. {row.candidate}  {row.total:.1f}" + ("" if row.meets_kpi_bar else "  (below KPI bar)")
                  for row in r.ranking.head(top).itertuples()]
        return lines + [f"wrote {display_path(p)}" for p in self.written]


def semiannual_review(period: str, out: Path, kpi: Path | None = None, apprentices: Path | None = None,
                      course: Path | None = None, db_url: str | None = None, upgrade: bool = False,
                      say: Callable[[str], None] = lambda line: None) -> ReviewRun:
    """Rank candidate mentors for `period` ("YEAR-H1" or "YEAR-H2"); write review-<period>.csv and .html to `out`.

    kpi: the per-agent monthly KPI table (default: the first of review.yaml's kpi.default_files under
    data/); apprentices: mentor,apprentice,passed_probation,date; course, db_url: the course folder and
    its gradebook (defaults: course/ and its gradebook.db); upgrade: migrate an older nbgrader's gradebook.
    `say` gets one line on how the KPI file was read, before the gradebook is opened.
    Raises ShifuError naming the file, field and fix for a bad period, a missing or unreadable input.
    """
    from shifu.progress.config import load_progress_rules, load_review_rules
    from shifu.progress.evidence import collect_evidence

    per = parse_period(period)
    rules = load_review_rules()
    progress_rules = load_progress_rules()
    kpi_path = kpi or default_kpi_file(rules)
    kpi_df = load_kpi(kpi_path, rules)
    say(f"KPI: {display_path(kpi_path)} read as {kpi_df.attrs.get('encoding', '?')}, {len(kpi_df)} rows")
    app_df = load_apprentices(apprentices, rules) if apprentices else None
    ev = collect_evidence(course, db_url, upgrade=upgrade)
    result = run_review(per, kpi_df, ev, ev.taxonomy, progress_rules, rules, app_df)
    sources = {progress_rules.t("review_source_kpi"): display_path(kpi_path),
               progress_rules.t("review_source_gradebook"): ev.source_url}
    if apprentices:
        sources[progress_rules.t("review_source_apprentices")] = display_path(apprentices)
    return ReviewRun(result, write_review(result, progress_rules, ev.taxonomy, out, sources))
