"""The generator's inputs: figures and phrase templates from data/generator/*.yaml, validated.

Figures and sentences are content a trainer edits, so they live in YAML; a mistake there is
reported with the file, the line, the field and the fix, never as a traceback.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.content.yamlio import Strict, dotted, line_for, load_yaml


class ShopFig(Strict):
    name: str
    year: int


class ReviewLabels(Strict):
    """The words of chat_sessions.csv `review` (figures.yaml chat.review_labels)."""

    positive: str
    neutral: str
    negative: str


class ChatFig(Strict):
    start: str
    days: int
    hourly_weights: list[float]
    human_sessions_per_agent_day: dict[str, float]
    bot_only_share: float
    night_sessions_per_night: int
    night_start: str
    night_end: str
    night_inquiry_share: float
    night_inquiry_conversion: float
    first_response_median_s: float
    first_response_sigma: float
    slow_agents: int
    slow_factor: tuple[float, float]
    daytime_inquiry_share: float
    aftersales_inquiry_share: float
    handoff_share: float
    bot_daytime_inquiry_share: float
    bot_daytime_inquiry_conversion: float
    daytime_inquiry_conversion: tuple[float, float]
    review_share: float
    positive_review_rate: tuple[float, float]
    bot_review_share: float
    bot_review_mix: dict[str, float]
    complaint_rate: tuple[float, float]
    qc_score_mean: tuple[float, float]
    review_labels: ReviewLabels


class TeamNames(Strict):
    """The team names the tables use (figures.yaml team.names); the generator's keys are English."""

    presales: str
    aftersales: str


class TeamFig(Strict):
    presales_agents: int
    aftersales_agents: int
    names: TeamNames


class KpiFig(Strict):
    months: int
    sessions_noise: float
    improvement_per_month: float
    double11_month: int
    double11_slowdown: float


class OrdersFig(Strict):
    customers: int
    customer_sample_rate: float
    hourly_weights: list[float]
    double11_run_up_days: int
    double11_run_up_weight: float
    double11_day_weight: float
    monthly_milk_buyers: int
    monthly_interval_days: tuple[int, int]
    churn_share: float
    occasional_orders_per_customer: tuple[int, int]
    return_rate: float


class ReturnsFig(Strict):
    window: tuple[str, str]
    unpack_normal_max_days: int
    unpack_peak_max_days: int
    peak_start: str
    peak_end: str
    late_share: float
    backlog_start: str
    backlog_end: str
    backlog_late_share: float
    sku_mismatch_share: float


class AssetLossFig(Strict):
    cases: int
    recovery_rate: float
    yearly_loss_cap_yuan: float


class ComplaintsFig(Strict):
    start: str
    weeks: int
    per_day: int
    rising_category: str
    rising_factor: float


class NpsFig(Strict):
    responses: int
    start: str
    days: int


class Double11Fig(Strict):
    years: list[int]
    peak_questions: list[int]
    questions_per_session: float
    noise: float
    profile: dict[str, list[float]]


class Figures(Strict):
    shop: ShopFig
    chat: ChatFig
    team: TeamFig
    kpi: KpiFig
    orders: OrdersFig
    returns: ReturnsFig
    asset_loss: AssetLossFig
    complaints: ComplaintsFig
    nps: NpsFig
    double11: Double11Fig


class Shop(Strict):
    agents: dict[str, list[str]]
    products: dict[str, tuple[str, float]]
    product_weights: dict[str, float]
    milk_products: list[str]
    channels: dict[str, float]
    couriers: list[str]
    return_reasons: dict[str, float]
    loss_reasons: dict[str, float]
    recovery_methods: dict[str, float]


class PainPoint(Strict):
    keywords: list[str]
    templates: list[str]


class ComplaintCategory(Strict):
    weight: float
    pain_points: dict[str, PainPoint]


class ComplaintTexts(Strict):
    openers: list[str]
    closers: list[str]
    categories: dict[str, ComplaintCategory]


class NpsTexts(Strict):
    base_score_weights: list[float]
    channel_shift: dict[str, float]
    product_shift: dict[str, float]
    reason_weights: dict[str, dict[str, float]]
    openers: list[str]
    comments: dict[str, dict[str, list[str]]]


SLOTS = frozenset({"product", "courier", "days", "amount", "order_tail"})


@dataclass(frozen=True)
class Spec:
    figures: Figures
    shop: Shop
    complaints: ComplaintTexts
    nps: NpsTexts


def generator_dir() -> Path:
    return paths.data_dir() / "generator"


def _model(path: Path, model: type[BaseModel]) -> Any:
    data, lines = load_yaml(path)
    shown = display_path(path)
    try:
        return model.model_validate(data or {}), data, lines
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(Problem(shown, dotted(loc), err["msg"].lower(),
                                    "compare with the other entries in the file", line_for(lines, loc)))
        raise ShifuError(problems)


def _check_templates(shown: str, lines: Any, where: tuple[Any, ...], texts: list[str]) -> list[Problem]:
    problems = []
    for i, text in enumerate(texts):
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            problems.append(Problem(shown, dotted(where + (i,)), f"template cannot be read: {exc}",
                                    "write slots as {product}; a literal brace is {{ or }}", line_for(lines, where + (i,))))
            continue
        unknown = sorted(names - SLOTS)
        if unknown:
            problems.append(Problem(shown, dotted(where + (i,)), f"unknown slot {{{unknown[0]}}}",
                                    f"use one of {', '.join('{' + s + '}' for s in sorted(SLOTS))}", line_for(lines, where + (i,))))
    return problems


