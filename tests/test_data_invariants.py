"""Cross-table invariants: every data set under data/ describes one brand's service team (issue 17).

Each test compares two or more tables the way a Tmall team lead would sanity-check a report:
volumes that must nest (converted inquiries ≤ orders, complaints about unopened returns ≤ parcels
received), proportions that must be plausible (returns and refunds without return against orders),
and workload and ratings a real team would recognise. The bounds and their sources are listed in
data/README.md ("How the tables fit together"); seed 002 is /work/shared/seeds/002_*.txt.

`orders.csv` holds every order of a random sample of the brand's customers (`orders.customer_sample_rate`
in figures.yaml); tables that count the whole brand's traffic are compared with orders ÷ that rate.
"""
from __future__ import annotations

import pandas as pd
import pytest

from shifu.labs.datagen import DEFAULT_SEED, build, pain_point_keywords
from shifu.labs.datagen.spec import load_spec

BRAND_STORES = {"天猫旗舰店", "京东旗舰店", "抖音直播间", "拼多多"}  # seed 002: the Tmall flagship plus the brand's other platforms
SEED002_PEAK_DAY = 17_800        # seed 002: "接待量,高的时候是1.78万" (conversations on the peak day)
SEED002_FRONT_LINE = 55          # seed 002: about 40 on the Tmall flagship + 15 on the other platforms
PEAK_PER_AGENT = SEED002_PEAK_DAY / SEED002_FRONT_LINE   # ≈ 324 conversations per agent on a peak day


@pytest.fixture(scope="module", params=[DEFAULT_SEED, 7], ids=["seed1111", "seed7"])
def data(request) -> dict[str, pd.DataFrame]:
    frames = build(request.param)
    for name, cols in {"chat_sessions": ["started_at"], "orders": ["ordered_at"], "complaints": ["created_at"],
                       "returns": ["received_at", "unpacked_at", "refunded_at"], "asset_loss": ["refunded_at"],
                       "nps_survey": ["submitted_at"], "double11_hourly": ["hour_start"]}.items():
        frames[name] = frames[name].assign(**{c: pd.to_datetime(frames[name][c]) for c in cols})
    return frames


def _rate() -> float:
    """Share of the brand's customers whose orders orders.csv holds (1.0: the full order log)."""
    return float(getattr(load_spec().figures.orders, "customer_sample_rate", 1.0))


def _brand_orders(orders: pd.DataFrame, start: str | pd.Timestamp, end: str | pd.Timestamp) -> float:
    """Estimated orders of the whole brand in [start, end): sampled orders ÷ the sample rate."""
    t = orders["ordered_at"]
    return ((t >= pd.Timestamp(start)) & (t < pd.Timestamp(end))).sum() / _rate()


def _monday(t: pd.Series) -> pd.Series:
    return t.dt.normalize() - pd.to_timedelta(t.dt.day_of_week, unit="D")


