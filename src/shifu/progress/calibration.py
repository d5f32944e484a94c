"""Calibration: the mentors' 导师点评 grades beside the automatic criterion scores of the same work.

A *pair* is one submission (trainee × assignment) and one ability that a mentor graded by hand:
  mentor %  = Σ manual score / Σ max over the submission's 导师点评 cells of that ability
              (cells whose grade id matches progress.yaml `calibration.mentor_cells`);
  rubric %  = Σ automatic score / Σ max over the same submission's other graded cells of that
              ability (nbgrader's auto_score, before any mentor override) and the role-play
              transcript criteria scored for that ability in that assignment.
difference = mentor % − rubric %, in points of 100: negative = the mentor grades harder than the rubric.

Agreement per ability, per module and per mentor: Spearman's rank correlation (Pearson on
average ranks; undefined below min_pairs or when either side is constant) and the mean difference.
A mentor is *harsh* (or *lenient*) when their mean difference is `bias_points` or more below
(above) the mean difference of all other mentors' pairs — relative to the others, because the
rubric itself may sit above or below mentors as a whole.

Who graded (nbgrader stores no grader for a manual grade): the mentor who signed the cell's
formgrader comment (progress.yaml `calibration.signature`, e.g. "……(导师:王芳)"), else the
roster (a table with `mentor` and `trainee` — or `apprentice` — columns and an optional
`assignment` column; the assignment-specific row wins), else "(unknown)".
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shifu.content.errors import Problem, ShifuError
from shifu.progress.config import Calibration, ProgressRules
from shifu.progress.evidence import Evidence

UNKNOWN_MENTOR = "(unknown)"
PAIR_COLUMNS = ["trainee", "assignment", "competency", "mentor", "mentor_pct", "rubric_pct", "difference",
                "mentor_items", "rubric_items", "mentor_from", "transcripts"]
AGREEMENT_COLUMNS = ["pairs", "spearman", "mean_difference", "mean_abs_difference", "mentor_mean", "rubric_mean"]


@dataclass
class CalibrationResult:
    pairs: pd.DataFrame            # PAIR_COLUMNS, one row per submission × ability graded by a mentor
    by_ability: pd.DataFrame       # competency + AGREEMENT_COLUMNS
    by_module: pd.DataFrame        # assignment + AGREEMENT_COLUMNS
    by_mentor: pd.DataFrame        # mentor + AGREEMENT_COLUMNS + others_mean_difference, bias, verdict
    disagreements: pd.DataFrame    # the `top` pairs with the largest |difference|
    overall: dict[str, float]      # pairs, spearman, mean_difference over all pairs
    notes: list[str] = field(default_factory=list)

    def mentors_with(self, verdict: str) -> list[str]:
        m = self.by_mentor
        return list(m.loc[m["verdict"] == verdict, "mentor"]) if len(m) else []


# ---------------------------------------------------------------- who graded

def load_roster(path: Path, total_markers: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """mentor, trainee, assignment ("" = every assignment) from a CSV/.xlsx read by shifu.content.tabular.

    The trainee column may be called `trainee` or `apprentice` (so the review's apprentices file is a roster).
    """
    from shifu.content import tabular

    table = tabular.read_table(path, "mentor roster", ["mentor"], "the header needs mentor and trainee (or apprentice)",
                               total_markers)
    who = "trainee" if "trainee" in table.frame.columns else "apprentice" if "apprentice" in table.frame.columns else None
    if who is None:
        raise ShifuError([Problem(table.shown, "trainee", "column is missing (neither `trainee` nor `apprentice`)",
                                  "add a trainee column: one row per mentor and trainee")])
    f = table.frame
    empty = np.flatnonzero(((f["mentor"] == "") | (f[who] == "")).to_numpy())
    if len(empty):
        raise ShifuError(table.problems_at("mentor", empty, lambda _: f"mentor or {who} is empty", "fill both cells or remove the row"))
    out = pd.DataFrame({"mentor": f["mentor"], "trainee": f[who],
                        "assignment": f["assignment"] if "assignment" in f.columns else ""})
    out.attrs["notes"] = table.notes
    return out


def _mentor_of(pairs: pd.DataFrame, ev: Evidence, cfg: Calibration, roster: pd.DataFrame | None) -> pd.DataFrame:
    """mentor and where the name came from (comment / roster / unknown) for each (trainee, assignment, competency)."""
    rx = re.compile(cfg.signature)
    signed: dict[tuple[str, str, str], str] = {}
    cells = ev.cells
    mentor_cells = cells[cells["cell"].str.contains(cfg.mentor_cells, regex=True)] if len(cells) else cells
    comp_of = dict(zip(zip(mentor_cells["trainee"], mentor_cells["assignment"], mentor_cells["notebook"], mentor_cells["cell"]),
                       mentor_cells["competency"]))
    for r in ev.comments.itertuples(index=False):
        comp = comp_of.get((r.trainee, r.assignment, r.notebook, r.cell))
        m = rx.search(str(r.comment or "").strip()) if comp else None
        if m and m.group("mentor"):
            signed.setdefault((r.trainee, r.assignment, comp), m.group("mentor").strip())
    by_pair: dict[tuple[str, str], str] = {}
    by_trainee: dict[str, str] = {}
    if roster is not None:
        for r in roster.itertuples(index=False):
            key = str(r.trainee).lower()
            if r.assignment:
                by_pair.setdefault((key, str(r.assignment)), r.mentor)
            else:
                by_trainee.setdefault(key, r.mentor)
    names, sources = [], []
    for r in pairs.itertuples(index=False):
        name = signed.get((r.trainee, r.assignment, r.competency))
        src = "comment"
        if name is None:
            name = by_pair.get((r.trainee.lower(), r.assignment)) or by_trainee.get(r.trainee.lower())
            src = "roster"
        if name is None:
            name, src = UNKNOWN_MENTOR, "unknown"
        names.append(name)
        sources.append(src)
    return pairs.assign(mentor=names, mentor_from=sources)


# ---------------------------------------------------------------- pairs and agreement

def _transcript_links(ev: Evidence) -> dict[tuple[str, str], list[str]]:
    links: dict[tuple[str, str], list[str]] = {}
    lat = ev.latency
    for r in lat.itertuples(index=False) if len(lat) else []:
        links.setdefault((r.trainee, r.assignment), []).append(str(r.file))
    if ev.course_dir is not None:  # transcripts with no trainee turn are not in the latency table
        from shifu.roleplay.transcript.course import find_transcripts

        for path, trainee, assignment in find_transcripts(ev.course_dir):
            got = links.setdefault((trainee, assignment), [])
            if str(path) not in got:
                got.append(str(path))
    return links


def build_pairs(ev: Evidence, cfg: Calibration, roster: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One row per submission × ability a mentor graded, with the rubric's score for the same; and notes."""
    notes: list[str] = []
    cells = ev.cells
    if cells.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS), ["the gradebook has no graded cells yet"]
    is_mentor = cells["cell"].str.contains(cfg.mentor_cells, regex=True)
    mc = cells[is_mentor & cells["manual_score"].notna() & (cells["max"] > 0)]
    pending = int((is_mentor & cells["manual_score"].isna()).sum())
    if pending:
        notes.append(f"{pending} 导师点评 cell(s) not graded by a mentor yet: left out")
    keys = ["trainee", "assignment", "competency"]
    mentor = mc.groupby(keys).agg(m_score=("manual_score", "sum"), m_max=("max", "sum"), mentor_items=("cell", "size"))
    ac = cells[~is_mentor & cells["auto_score"].notna() & (cells["max"] > 0)]
    auto = ac.assign(a=ac["auto_score"].astype(float).clip(lower=0)).groupby(keys).agg(a_score=("a", "sum"), a_max=("max", "sum"),
                                                                                       rubric_items=("cell", "size"))
    t = ev.table[ev.table["source"] == "transcript"]
    if len(t):
        tr = t.groupby(keys).agg(a_score=("score", "sum"), a_max=("max", "sum"), rubric_items=("item", "size"))
        auto = auto.add(tr, fill_value=0)
    joined = mentor.join(auto, how="left").reset_index()
    unpaired = joined["a_max"].isna() | (joined["a_max"] <= 0)
    if unpaired.any():
        notes.append(f"{int(unpaired.sum())} mentor grade(s) have no automatic score of the same ability in the same submission: "
                     "not compared")
    joined = joined[~unpaired]
    if joined.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS), notes
    pairs = pd.DataFrame({
        "trainee": joined["trainee"], "assignment": joined["assignment"], "competency": joined["competency"],
        "mentor_pct": 100 * joined["m_score"] / joined["m_max"], "rubric_pct": 100 * joined["a_score"] / joined["a_max"],
        "mentor_items": joined["mentor_items"].astype(int), "rubric_items": joined["rubric_items"].astype(int),
    })
    pairs["difference"] = pairs["mentor_pct"] - pairs["rubric_pct"]
    pairs = _mentor_of(pairs, ev, cfg, roster)
    links = _transcript_links(ev)
    pairs["transcripts"] = [" ".join(links.get((a, b), [])) for a, b in zip(pairs["trainee"], pairs["assignment"])]
    unknown = int((pairs["mentor"] == UNKNOWN_MENTOR).sum())
    if unknown:
        notes.append(f"{unknown} mentor grade(s) name no mentor (no signed comment, no roster row): grouped as {UNKNOWN_MENTOR} — "
                     f"fix: sign the formgrader comment, e.g. “……(导师:王芳)”, or name each trainee's mentor in the roster "
                     f"(a mentor,trainee table; default file <course>/{cfg.roster})")
    return pairs[PAIR_COLUMNS].reset_index(drop=True), notes


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rho: Pearson correlation of average ranks; NaN for fewer than 3 pairs or a constant side."""
    if len(x) < 3:
        return float("nan")
    rx, ry = x.rank(method="average").to_numpy(float), y.rank(method="average").to_numpy(float)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _agreement(df: pd.DataFrame, min_pairs: int) -> dict[str, float]:
    n = len(df)
    return {"pairs": n,
            "spearman": spearman(df["mentor_pct"], df["rubric_pct"]) if n >= min_pairs else float("nan"),
            "mean_difference": float(df["difference"].mean()) if n else float("nan"),
            "mean_abs_difference": float(df["difference"].abs().mean()) if n else float("nan"),
            "mentor_mean": float(df["mentor_pct"].mean()) if n else float("nan"),
            "rubric_mean": float(df["rubric_pct"].mean()) if n else float("nan")}


def _grouped(pairs: pd.DataFrame, key: str, min_pairs: int) -> pd.DataFrame:
    rows = [{key: k, **_agreement(g, min_pairs)} for k, g in pairs.groupby(key, sort=True)]
    return pd.DataFrame(rows, columns=[key] + AGREEMENT_COLUMNS)


def calibrate(ev: Evidence, rules: ProgressRules, roster: pd.DataFrame | None = None) -> CalibrationResult:
    """Pure given Evidence: pairs, agreement per ability/module/mentor, each mentor's bias, the top disagreements."""
    cfg = rules.calibration
    pairs, notes = build_pairs(ev, cfg, roster)
    if roster is not None:
        notes = list(roster.attrs.get("notes", [])) + notes
    by_mentor = _grouped(pairs, "mentor", cfg.min_pairs)
    others, bias, verdict = [], [], []
    for r in by_mentor.itertuples(index=False):
        rest = pairs[pairs["mentor"] != r.mentor]
        o = float(rest["difference"].mean()) if len(rest) else float("nan")
        b = r.mean_difference - o if o == o else float("nan")
        others.append(o)
        bias.append(b)
        if r.mentor == UNKNOWN_MENTOR:
            verdict.append("unknown")
        elif r.pairs < cfg.min_pairs or b != b:
            verdict.append("too_few")
        elif b <= -cfg.bias_points:
            verdict.append("harsh")
        elif b >= cfg.bias_points:
            verdict.append("lenient")
        else:
            verdict.append("in_line")
    by_mentor["others_mean_difference"], by_mentor["bias"], by_mentor["verdict"] = others, bias, verdict
    order = pairs["difference"].abs().sort_values(ascending=False, kind="stable").index
    top = pairs.loc[order].head(cfg.top).reset_index(drop=True)
    for df in (pairs, top):
        df.insert(3, "ability", df["competency"].map(ev.taxonomy.label))
    by_ability = _grouped(pairs, "competency", cfg.min_pairs)
    by_ability.insert(1, "ability", by_ability["competency"].map(ev.taxonomy.label))
    return CalibrationResult(pairs=pairs, by_ability=by_ability,
                             by_module=_grouped(pairs, "assignment", cfg.min_pairs), by_mentor=by_mentor,
                             disagreements=top, overall=_agreement(pairs, cfg.min_pairs), notes=notes)


