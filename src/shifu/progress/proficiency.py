"""Proficiency: how good a trainee is at a competency, and how sure we are.

score = Σ wᵢ·(scoreᵢ/maxᵢ) / Σ wᵢ × 100, with wᵢ = ½^(ageᵢ / half_life) for evidence no older than
max_age (undated evidence weighs `undated_weight`). Fewer than `min_items` counted items gives no
score and the insufficient level: a mentor sees "证据不足", not a confident number.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from typing import Callable

from shifu.progress.config import AtRisk, ProficiencyRules, Taxonomy, TrendRules
from shifu.progress.evidence import Evidence, missing_submissions

TextFn = Callable[..., str]  # ProgressRules.say: a `text:` template filled with values

PROFICIENCY_COLUMNS = ["trainee", "skill", "competency", "score", "items", "weight", "last_date", "sufficient",
                       "level", "level_label"]


def as_timestamp(value: object | None) -> pd.Timestamp:
    """A naive UTC day boundary (the end of that day), today when None."""
    ts = pd.Timestamp.now(tz="UTC").tz_localize(None) if value is None else pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if ts == ts.normalize():
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


def weigh(table: pd.DataFrame, as_of: pd.Timestamp, rules: ProficiencyRules) -> pd.DataFrame:
    """The evidence that counts on `as_of`, with its recency weight and score ratio."""
    keep, weight, ratio = _weights(table, as_of, rules)
    return table[keep].assign(weight=weight, ratio=ratio)


def _weights(table: pd.DataFrame, as_of: pd.Timestamp, rules: ProficiencyRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows that count, their recency weight, their score ratio clipped to 0–1) as arrays."""
    date = pd.to_datetime(table["date"]).to_numpy(dtype="datetime64[ns]")
    dated = ~np.isnat(date)
    age = (np.datetime64(as_of.to_datetime64(), "ns") - date) / np.timedelta64(1, "D")
    with np.errstate(invalid="ignore"):
        keep = ~dated | ((age >= 0) & (age <= rules.max_age_days))
    weight = np.where(dated[keep], np.power(0.5, np.nan_to_num(age[keep]) / rules.half_life_days), rules.undated_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(table["score"].to_numpy(dtype=float)[keep] / table["max"].to_numpy(dtype=float)[keep], 0, 1)
    return keep, weight, ratio


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their labels (object array) of a text column, categorical or not."""
    from shifu.progress.evidence import as_category

    c = as_category(values)
    return c.codes.astype(np.int64), np.asarray(c.categories, dtype=object)


def proficiency(ev: Evidence | pd.DataFrame, tax: Taxonomy, rules: ProficiencyRules, as_of: object | None = None,
                trainees: list[str] | None = None) -> pd.DataFrame:
    """One row per trainee × skill (the five abilities and the analysis sub-skills), every pair present.

    Pairs with no or too little evidence get score NaN and the insufficient level. Computed on
    integer codes (a cohort of 10,000 has a million evidence rows): the grid is trainee-major,
    skills in taxonomy order.
    """
    table = ev.table if isinstance(ev, Evidence) else ev
    if trainees is None:
        trainees = ev.trainees if isinstance(ev, Evidence) else sorted(set(table["trainee"].astype(object)))
    when = as_timestamp(as_of)
    skills = tax.ability_ids + list(tax.sub_skills)
    n_t, n_s = len(trainees), len(skills)
    items = np.zeros(n_t * n_s, dtype=np.int64)
    weight = np.zeros(n_t * n_s)
    wr = np.zeros(n_t * n_s)
    last = np.full(n_t * n_s, np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(table) and n_t:
        keep, w, ratio = _weights(table, when, rules)
        t_codes, t_labels = _codes(table["trainee"])
        t_pos = pd.Index(trainees).get_indexer(t_labels)[t_codes[keep]] if len(t_labels) else np.full(int(keep.sum()), -1)
        date = pd.to_datetime(table["date"]).to_numpy(dtype="datetime64[ns]")[keep]
        skill_index = pd.Index(skills)
        comp_codes, comp_labels = _codes(table["competency"])
        skill_codes, skill_labels = _codes(table["skill"])
        comp_pos = skill_index.get_indexer(comp_labels)[comp_codes[keep]] if len(comp_labels) else np.full(len(t_pos), -1)
        sub_pos = skill_index.get_indexer(skill_labels)[skill_codes[keep]] if len(skill_labels) else np.full(len(t_pos), -1)
        # a row counts for its ability, and for its sub-skill when it names one
        for pos in (comp_pos, np.where(sub_pos != comp_pos, sub_pos, -1)):
            ok = (t_pos >= 0) & (pos >= 0) & (comp_codes[keep] >= 0)
            cell = t_pos[ok] * n_s + pos[ok]
            items += np.bincount(cell, minlength=n_t * n_s)
            weight += np.bincount(cell, weights=w[ok], minlength=n_t * n_s)
            wr += np.bincount(cell, weights=w[ok] * ratio[ok], minlength=n_t * n_s)
            d = date[ok]
            dated = ~np.isnat(d)
            if dated.any():
                latest = pd.Series(d[dated]).groupby(cell[dated]).max()
                idx = latest.index.to_numpy()
                last[idx] = np.where(np.isnat(last[idx]) | (latest.to_numpy() > last[idx]), latest.to_numpy(), last[idx])
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(weight > 0, 100.0 * wr / np.where(weight > 0, weight, 1), np.nan)
    sufficient = items >= rules.min_items
    score = np.where(sufficient, score, np.nan)
    parent = {**{c: c for c in tax.ability_ids}, **tax.sub_skills}
    out = pd.DataFrame({
        "trainee": np.repeat(np.asarray(trainees, dtype=object), n_s),
        "skill": np.tile(np.asarray(skills, dtype=object), n_t),
        "score": score, "items": items, "weight": weight, "last_date": last, "sufficient": sufficient,
    })
    out["competency"] = out["skill"].map(parent)
    out["level"], out["level_label"] = levels_of(score, tax)
    return out[PROFICIENCY_COLUMNS]


def levels_of(score: np.ndarray, tax: Taxonomy) -> tuple[np.ndarray, np.ndarray]:
    """Level id and label per score (competencies.yaml `levels`): the highest whose min_score it reaches;
    the insufficient level for NaN, the lowest level below every min_score."""
    insufficient = tax.level_for(None)
    ranked = sorted((lv for lv in tax.levels if lv.min_score is not None), key=lambda lv: lv.min_score or 0)
    mins = np.array([lv.min_score or 0 for lv in ranked], dtype=float)
    ids = np.array([lv.id for lv in ranked] + [insufficient.id], dtype=object)
    labels = np.array([lv.label for lv in ranked] + [insufficient.label], dtype=object)
    score = np.asarray(score, dtype=float)
    k = np.clip(np.searchsorted(mins, np.nan_to_num(score, nan=-np.inf), side="right") - 1, 0, len(ranked) - 1)
    k = np.where(np.isnan(score), len(ranked), k)
    return ids[k], labels[k]


def ability_matrix(prof: pd.DataFrame, tax: Taxonomy) -> pd.DataFrame:
    """trainee × the five abilities, score or NaN (insufficient)."""
    ab = prof[prof["skill"].isin(tax.ability_ids)]
    m = ab.pivot(index="trainee", columns="skill", values="score") if len(ab) else pd.DataFrame(columns=tax.ability_ids)
    m.columns.name = None
    return m.reindex(columns=tax.ability_ids)


def overall(prof: pd.DataFrame, tax: Taxonomy) -> pd.Series:
    """Mean over the five abilities that have enough evidence, per trainee (NaN when none do)."""
    return ability_matrix(prof, tax).mean(axis=1, skipna=True)


def module_trend(table: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Score rate (%) per trainee, assignment and competency, in the order the trainee did them.

    Order: when the trainee handed the assignment in (the latest evidence date of it), then the
    course order (`assignments.order`: due dates, then m00 → m06, then the labs) for ties and for
    undated work. `order` is the rank in that time order, per trainee.
    """
    cols = ["trainee", "assignment", "competency", "rate", "order", "date"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    t = table.astype({"trainee": object, "assignment": object, "competency": object})
    g = t.groupby(["trainee", "assignment", "competency"], as_index=False, sort=False).agg(
        score=("score", "sum"), max=("max", "sum"))
    g["rate"] = 100.0 * g["score"] / g["max"]
    when = t.groupby(["trainee", "assignment"], as_index=False, sort=False).agg(date=("date", "max"))
    course = assignments[["assignment", "order"]].rename(columns={"order": "course_order"}) if "order" in assignments else \
        pd.DataFrame(columns=["assignment", "course_order"])
    when = when.merge(course, on="assignment", how="left").sort_values(["trainee", "date", "course_order", "assignment"],
                                                                        na_position="last", kind="stable")
    when["order"] = when.groupby("trainee").cumcount()
    g = g.merge(when[["trainee", "assignment", "order", "date"]], on=["trainee", "assignment"], how="left")
    return g.sort_values(["trainee", "order", "competency"], kind="stable")[cols].reset_index(drop=True)


def assignment_rates(ev: Evidence) -> pd.DataFrame:
    """Per trainee and assignment: score rate (%) over every graded item, when it was done, and its rank
    in the trainee's own time order (as module_trend). Columns: trainee, assignment, rate, date, order."""
    t = ev.table
    cols = ["trainee", "assignment", "rate", "date", "order"]
    if t.empty:
        return pd.DataFrame(columns=cols)
    tc, tl = _codes(t["trainee"])
    ac, al = _codes(t["assignment"])
    key = tc * (len(al) + 1) + ac
    df = pd.DataFrame({"key": key, "score": t["score"].to_numpy(dtype=float), "max": t["max"].to_numpy(dtype=float),
                       "date": pd.to_datetime(t["date"]).to_numpy()})
    g = df.groupby("key", sort=True).agg(score=("score", "sum"), max=("max", "sum"), date=("date", "max")).reset_index()
    g = g[g["max"] > 0]
    out = pd.DataFrame({"trainee": tl[g["key"].to_numpy() // (len(al) + 1)], "assignment": al[g["key"].to_numpy() % (len(al) + 1)],
                        "rate": 100.0 * g["score"].to_numpy() / g["max"].to_numpy(), "date": g["date"].to_numpy()})
    course = dict(zip(ev.assignments["assignment"], ev.assignments["order"])) if "order" in ev.assignments else {}
    out["_course"] = out["assignment"].map(course)
    out = out.sort_values(["trainee", "date", "_course", "assignment"], na_position="last", kind="stable")
    out["order"] = out.groupby("trainee", sort=False).cumcount()
    return out[cols].reset_index(drop=True)


def trend(ev: Evidence, rules: TrendRules) -> pd.DataFrame:
    """Each trainee's recent score rate against their earlier one, by time: the last `recent` assignments
    they handed in against all before them (at least `min_earlier`).

    Columns: trainee, earlier (rate %), recent (rate %), change (points), assignments (count).
    The mean is over assignments (each counts once, whatever its size). Trainees with too few
    assignments are left out.
    """
    r = assignment_rates(ev)
    cols = ["trainee", "earlier", "recent", "change", "assignments"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    n = r.groupby("trainee", sort=False)["order"].transform("size")
    from_end = n - r["order"]  # 1 = the latest
    r = r.assign(_recent=from_end <= rules.recent_assignments, _n=n)
    r = r[r["_n"] >= rules.recent_assignments + rules.min_earlier]
    if r.empty:
        return pd.DataFrame(columns=cols)
    g = r.groupby(["trainee", "_recent"])["rate"].mean().unstack("_recent")
    out = pd.DataFrame({"trainee": g.index, "earlier": g[False].to_numpy(), "recent": g[True].to_numpy()})
    out["change"] = out["recent"] - out["earlier"]
    out["assignments"] = r.groupby("trainee")["_n"].first().reindex(out["trainee"]).to_numpy()
    return out[cols].reset_index(drop=True)


def at_risk(ev: Evidence, prof: pd.DataFrame, tax: Taxonomy, rules: AtRisk, as_of: object | None = None,
            text: TextFn | None = None, trend_rules: TrendRules | None = None, trends: pd.DataFrame | None = None) -> pd.DataFrame:
    """The few trainees a mentor should talk to, each with every reason in the words of progress.yaml `text:`.

    Rules (grader/progress.yaml `at_risk`), relative to the cohort where a cohort-wide dip is no one's fault:
      behind   overall proficiency `behind_median_points` or more below the cohort's median;
      weak     an ability below `below_score` and `weak_ability_points` or more below the cohort's median of it;
      falling  the recent score rate `falling_points` or more below the trainee's earlier rate, beyond the cohort's
               median change when that is a drop (see trend());
      missing  `missing_submissions` or more of the latest `missing_window` due assignments not handed in;
      no evidence  `insufficient_abilities` or more abilities without enough evidence.
    Columns: trainee, overall, reasons (joined by "；"), count (of reasons). Most reasons first, then
    lowest overall.
    """
    say = text or _english
    when = as_timestamp(as_of)
    m = ability_matrix(prof, tax)
    cols = ["trainee", "overall", "reasons", "count"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    reasons: dict[str, list[str]] = {t: [] for t in m.index}
    ov = m.mean(axis=1, skipna=True)
    median = float(ov.median()) if ov.notna().any() else np.nan
    if median == median:
        for t, v in ov[ov <= median - rules.behind_median_points].items():
            reasons[t].append(say("risk_behind", score=v, median=median, gap=median - v))
    medians = m.median(axis=0, skipna=True)
    for c in tax.ability_ids:
        col = m[c]
        low = col[(col < rules.below_score) & (col <= medians[c] - rules.weak_ability_points)]
        for t, v in low.items():
            reasons[t].append(say("risk_weak", ability=tax.label(c), score=v, median=medians[c]))
    tr = trends if trends is not None else (trend(ev, trend_rules) if trend_rules is not None else None)
    if tr is not None and len(tr):
        # against the cohort's own change: a hard last module that lowers everyone flags no one
        usual = min(0.0, float(tr["change"].median()))
        falling = tr[tr["change"] <= usual - rules.falling_points]
        for row in falling.itertuples(index=False):
            if row.trainee in reasons:
                reasons[row.trainee].append(say("risk_falling", recent=row.recent, earlier=row.earlier, drop=-row.change,
                                                n=trend_rules.recent_assignments if trend_rules else 0))
    missing = missing_submissions(ev, when)
    if len(missing):
        # only the latest `missing_window` due assignments: a gap months ago is no news this week
        order = dict(zip(ev.assignments["assignment"], ev.assignments["order"])) if "order" in ev.assignments else {}
        latest = set(sorted(set(missing["assignment"]) | _due(ev, when), key=lambda a: order.get(a, 1e9))[-rules.missing_window:])
        missing = missing[missing["assignment"].isin(latest)]
        for t, group in missing.groupby("trainee", sort=False):
            if len(group) >= rules.missing_submissions and t in reasons:
                shown = list(group["assignment"])
                reasons[t].append(say("risk_missing", n=len(shown), assignments="、".join(shown[:5]) + ("…" if len(shown) > 5 else "")))
    n_insufficient = m.isna().sum(axis=1)
    for t, n in n_insufficient[n_insufficient >= rules.insufficient_abilities].items():
        reasons[t].append(say("risk_no_evidence", n=int(n), total=len(tax.ability_ids)))
    rows = [{"trainee": t, "overall": ov.get(t, np.nan), "reasons": "；".join(r), "count": len(r)} for t, r in reasons.items() if r]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["count", "overall", "trainee"], ascending=[False, True, True], na_position="first").reset_index(drop=True)


def _due(ev: Evidence, when: pd.Timestamp) -> set[str]:
    """Assignments already due on `when` (or, undated, handed in by someone): as missing_submissions counts them."""
    a = ev.assignments
    if a.empty:
        return set()
    dated = a["duedate"].notna() & (a["duedate"] <= when)
    undated = a["duedate"].isna() & a["assignment"].isin(set(ev.submissions["assignment"]))
    return set(a.loc[dated | undated, "assignment"])


def _english(key: str, **values: object) -> str:
    """Reasons without a wording file (tests of the rules alone): the key and its values."""
    return key + " " + ", ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def improvement(ev: Evidence, tax: Taxonomy, rules: TrendRules, top: int | None = None) -> pd.DataFrame:
    """Who improved most: trend() with the biggest gain first (only gains); `top` rows."""
    tr = trend(ev, rules)
    out = tr[tr["change"] > 0].sort_values(["change", "trainee"], ascending=[False, True]).reset_index(drop=True)
    return out.head(top) if top else out
