"""Proficiency: how good a trainee is at a competency, and how sure we are.

score = Σ wᵢ·(scoreᵢ/maxᵢ) / Σ wᵢ × 100, with wᵢ = ½^(ageᵢ / half_life) for evidence no older than
max_age (undated evidence weighs `undated_weight`). Fewer than `min_items` counted items gives no
score and the insufficient level: a mentor sees "证据不足", not a confident number.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .config import AtRisk, ProficiencyRules, Taxonomy
from .evidence import Evidence, missing_submissions

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
    age = (as_of - table["date"]).dt.total_seconds() / 86400.0
    dated = table["date"].notna()
    keep = ~dated | ((age >= 0) & (age <= rules.max_age_days))
    out = table[keep].copy()
    a = age[keep]
    out["weight"] = np.where(out["date"].notna(), np.power(0.5, a.fillna(0) / rules.half_life_days), rules.undated_weight)
    out["ratio"] = (out["score"] / out["max"]).clip(0, 1)
    return out


def _aggregate(w: pd.DataFrame, key: str) -> pd.DataFrame:
    if w.empty:
        return pd.DataFrame(columns=["trainee", "skill", "score", "items", "weight", "last_date"])
    w = w.assign(_wr=w["weight"] * w["ratio"])
    g = w.groupby(["trainee", key], as_index=False).agg(
        items=("ratio", "size"), weight=("weight", "sum"), wr=("_wr", "sum"), last_date=("date", "max"))
    g["score"] = np.where(g["weight"] > 0, 100.0 * g["wr"] / g["weight"].where(g["weight"] > 0, 1), np.nan)
    return g.rename(columns={key: "skill"})[["trainee", "skill", "score", "items", "weight", "last_date"]]


def proficiency(ev: Evidence | pd.DataFrame, tax: Taxonomy, rules: ProficiencyRules, as_of: object | None = None,
                trainees: list[str] | None = None) -> pd.DataFrame:
    """One row per trainee × skill (the five abilities and the analysis sub-skills), every pair present.

    Pairs with no or too little evidence get score NaN and the insufficient level.
    """
    table = ev.table if isinstance(ev, Evidence) else ev
    if trainees is None:
        trainees = ev.trainees if isinstance(ev, Evidence) else sorted(set(table["trainee"]))
    when = as_timestamp(as_of)
    w = weigh(table, when, rules)
    abilities = _aggregate(w, "competency")
    subs = _aggregate(w[w["skill"] != w["competency"]], "skill")
    agg = pd.concat([x for x in (abilities, subs) if len(x)], ignore_index=True) if len(abilities) or len(subs) else abilities
    skills = tax.ability_ids + list(tax.sub_skills)
    grid = pd.MultiIndex.from_product([trainees, skills], names=["trainee", "skill"]).to_frame(index=False)
    out = grid.merge(agg, on=["trainee", "skill"], how="left")
    out["items"] = out["items"].fillna(0).astype(int)
    out["weight"] = out["weight"].fillna(0.0).astype(float)
    out["score"] = out["score"].astype(float)
    out["sufficient"] = out["items"] >= rules.min_items
    out.loc[~out["sufficient"], "score"] = np.nan
    parent = {**{c: c for c in tax.ability_ids}, **tax.sub_skills}
    out["competency"] = out["skill"].map(parent)
    levels = {s: tax.level_for(None if np.isnan(s) else s) for s in out["score"].dropna().unique()}
    insufficient = tax.level_for(None)
    out["level"] = [levels[s].id if s == s else insufficient.id for s in out["score"]]
    out["level_label"] = [levels[s].label if s == s else insufficient.label for s in out["score"]]
    out["last_date"] = pd.to_datetime(out["last_date"])
    return out[PROFICIENCY_COLUMNS]


def ability_matrix(prof: pd.DataFrame, tax: Taxonomy) -> pd.DataFrame:
    """trainee × the five abilities, score or NaN (insufficient)."""
    ab = prof[prof["skill"].isin(tax.ability_ids)]
    m = ab.pivot(index="trainee", columns="skill", values="score") if len(ab) else pd.DataFrame(columns=tax.ability_ids)
    return m.reindex(columns=tax.ability_ids)


def overall(prof: pd.DataFrame, tax: Taxonomy) -> pd.Series:
    """Mean over the five abilities that have enough evidence, per trainee (NaN when none do)."""
    return ability_matrix(prof, tax).mean(axis=1, skipna=True)


def module_trend(table: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Score rate (%) per trainee, assignment and competency, in course order: the 'trends over modules' data."""
    if table.empty:
        return pd.DataFrame(columns=["trainee", "assignment", "competency", "rate", "order"])
    g = table.groupby(["trainee", "assignment", "competency"], as_index=False).agg(score=("score", "sum"), max=("max", "sum"))
    g["rate"] = 100.0 * g["score"] / g["max"]
    g = g.merge(assignments[["assignment", "order"]], on="assignment", how="left").sort_values(["trainee", "order"])
    return g[["trainee", "assignment", "competency", "rate", "order"]].reset_index(drop=True)


def at_risk(ev: Evidence, prof: pd.DataFrame, tax: Taxonomy, rules: AtRisk, as_of: object | None = None) -> pd.DataFrame:
    """Trainees who need a mentor's attention, with every reason in words a mentor reads."""
    when = as_timestamp(as_of)
    m = ability_matrix(prof, tax)
    missing = missing_submissions(ev, when).groupby("trainee").size()
    rows = []
    for trainee in m.index:
        reasons, row = [], m.loc[trainee]
        low = [f"{tax.label(c)} {row[c]:.0f}" for c in tax.ability_ids if row[c] == row[c] and row[c] < rules.below_score]
        if low:
            reasons.append(f"below {rules.below_score:.0f}: " + ", ".join(low))
        n_missing = int(missing.get(trainee, 0))
        if n_missing >= rules.missing_submissions:
            reasons.append(f"{n_missing} assignment(s) not submitted")
        n_insufficient = int(row.isna().sum())
        if n_insufficient >= rules.insufficient_abilities:
            reasons.append(f"{n_insufficient} of {len(tax.ability_ids)} abilities without enough evidence")
        if reasons:
            rows.append({"trainee": trainee, "overall": row.mean(skipna=True), "reasons": "; ".join(reasons)})
    out = pd.DataFrame(rows, columns=["trainee", "overall", "reasons"])
    return out.sort_values(["overall", "trainee"], na_position="first").reset_index(drop=True)


def improvement(ev: Evidence, tax: Taxonomy, rules: ProficiencyRules, window_days: float, as_of: object | None = None) -> pd.DataFrame:
    """Change of overall proficiency over the window, over abilities scored at both ends, biggest gain first."""
    now = as_timestamp(as_of)
    before = now - pd.Timedelta(days=window_days)
    trainees = ev.trainees
    m_now = ability_matrix(proficiency(ev, tax, rules, now, trainees), tax)
    m_before = ability_matrix(proficiency(ev, tax, rules, before, trainees), tax)
    both = m_now.notna() & m_before.notna()
    start = m_before.where(both).mean(axis=1, skipna=True)
    end = m_now.where(both).mean(axis=1, skipna=True)
    out = pd.DataFrame({"trainee": m_now.index, "before": start.values, "now": end.values,
                        "abilities": both.sum(axis=1).values})
    out["change"] = out["now"] - out["before"]
    out = out[out["abilities"] > 0].sort_values(["change", "trainee"], ascending=[False, True])
    return out.reset_index(drop=True)