def default_roster(course_dir: Path | None, cfg: Calibration) -> Path | None:
    """<course>/<calibration.roster> when it exists."""
    if course_dir is None:
        return None
    path = Path(course_dir) / cfg.roster
    return path if path.is_file() else None


def roster_for(ev: Evidence, rules: ProgressRules, mentors: Path | None = None) -> pd.DataFrame | None:
    """Who mentors whom: the roster file `mentors` when given, else <course>/<calibration.roster> when it
    exists, read by load_roster (review.yaml's total markers skipped); None when there is no roster."""
    from shifu.progress.config import load_review_rules

    path = mentors or default_roster(ev.course_dir, rules.calibration)
    return load_roster(path, load_review_rules().tables.total_markers) if path else None


@dataclass
class CalibrationRun:
    """What `shifu calibrate` made: the comparison and the files written (calibration.html first)."""

    result: CalibrationResult
    written: list[Path]

    def summary(self) -> list[str]:
        """Lines for a terminal or a log: agreement overall and per mentor, the flagged mentors, notes, files."""
        from shifu.content.errors import display_path

        r, o = self.result, self.result.overall
        lines = [f"{o['pairs']} mentor-graded pairs: Spearman {o['spearman']:.2f}, mean difference (mentor − rubric) "
                 f"{o['mean_difference']:+.1f} points" if o["pairs"] else "no mentor grade to compare yet"]
        lines += [f"  {m.mentor}: {m.pairs} pairs, mean difference {m.mean_difference:+.1f}, "
                  f"{m.bias:+.1f} against the others → {m.verdict}" for m in r.by_mentor.itertuples(index=False)]
        lines += [f"{v}: {', '.join(r.mentors_with(v))}" for v in ("harsh", "lenient") if r.mentors_with(v)]
        lines += [f"note: {n}" for n in r.notes]
        return lines + [f"wrote {display_path(p)}" for p in self.written]


