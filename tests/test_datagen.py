"""The synthetic lab data: reproducible from its seed, and its figures match the domain's."""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shifu.content import paths
from shifu.labs.datagen import DATASETS, DEFAULT_SEED, build, generate, lab_data, pain_point_keywords
from shifu.labs.datagen.spec import load_spec
from shifu.content.errors import ShifuError

SHIFU = str(Path(sys.executable).parent / "shifu")


@pytest.fixture(scope="module")
def default_files(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data_default")
    generate(DEFAULT_SEED, out)
    return out


@pytest.fixture(scope="module", params=[DEFAULT_SEED, 7], ids=["seed1111", "seed7"])
def data(request) -> dict[str, pd.DataFrame]:
    return build(request.param)


def test_same_seed_gives_byte_identical_files(default_files, tmp_path):
    generate(DEFAULT_SEED, tmp_path)
    for name in DATASETS:
        assert (tmp_path / f"{name}.csv").read_bytes() == (default_files / f"{name}.csv").read_bytes(), name


def test_different_seed_gives_different_files(default_files, tmp_path):
    generate(DEFAULT_SEED + 1, tmp_path)
    differing = [n for n in DATASETS if (tmp_path / f"{n}.csv").read_bytes() != (default_files / f"{n}.csv").read_bytes()]
    assert len(differing) == len(DATASETS)


def test_committed_data_is_what_the_generator_writes(default_files):
    """data/*.csv must be regenerated (`shifu data generate`) whenever data/generator/*.yaml changes."""
    committed = paths.data_dir()
    _, mismatch, errors = filecmp.cmpfiles(committed, default_files, [f"{n}.csv" for n in DATASETS], shallow=False)
    assert not mismatch and not errors, f"stale or missing in data/: {mismatch + errors}"


def test_committed_data_stays_small():
    total = sum((paths.data_dir() / f"{n}.csv").stat().st_size for n in DATASETS)
    assert total < 4 * 1024 * 1024


def _human(data):
    chat = data["chat_sessions"]
    return chat[chat["served_by"] == "human"].assign(frt=lambda d: d["first_response_s"].astype(float))


def test_first_response_median_is_near_the_19_second_benchmark_with_a_long_tail(data):
    frt = _human(data)["frt"]
    assert 17.5 <= frt.median() <= 20.5
    assert frt.quantile(0.9) > 2 * frt.median()  # long right tail
    assert frt.mean() > frt.median()


def test_a_few_agents_are_clearly_slower(data):
    medians = _human(data).groupby("agent_id")["frt"].median()
    slow = medians[medians > 1.6 * medians.median()]
    assert 2 <= len(slow) <= 4


def test_night_shift_is_bot_only_and_converts_about_38_percent(data):
    chat = data["chat_sessions"]
    t = pd.to_datetime(chat["started_at"])
    night = chat[t.dt.hour * 60 + t.dt.minute < 8 * 60 + 30]
    assert set(night["served_by"]) == {"bot"}
    rate = night.loc[night["inquiry"] == 1, "converted"].mean()
    assert abs(rate - 0.38) < 0.04
    assert set(chat.loc[chat["served_by"] == "human", "bot_handoff"]) == {0, 1}


def test_kpi_inputs_cover_every_agent_and_month(data):
    kpi, agents = data["agent_kpi_monthly"], data["agents"]
    assert len(kpi) == 12 * len(agents)
    for col in ("response_30s_rate", "inquiry_conversion", "positive_review_rate", "complaint_rate"):
        assert kpi[col].between(0, 1).all(), col
    assert kpi["qc_score"].between(0, 100).all()
    nov = kpi[kpi["month"].str.endswith("-11")]["avg_first_response_s"].mean()
    assert nov > kpi[kpi["month"].str.endswith("-10")]["avg_first_response_s"].mean()  # Double 11 strain


def test_warehouse_unpacks_next_day_normally_and_within_three_days_at_peak(data):
    r = data["returns"]
    days = (pd.to_datetime(r["unpacked_at"]).dt.normalize() - pd.to_datetime(r["received_at"]).dt.normalize()).dt.days
    assert (days[r["peak"] == 0] <= 1).mean() >= 0.9
    assert (days[r["peak"] == 1] <= 3).mean() >= 0.85
    assert days[r["peak"] == 1].mean() > days[r["peak"] == 0].mean()
    wait = (pd.to_datetime(r["refunded_at"]) - pd.to_datetime(r["unpacked_at"])).dt.total_seconds()
    assert (wait[r["sku_match"] == 1] <= 1800).all()  # automatic refund once the SKU matches
    assert (wait[r["sku_match"] == 0] >= 86400).all()


def test_the_backlog_week_misses_the_unpacking_rule(data):
    r = data["returns"]
    received = pd.to_datetime(r["received_at"])
    days = (pd.to_datetime(r["unpacked_at"]).dt.normalize() - received.dt.normalize()).dt.days
    on_time = days <= r["peak"].map({0: 1, 1: 3})
    fig = load_spec().figures.returns
    backlog = received.dt.normalize().between(pd.Timestamp(fig.backlog_start), pd.Timestamp(fig.backlog_end))
    assert on_time[backlog].mean() < 0.7 < 0.9 < on_time[~backlog].mean()


def test_asset_loss_recovery_is_about_80_percent_and_yearly_loss_under_100k(data):
    loss = data["asset_loss"]
    rate = loss["recovered_yuan"].sum() / loss["amount_yuan"].sum()
    assert abs(rate - 0.80) < 0.03
    assert loss["amount_yuan"].sum() - loss["recovered_yuan"].sum() < 100_000
    assert (loss.loc[loss["recovered"] == 0, "recovered_yuan"] == 0).all()
    sampled = loss["customer_id"].isin(data["orders"]["customer_id"])  # orders.csv holds a sample of the customers
    assert sampled.any() and loss.loc[sampled, "order_id"].isin(data["orders"]["order_id"]).all()


def test_milk_powder_monthly_buyers_can_be_found(data):
    milk = data["orders"][data["orders"]["category"] == "奶粉"].copy()
    milk["day"] = pd.to_datetime(milk["ordered_at"]).dt.normalize()
    gaps = milk.sort_values("day").groupby("customer_id")["day"].agg(
        n="size", gap=lambda d: d.diff().dt.days.median())
    monthly = gaps[(gaps["n"] >= 3) & gaps["gap"].between(20, 40)]
    assert abs(len(monthly) - 220) <= 30


def test_double11_grows_each_year_and_peaks_late_evening_to_1am(data):
    d11 = data["double11_hourly"]
    peaks = d11.groupby("year")["questions"].max()
    assert list(peaks.index) == [2023, 2024, 2025]
    assert peaks.is_monotonic_increasing
    top = d11.loc[d11.groupby("year")["questions"].idxmax(), "hour_start"]
    hours = pd.to_datetime(top).dt.hour
    assert hours.isin([20, 21, 22, 23, 0]).all()
    assert (d11.groupby("year").size() == 72).all()


def test_complaints_are_varied_chinese_text_with_a_rising_category(data):
    c = data["complaints"]
    assert c["text"].nunique() / len(c) > 0.6
    assert c["text"].str.contains(r"[\u4e00-\u9fff]").all()
    week = pd.to_datetime(c["created_at"]).dt.to_period("W")
    counts = pd.crosstab(week, c["category"])
    change = counts.iloc[-1] - counts.iloc[-2]
    assert change.idxmax() == load_spec().figures.complaints.rising_category
    keywords = pain_point_keywords()
    hit = c.apply(lambda r: any(w in r["text"] for ws in keywords[r["category"]].values() for w in ws), axis=1)
    assert hit.all()  # every complaint mentions at least one pain-point keyword of its category


def test_nps_scores_and_detractor_drivers(data):
    n = data["nps_survey"]
    assert n["score"].between(0, 10).all()
    nps = 100 * ((n["score"] >= 9).mean() - (n["score"] <= 6).mean())
    assert 0 < nps < 50
    by_channel = n.groupby("channel")["score"].agg(lambda s: (s >= 9).mean() - (s <= 6).mean())
    assert by_channel.idxmin() == "抖音直播间"
    det = n[n["score"] <= 6]["reason"].value_counts(normalize=True)
    assert det.index[0] in {"物流速度", "售后退款"}


def test_lab_data_parses_timestamps_and_keeps_blanks():
    chat = lab_data("chat_sessions")
    assert pd.api.types.is_datetime64_any_dtype(chat["started_at"])
    assert chat.loc[chat["served_by"] == "bot", "first_response_s"].isna().all()
    assert set(chat["review"]) == {"", "好评", "中评", "差评"}
    loss = lab_data("asset_loss")
    assert loss.loc[loss["recovered"] == 0, "recovered_at"].isna().all()


def test_lab_data_names_the_missing_file_and_the_fix(tmp_path):
    with pytest.raises(ShifuError) as err:
        lab_data("orders", folder=tmp_path)
    assert "orders.csv" in str(err.value) and "shifu data generate" in str(err.value)
    with pytest.raises(ShifuError, match="no data set called"):
        lab_data("order")


def test_a_bad_template_is_reported_with_file_line_and_fix(tmp_path):
    folder = tmp_path / "generator"
    shutil.copytree(paths.data_dir() / "generator", folder)
    text = (folder / "complaints.yaml").read_text(encoding="utf-8")
    (folder / "complaints.yaml").write_text(text.replace("{courier}的物流信息", "{kuaidi}的物流信息"), encoding="utf-8")
    with pytest.raises(ShifuError) as err:
        load_spec(folder)
    message = str(err.value)
    assert "complaints.yaml:" in message and "unknown slot {kuaidi}" in message and "fix:" in message


def test_cli_generates_into_a_folder(tmp_path):
    from typer.testing import CliRunner

    from shifu.commands.data import app  # `shifu data` itself is exercised by the subprocess test below

    result = CliRunner().invoke(app, ["generate", "--seed", "3", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "9 data sets" in result.output and "seed 3" in result.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(f"{n}.csv" for n in DATASETS)


def test_cli_reports_a_broken_setup_as_an_error_line_not_a_traceback(tmp_path):
    env = dict(os.environ, SHIFU_HOME=str(tmp_path / "empty"))  # no data/generator/ there
    bad = subprocess.run([SHIFU, "data", "generate", "--out", str(tmp_path / "e")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and "figures.yaml" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------- one brand's team (issue 17)

def test_channels_are_the_brands_own_stores(data):
    for name in ("orders", "nps_survey", "complaints"):
        channels = set(data[name]["channel"])
        assert "京东自营" not in channels, name  # JD's own retail is not the brand's team's to serve
        assert {"天猫旗舰店", "京东旗舰店"} <= channels, name


def test_ratings_are_realistic_for_people_and_bots(data):
    chat = data["chat_sessions"]
    human = chat[(chat["served_by"] == "human") & (chat["review"] != "")]
    positive = human["review"].eq("好评")
    assert 0.92 <= positive.mean() <= 0.98  # near the 98% target, not 88%
    per_agent = positive.groupby(human["agent_id"]).mean()
    assert per_agent.min() >= 0.85 and per_agent.max() <= 1.0
    assert (per_agent >= 0.98).any() or per_agent.max() >= 0.97  # good agents reach the target
    bot = chat[(chat["served_by"] == "bot") & (chat["review"] != "")]
    assert bot["review"].eq("差评").mean() > 0.02  # bots earn bad reviews too
    assert set(bot["review"]) == {"好评", "中评", "差评"}


def test_complaints_end_in_a_bad_review(data):
    chat = data["chat_sessions"]
    assert chat.loc[chat["complaint"] == 1, "review"].eq("差评").all()