def load_spec(folder: Path | None = None) -> Spec:
    """Read and cross-check the four generator files; raise ShifuError listing every problem."""
    folder = folder or generator_dir()
    files = {name: folder / f"{name}.yaml" for name in ("figures", "shop", "complaints", "nps")}
    for name, path in files.items():
        if not path.exists():
            raise ShifuError([Problem(display_path(path), "(file)", "is missing",
                                      "restore data/generator/ from the repository (git checkout data/generator)")])
    figures, _, _ = _model(files["figures"], Figures)
    shop, _, shop_lines = _model(files["shop"], Shop)
    complaints, _, c_lines = _model(files["complaints"], ComplaintTexts)
    nps, _, n_lines = _model(files["nps"], NpsTexts)

    problems: list[Problem] = []
    c_shown, n_shown, s_shown = (display_path(files[k]) for k in ("complaints", "nps", "shop"))
    problems += _check_templates(c_shown, c_lines, ("openers",), complaints.openers)
    problems += _check_templates(c_shown, c_lines, ("closers",), complaints.closers)
    for cat, body in complaints.categories.items():
        for pain, pp in body.pain_points.items():
            where = ("categories", cat, "pain_points", pain)
            problems += _check_templates(c_shown, c_lines, where + ("templates",), pp.templates)
            for kw in pp.keywords:
                if not any(kw in t for t in pp.templates):
                    problems.append(Problem(c_shown, dotted(where + ("keywords",)), f"keyword {kw!r} appears in none of its templates",
                                            "add it to a template or drop it", line_for(c_lines, where + ("keywords",))))
    if figures.complaints.rising_category not in complaints.categories:
        problems.append(Problem(display_path(files["figures"]), "complaints.rising_category",
                                f"{figures.complaints.rising_category!r} is not a category in {c_shown}",
                                f"use one of {', '.join(complaints.categories)}"))
    if len(nps.base_score_weights) != 11:
        problems.append(Problem(n_shown, "base_score_weights", f"has {len(nps.base_score_weights)} entries",
                                "give one weight per score 0..10 (11 in all)", line_for(n_lines, ("base_score_weights",))))
    for group in ("promoter", "passive", "detractor"):
        if group not in nps.reason_weights or group not in nps.comments:
            problems.append(Problem(n_shown, f"reason_weights/comments.{group}", "is missing", f"add a {group} entry"))
            continue
        for reason in nps.reason_weights[group]:
            texts = nps.comments[group].get(reason)
            if not texts:
                problems.append(Problem(n_shown, f"comments.{group}.{reason}", "has no comment templates",
                                        "add at least one sentence", line_for(n_lines, ("comments", group))))
            else:
                problems += _check_templates(n_shown, n_lines, ("comments", group, reason), texts)
    for field, mapping in (("channel_shift", nps.channel_shift), ("product_shift", nps.product_shift)):
        known = shop.channels if field == "channel_shift" else shop.products
        for key in mapping:
            if key not in known:
                problems.append(Problem(n_shown, f"{field}.{key}", f"is not in {s_shown}", f"use one of {', '.join(known)}",
                                        line_for(n_lines, (field, key))))
    for key in [*shop.product_weights, *shop.milk_products]:
        if key not in shop.products:
            problems.append(Problem(s_shown, key, "is not a product", "add it under products or fix the name",
                                    line_for(shop_lines, ("product_weights", key))))
    teams = figures.team
    for team, needed in (("presales", teams.presales_agents), ("aftersales", teams.aftersales_agents)):
        have = len(shop.agents.get(team, []))
        if have < needed:
            problems.append(Problem(s_shown, f"agents.{team}", f"has {have} names but figures.yaml asks for {needed} agents",
                                    "add names or lower team counts", line_for(shop_lines, ("agents", team))))
    if len(figures.double11.years) != len(figures.double11.peak_questions):
        problems.append(Problem(display_path(files["figures"]), "double11.peak_questions",
                                "needs one number per year", "give as many peaks as years"))
    for day, shares in figures.double11.profile.items():
        if len(shares) != 24:
            problems.append(Problem(display_path(files["figures"]), f"double11.profile.{day}",
                                    f"has {len(shares)} hours", "give 24 shares, one per hour from 00:00"))
    names = figures.team.names
    missing = sorted({names.presales, names.aftersales} - set(figures.chat.human_sessions_per_agent_day))
    if missing:
        problems.append(Problem(display_path(files["figures"]), "chat.human_sessions_per_agent_day",
                                f"has no load for {', '.join(missing)}",
                                f"give one number per team: {names.presales} and {names.aftersales} (team.names)"))
    if len(figures.orders.hourly_weights) != 24:
        problems.append(Problem(display_path(files["figures"]), "orders.hourly_weights",
                                f"has {len(figures.orders.hourly_weights)} hours", "give 24 weights, one per hour from 00:00"))
    if len(figures.chat.hourly_weights) != 24:
        problems.append(Problem(display_path(files["figures"]), "chat.hourly_weights",
                                f"has {len(figures.chat.hourly_weights)} hours", "give 24 weights, one per hour from 00:00"))
    if problems:
        raise ShifuError(problems)
    return Spec(figures, shop, complaints, nps)