def _chat_window(chat: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = chat["started_at"].min().normalize()
    return start, chat["started_at"].max().normalize() + pd.Timedelta(days=1)


# ---------------------------------------------------------------- one brand, one team

def test_every_table_is_the_brands_own_stores(data):
    for name in ("orders", "complaints", "nps_survey"):
        channels = set(data[name]["channel"])
        assert channels <= BRAND_STORES, (name, channels - BRAND_STORES)  # no 京东自营: JD's own retail is JD's team
        assert data[name]["channel"].value_counts().idxmax() == "天猫旗舰店", name  # the Tmall flagship is the main store


def test_the_same_agents_appear_everywhere(data):
    agents = set(data["agents"]["agent_id"])
    human = data["chat_sessions"].query("served_by == 'human'")
    assert set(human["agent_id"]) == agents
    assert set(data["agent_kpi_monthly"]["agent_id"]) == agents


def test_returns_and_refunds_point_at_real_orders(data):
    orders = data["orders"].set_index("order_id")
    sampled = set(orders["customer_id"])
    for name, amount in (("returns", "refund_yuan"), ("asset_loss", "amount_yuan")):
        t = data[name]
        assert t["order_id"].is_unique, name
        mine = t[t["customer_id"].isin(sampled)]   # a sampled customer's refund is on one of her sampled orders
        assert len(mine) > 0, name
        assert mine["order_id"].isin(orders.index).all(), name
        o = orders.loc[mine["order_id"]]
        assert (o["customer_id"].to_numpy() == mine["customer_id"].to_numpy()).all(), name
        assert (mine[amount].to_numpy() <= o["amount_yuan"].to_numpy() + 0.005).all(), name
        when = "received_at" if name == "returns" else "refunded_at"
        assert (mine[when].to_numpy() > o["ordered_at"].to_numpy()).all(), name
    r = data["returns"][data["returns"]["customer_id"].isin(sampled)]
    assert (r["product"].to_numpy() == orders.loc[r["order_id"], "product"].to_numpy()).all()


# ---------------------------------------------------------------- inquiries and orders

def test_converted_inquiries_in_the_chat_week_are_a_plausible_share_of_that_weeks_orders(data):
    chat = data["chat_sessions"]
    start, end = _chat_window(chat)
    converted = int(chat["converted"].sum())
    orders = _brand_orders(data["orders"], start, end)
    assert converted <= orders, f"{converted} converted inquiries against {orders:.0f} orders that week"
    # 询单转化 orders are some, not all, of a Tmall store's orders: many buyers order without asking
    assert 0.2 <= converted / orders <= 0.6, converted / orders


def test_night_conversions_fit_inside_the_nights_orders(data):
    chat = data["chat_sessions"]
    start, end = _chat_window(chat)
    minute = lambda t: t.dt.hour * 60 + t.dt.minute  # noqa: E731
    night_conv = int(chat.loc[minute(chat["started_at"]) < 510, "converted"].sum())
    o = data["orders"]
    in_week = o[(o["ordered_at"] >= start) & (o["ordered_at"] < end)]
    night_orders = (minute(in_week["ordered_at"]) < 510).sum() / _rate()
    assert night_conv <= night_orders, (night_conv, night_orders)


def test_a_year_of_kpi_conversions_stays_below_the_orders_month_by_month(data):
    kpi, orders = data["agent_kpi_monthly"], data["orders"]
    share = load_spec().figures.chat.daytime_inquiry_share
    pre = kpi[kpi["team"] == "售前"]
    converted = (pre["sessions"] * share * pre["inquiry_conversion"]).groupby(pre["month"]).sum()
    month = orders["ordered_at"].dt.strftime("%Y-%m")
    brand = orders.groupby(month).size() / _rate()
    ratio = converted / brand.reindex(converted.index)
    assert (ratio <= 0.6).all() and (ratio >= 0.15).all(), ratio.round(3).to_dict()
    sessions = kpi.groupby("month")["sessions"].sum()
    assert sessions.idxmax() == brand.idxmax()  # the busiest month for orders is the busiest for the team


def test_kpi_september_matches_the_september_chat_week(data):
    kpi, chat = data["agent_kpi_monthly"], data["chat_sessions"]
    sep = kpi[kpi["month"] == chat["started_at"].min().strftime("%Y-%m")].set_index("agent_id")
    human = chat[chat["served_by"] == "human"]
    days = chat["started_at"].dt.normalize().nunique()
    week = human.groupby("agent_id").size()
    per_month = week / days * 30
    assert ((sep["sessions"] / per_month).between(0.75, 1.25)).all(), (sep["sessions"] / per_month).round(2).to_dict()
    rated = human[human["review"] != ""]
    good = rated["review"].eq("好评").groupby(rated["agent_id"])
    positive, n = good.mean(), good.size()
    # one definition of 好评率 in both tables: the month agrees with the week within the week's sampling error
    gap = (sep["positive_review_rate"] - positive).abs()
    allowed = 3 * (positive * (1 - positive) / n) ** 0.5 + 0.01
    assert (gap <= allowed).all(), pd.DataFrame({"gap": gap, "allowed": allowed}).round(3).to_dict()
    assert abs(sep["positive_review_rate"].mean() - positive.mean()) <= 0.01


# ---------------------------------------------------------------- workload, bots, ratings

def test_human_workload_matches_seed_002(data):
    chat = data["chat_sessions"]
    human = chat[chat["served_by"] == "human"]
    per_day = human.groupby([human["agent_id"], human["started_at"].dt.normalize()]).size()
    # an ordinary September day: between a fifth and a half of seed 002's peak-day load per agent
    assert PEAK_PER_AGENT / 5 <= per_day.mean() <= PEAK_PER_AGENT / 2, per_day.mean()
    assert per_day.max() <= PEAK_PER_AGENT


def test_bot_covers_about_a_third_of_conversations(data):
    chat = data["chat_sessions"]
    share = (chat["served_by"] == "bot").mean()
    assert 0.30 <= share <= 0.40, share  # seed 002: 乐言独立对话覆盖率35%


def test_ratings_are_realistic_against_the_98_percent_target(data):
    chat = data["chat_sessions"]
    human = chat[(chat["served_by"] == "human") & (chat["review"] != "")]
    assert 0.92 <= human["review"].eq("好评").mean() < 0.98  # near, and on average just under, the KPI target
    bot = chat[(chat["served_by"] == "bot") & (chat["review"] != "")]
    assert bot["review"].eq("差评").mean() > 0.02


# ---------------------------------------------------------------- returns, refunds without return, complaints

def test_returns_are_a_plausible_share_of_orders_each_month(data):
    r, orders = data["returns"], data["orders"]
    month = r["received_at"].dt.to_period("M")
    full_months = month.value_counts()
    full_months = full_months[full_months.index.isin(month.unique()[1:-1])] if len(full_months) > 2 else full_months
    for m, n in full_months.items():
        # parcels received this month come from orders of this month and the last few days before it
        brand = _brand_orders(orders, m.start_time - pd.Timedelta(days=8), m.end_time - pd.Timedelta(days=8))
        assert 0.02 <= n / brand <= 0.08, (str(m), n, round(brand))


def test_refunds_without_return_are_far_fewer_than_returns(data):
    r, loss, orders = data["returns"], data["asset_loss"], data["orders"]
    year = orders["ordered_at"].dt.year.iloc[0]
    brand_year = _brand_orders(orders, f"{year}-01-01", f"{year + 1}-01-01")
    assert len(loss) / brand_year <= 0.01, len(loss) / brand_year   # 资损 cases: well under 1% of orders
    lm = loss["refunded_at"].dt.to_period("M").value_counts()
    rm = r["received_at"].dt.to_period("M").value_counts()
    both = rm.index.intersection(lm.index)
    assert len(both) >= 2
    assert (lm[both] <= 0.25 * rm[both]).all(), pd.DataFrame({"loss": lm[both], "returns": rm[both]}).to_dict()


def _unpacking_complaints(data) -> pd.Series:
    c = data["complaints"]
    words = pain_point_keywords()["退款退货"]["退货未拆包"]
    hit = (c["category"] == "退款退货") & c["text"].str.contains("|".join(words))
    return c[hit].groupby(_monday(c.loc[hit, "created_at"])).size()


def test_complaints_about_unopened_returns_rest_on_parcels_received(data):
    r = data["returns"]
    days = (r["unpacked_at"].dt.normalize() - r["received_at"].dt.normalize()).dt.days
    late = days > r["peak"].map({0: 1, 1: 3})
    week = _monday(r["received_at"])
    received = week.value_counts()
    late_by_week = late.groupby(week).sum()
    complaints = _unpacking_complaints(data)
    for w, n in complaints.items():
        parcels = received.get(w, 0)
        assert n <= 0.25 * parcels, f"week {w:%m-%d}: {n} complaints about unopened returns, {parcels} parcels received"
    worst = complaints.idxmax()
    waiting = late_by_week.get(worst, 0) + late_by_week.get(worst - pd.Timedelta(days=7), 0)
    assert complaints[worst] <= waiting, (complaints[worst], waiting)  # the surge rests on parcels left unopened


def test_complaint_volume_fits_the_orders_and_the_chat_week(data):
    c, chat, orders = data["complaints"], data["chat_sessions"], data["orders"]
    weeks = c.groupby(_monday(c["created_at"])).size()
    for w, n in weeks.items():
        share = n / _brand_orders(orders, w, w + pd.Timedelta(days=7))
        assert 0.005 <= share <= 0.05, (f"{w:%m-%d}", n, round(share, 4))
    start, end = _chat_window(chat)
    in_chat_week = ((c["created_at"] >= start) & (c["created_at"] < end)).sum()
    assert in_chat_week >= chat["complaint"].sum()  # every bad-review complaint from chat is among the week's complaints


def test_nps_answers_are_a_small_share_of_orders(data):
    n, orders = data["nps_survey"], data["orders"]
    start, end = n["submitted_at"].min().normalize(), n["submitted_at"].max().normalize() + pd.Timedelta(days=1)
    share = len(n) / _brand_orders(orders, start, end)
    assert 0.005 <= share <= 0.10, share


# ---------------------------------------------------------------- Double 11

def test_double11_volume_matches_the_orders_and_the_team(data):
    d11, chat, orders = data["double11_hourly"], data["chat_sessions"], data["orders"]
    fig = load_spec().figures
    year = fig.shop.year
    day = d11[(d11["hour_start"].dt.year == year) & (d11["hour_start"].dt.strftime("%m-%d") == "11-11")]
    per_session = getattr(fig.double11, "questions_per_session", None) or 7.5
    implied = day["questions"].sum() / per_session
    start, end = _chat_window(chat)
    ordinary_sessions = len(chat) / (end - start).days
    ordinary_orders = _brand_orders(orders, start, end) / (end - start).days
    d11_orders = _brand_orders(orders, f"{year}-11-11", f"{year}-11-12")
    expected = ordinary_sessions * d11_orders / ordinary_orders
    assert 0.5 <= implied / expected <= 2, (round(implied), round(expected))
    # the core shift at the busiest hour (60% automation, 360 questions an agent-hour; seed 004)
    core = d11["questions"][d11["hour_start"].dt.year == year].max() * 0.4 / 360
    team = len(data["agents"])
    assert 0.5 * team <= core <= 2 * team, (core, team)


# ---------------------------------------------------------------- what the labs tell trainees about the data

def test_lab5_tells_trainees_that_orders_are_a_sample_at_the_configured_rate():
    import json

    from shifu.content import paths

    nb = json.loads((paths.course_dir() / "source" / "lab5_retention" / "lab5_retention.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "抽样" in text and f"**{_rate():.0%}**" in text and f"{1 / _rate():.0f} 倍" in text
