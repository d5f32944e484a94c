"""Progress charts (matplotlib, object API: no pyplot state, so a 1,000-trainee report does not leak figures).

Every function returns a Figure with Chinese labels rendered through shifu.labs.fonts.setup_cjk_font().
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from shifu.labs.fonts import setup_cjk_font
from shifu.progress.config import ProgressRules, Taxonomy

_LEVEL_COLOURS = ["#d9d9d9", "#f4a582", "#fddbc7", "#92c5de", "#2166ac", "#053061"]


def _figure(w: float, h: float, **kw) -> Figure:
    setup_cjk_font()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(w, h), **kw)
    FigureCanvasAgg(fig)
    return fig


def _empty(fig: Figure, ax, rules: ProgressRules) -> None:
    ax.text(0.5, 0.5, rules.t("no_data"), ha="center", va="center", transform=ax.transAxes, fontsize=14, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def to_data_uri(fig: Figure, fmt: str = "png", dpi: int = 100) -> str:
    """The figure as a data: URI, for self-contained HTML."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _radar_axis(ax, labels: list[str], values: list[float], colour: str) -> None:
    n = len(labels)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False).tolist()
    vals = [0.0 if v != v else v for v in values]
    ax.plot(angles + angles[:1], vals + vals[:1], color=colour, linewidth=2)
    ax.fill(angles + angles[:1], vals + vals[:1], color=colour, alpha=0.25)
    ax.set_xticks(angles)
    ax.set_xticklabels(labels, fontsize=9)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=7, color="#777")


def radar(prof: pd.DataFrame, tax: Taxonomy, rules: ProgressRules, trainee: str) -> Figure:
    """The five abilities and, beside them, the data-analysis sub-skills of one trainee."""
    p = prof[prof["trainee"] == trainee].set_index("skill")["score"]
    insufficient = tax.level_for(None).label

    def label(s: str) -> str:
        v = p.get(s, np.nan)
        return f"{tax.label(s)}\n{v:.0f}" if v == v else f"{tax.label(s)}\n({insufficient})"

    subs = list(tax.sub_skills)
    fig = _figure(11, 5)
    ax1 = fig.add_subplot(1, 2 if subs else 1, 1, projection="polar")
    _radar_axis(ax1, [label(s) for s in tax.ability_ids], [p.get(s, np.nan) for s in tax.ability_ids], "#2166ac")
    ax1.set_title(rules.t("radar_title"), pad=22)
    if len(subs) >= 3:
        ax2 = fig.add_subplot(1, 2, 2, projection="polar")
        _radar_axis(ax2, [label(s) for s in subs], [p.get(s, np.nan) for s in subs], "#b2182b")
        ax2.set_title(rules.t("radar_analysis_title"), pad=22)
    fig.suptitle(trainee)
    fig.subplots_adjust(wspace=0.6)
    return fig