def calibration_report(out: Path, course: Path | None = None, db_url: str | None = None, mentors: Path | None = None,
                       upgrade: bool = False) -> CalibrationRun:
    """Compare the rubric's automatic scores with the mentors' 导师点评 grades; write calibration.html and CSVs to `out`.

    course: the course folder (default paths.course_dir()); db_url: its gradebook (default the course's);
    mentors: a roster file (default <course>/<calibration.roster> when it exists); upgrade: migrate an
    older nbgrader's gradebook. Raises ShifuError for a missing gradebook or a bad roster.
    """
    from shifu.progress.config import load_progress_rules
    from shifu.progress.evidence import collect_evidence

    rules = load_progress_rules()
    ev = collect_evidence(course, db_url, upgrade=upgrade)
    result = calibrate(ev, rules, roster_for(ev, rules, mentors))
    return CalibrationRun(result, write_calibration(result, rules, out, ev.source_url))


# ---------------------------------------------------------------- output

def _links_html(paths_text: str, base: Path) -> str:
    from shifu.progress.report import esc

    out = []
    for p in paths_text.split():
        rel = os.path.relpath(p, base)
        out.append(f'<a href="{esc(Path(rel).as_posix())}">{esc(Path(p).name)}</a>')
    return " ".join(out) or "—"


def _verdict_label(v: str, rules: ProgressRules) -> str:
    return {"harsh": rules.t("calibration_harsh"), "lenient": rules.t("calibration_lenient"), "in_line": rules.t("calibration_in_line"),
            "too_few": rules.t("calibration_too_few"), "unknown": rules.t("calibration_unknown")}.get(v, v)


def _shown(df: pd.DataFrame, rules: ProgressRules) -> pd.DataFrame:
    """(unknown) mentors in words; the competency id left out where its label (ability) is shown."""
    out = df.drop(columns=["competency"], errors="ignore") if "ability" in df.columns else df.copy()
    if "mentor" in out.columns:
        out["mentor"] = out["mentor"].replace({UNKNOWN_MENTOR: rules.t("calibration_unknown")})
    return out


def section_html(result: CalibrationResult, rules: ProgressRules, base: Path, heading: str = "h2") -> str:
    """The calibration section of a report; links to transcripts are relative to `base` (the report's folder)."""
    from shifu.progress.report import esc, table_html

    sub = "h3" if heading == "h2" else "h4"
    o = result.overall
    cfg = rules.calibration
    notes = ('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in result.notes) + "</ul>") if result.notes else ""
    if not o["pairs"]:
        return (f"<{heading}>{esc(rules.t('calibration_title'))}</{heading}>"
                f'<p class="muted">{esc(rules.t("no_data"))} — {esc(rules.t("calibration_none"))}</p>' + notes)
    mentors = result.by_mentor.assign(verdict=result.by_mentor["verdict"].map(lambda v: _verdict_label(v, rules)))
    top = _shown(result.disagreements, rules)
    top["transcripts"] = [_links_html(t, base) for t in top["transcripts"]]
    shown = ["trainee", "assignment", "ability", "mentor", "mentor_pct", "rubric_pct", "difference", "transcripts"]
    flagged = [f"{_verdict_label(v, rules)}:{'、'.join(result.mentors_with(v))}" for v in ("harsh", "lenient") if result.mentors_with(v)]
    summary = rules.say("calibration_summary", pairs=o["pairs"], spearman="—" if o["spearman"] != o["spearman"] else f"{o['spearman']:.2f}",
                        difference=f"{o['mean_difference']:+.1f}", bias=f"{cfg.bias_points:g}", min_pairs=cfg.min_pairs)
    return "\n".join([
        f"<{heading}>{esc(rules.t('calibration_title'))}</{heading}>",
        f"<p>{esc(summary)}" + (f" <b>{esc('；'.join(flagged))}</b>" if flagged else "") + "</p>",
        f"<{sub}>{esc(rules.t('calibration_by_mentor'))}</{sub}>", table_html(_shown(mentors, rules), rules=rules),
        f"<{sub}>{esc(rules.t('calibration_by_ability'))}</{sub}>",
        table_html(_shown(result.by_ability, rules), rules=rules),
        f"<{sub}>{esc(rules.t('calibration_by_module'))}</{sub}>", table_html(result.by_module, rules=rules),
        f"<{sub}>{esc(rules.t('calibration_disagreements'))}</{sub}>",
        table_html(top[shown], "—", rules=rules, escape=False),
        notes,
    ])


def write_calibration(result: CalibrationResult, rules: ProgressRules, out_dir: Path, source: str = "") -> list[Path]:
    """calibration.html and calibration-{pairs,by_ability,by_module,by_mentor,disagreements}.csv."""
    from shifu.progress.report import esc, page

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("pairs", result.pairs), ("by_ability", result.by_ability), ("by_module", result.by_module),
                     ("by_mentor", result.by_mentor), ("disagreements", result.disagreements)):
        path = out_dir / f"calibration-{name}.csv"
        df.to_csv(path, index=False, encoding="utf-8", float_format="%.2f")
        written.append(path)
    body = section_html(result, rules, out_dir, heading="h1")
    if source:
        body = body.replace("</h1>", f'</h1><p class="muted">{esc(rules.t("review_source_gradebook"))} {esc(source)}</p>', 1)
    html_path = out_dir / "calibration.html"
    html_path.write_text(page(rules.t("calibration_title"), body), encoding="utf-8")
    return [html_path] + written