def module_trend(trend: pd.DataFrame, tax: Taxonomy, rules: ProgressRules, trainee: str) -> Figure:
    """Score rate per ability over the assignments, in course order."""
    fig = _figure(10, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    t = trend[trend["trainee"] == trainee]
    if t.empty:
        _empty(fig, ax, rules)
    else:
        order = t.drop_duplicates("assignment").sort_values("order")
        xpos = {a: i for i, a in enumerate(order["assignment"])}
        for comp in tax.ability_ids:
            c = t[t["competency"] == comp]
            if len(c):
                ax.plot([xpos[a] for a in c["assignment"]], c["rate"], marker="o", label=tax.label(comp))
        ax.set_xticks(range(len(xpos)))
        ax.set_xticklabels(list(xpos), rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(xpos) - 0.5)
        ax.set_ylim(0, 105)
        ax.set_xlabel(rules.t("trend_xlabel"))
        ax.set_ylabel(rules.t("trend_ylabel"))
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    ax.set_title(rules.t("trend_title"))
    return fig


def response_time(latency: pd.DataFrame, rules: ProgressRules, trainee: str) -> Figure:
    """Mean reply latency per role-play over time, against the benchmark (seed 002: about 19 s)."""
    fig = _figure(10, 4)
    ax = fig.add_subplot(1, 1, 1)
    t = latency[latency["trainee"] == trainee].sort_values(["date", "file"])
    bench = rules.response_time.benchmark_s
    if t.empty:
        _empty(fig, ax, rules)
    else:
        x = list(range(len(t)))
        ax.plot(x, t["mean_latency_s"], marker="o", color="#2166ac")
        ax.axhline(bench, color="#b2182b", linestyle="--", label=rules.t("benchmark_label"))
        labels = [d.strftime("%m-%d") if isinstance(d, pd.Timestamp) and d == d else "?" for d in t["date"]]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_ylim(0, max(bench * 1.5, float(t["mean_latency_s"].max()) * 1.1))
        ax.set_xlabel(rules.t("response_xlabel"))
        ax.set_ylabel(rules.t("response_ylabel"))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ax.set_title(rules.t("response_title"))
    return fig


def heatmap(matrix: pd.DataFrame, tax: Taxonomy, rules: ProgressRules, total: int | None = None) -> Figure:
    """trainee × skill proficiency; grey hatched cells have too little evidence."""
    rows = max(1, len(matrix))
    fig = _figure(2 + 1.0 * max(1, matrix.shape[1]), 1.5 + 0.28 * rows)
    ax = fig.add_subplot(1, 1, 1)
    if matrix.empty:
        _empty(fig, ax, rules)
        ax.set_title(rules.t("heatmap_title"))
        return fig
    data = matrix.to_numpy(dtype=float)
    masked = np.ma.masked_invalid(data)
    ax.set_facecolor("#e0e0e0")
    im = ax.imshow(masked, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto", interpolation="nearest")
    for (i, j), v in np.ndenumerate(data):
        if v != v:
            ax.add_patch(_hatch(j, i))
        elif rows <= 80:
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_xticklabels([tax.label(c) for c in matrix.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(rows))
    ax.set_yticklabels(list(matrix.index), fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.04)
    title = rules.t("heatmap_title")
    if total is not None and total > rows:
        title += f" ({rows}/{total})"
    ax.set_title(title + f" · ▨ {tax.level_for(None).label}")
    return fig


def _hatch(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#999", linewidth=0)


def backlog(backlog_table: pd.DataFrame, rules: ProgressRules) -> Figure:
    """Submissions waiting for manual grading, per assignment."""
    fig = _figure(8, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    if backlog_table.empty:
        _empty(fig, ax, rules)
    else:
        counts = backlog_table.drop_duplicates(["trainee", "assignment"]).groupby("assignment").size().sort_index()
        ax.bar(range(len(counts)), counts.values, color="#f4a582")
        ax.set_xticks(range(len(counts)))
        ax.set_xticklabels(list(counts.index), rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(rules.t("backlog_ylabel"))
        for i, v in enumerate(counts.values):
            ax.text(i, v, str(int(v)), ha="center", va="bottom", fontsize=8)
    ax.set_title(rules.t("backlog_title"))
    return fig


def level_distribution(prof: pd.DataFrame, tax: Taxonomy, rules: ProgressRules) -> Figure:
    """How many trainees sit at each level, per ability: the cohort at a glance at any size."""
    fig = _figure(9, 4)
    ax = fig.add_subplot(1, 1, 1)
    ab = prof[prof["skill"].isin(tax.ability_ids)]
    if ab.empty:
        _empty(fig, ax, rules)
    else:
        levels = sorted(tax.levels, key=lambda lv: -1 if lv.min_score is None else lv.min_score)
        counts = ab.groupby(["skill", "level"]).size().unstack(fill_value=0).reindex(index=tax.ability_ids, fill_value=0)
        bottom = np.zeros(len(tax.ability_ids))
        for k, lv in enumerate(levels):
            vals = counts[lv.id].to_numpy() if lv.id in counts.columns else np.zeros(len(tax.ability_ids))
            ax.bar(range(len(tax.ability_ids)), vals, bottom=bottom, label=lv.label,
                   color=_LEVEL_COLOURS[k % len(_LEVEL_COLOURS)], hatch="///" if lv.min_score is None else None)
            bottom += vals
        ax.set_xticks(range(len(tax.ability_ids)))
        ax.set_xticklabels([tax.label(c) for c in tax.ability_ids])
        ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(rules.t("levels_title"))
    return fig


def contributions(ranking: pd.DataFrame, part_labels: dict[str, str], rules: ProgressRules, top: int = 20) -> Figure:
    """Stacked bars: how much each part adds to each ranked candidate's review score."""
    r = ranking.head(top)
    fig = _figure(9, 1.5 + 0.35 * max(1, len(r)))
    ax = fig.add_subplot(1, 1, 1)
    if r.empty:
        _empty(fig, ax, rules)
    else:
        y = np.arange(len(r))[::-1]
        left = np.zeros(len(r))
        colours = ["#2166ac", "#4dac26", "#f1a340"]
        for k, (part, label) in enumerate(part_labels.items()):
            vals = r[f"{part}_contribution"].fillna(0).to_numpy()
            ax.barh(y, vals, left=left, label=label, color=colours[k % len(colours)])
            left += vals
        ax.set_yticks(y)
        ax.set_yticklabels(list(r["candidate"]), fontsize=8)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title(rules.t("review_chart_title"))
    return fig
