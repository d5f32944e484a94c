"""Lenient answer checks: equivalent answers pass, wrong ones fail, and stderr stays empty."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from shifu import labcheck

EXPECTED = pd.DataFrame({"agent_id": ["A01", "A02", "A03"], "median_s": [18.0, 20.5, 41.0], "rate_30s": [0.8, 0.75, 0.3]})


@pytest.fixture(autouse=True)
def no_stderr(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a helper that triggers any warning fails the test
        yield
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("answer", [
    EXPECTED.set_index("agent_id"),                                   # key as index
    EXPECTED.set_index("agent_id").rename_axis(None),                 # unnamed index
    EXPECTED[["rate_30s", "agent_id", "median_s"]],                   # other column order
    EXPECTED.iloc[::-1],                                              # other row order, leftover row numbers
    EXPECTED.assign(median_s=lambda d: d["median_s"] + 1e-9, extra=1),  # float noise, extra column
    EXPECTED.assign(median_s=[18, 20.5, 41]).astype({"rate_30s": "float32"}),
])
def test_same_frame_accepts_equivalent_answers(answer):
    assert labcheck.same_frame(answer, EXPECTED, keys=["agent_id"])


@pytest.mark.parametrize("answer", [
    EXPECTED.assign(rate_30s=[0.8, 0.75, 0.31]),
    EXPECTED.drop(columns="rate_30s"),
    EXPECTED.iloc[:2],
    EXPECTED.assign(agent_id=["A01", "A02", "A04"]),
    None, "A01", [1, 2, 3],
])
def test_same_frame_rejects_wrong_answers_with_a_hint(answer, capsys):
    assert not labcheck.same_frame(answer, EXPECTED, keys=["agent_id"])
    assert capsys.readouterr().out.startswith("提示:")


def test_same_frame_matches_dates_as_timestamps_periods_or_text():
    expected = pd.DataFrame({"month": ["2025-01", "2025-02"], "rate": [0.8, 0.7]})
    as_period = pd.DataFrame({"rate": [0.8, 0.7]}, index=pd.PeriodIndex(["2025-01", "2025-02"], freq="M", name="month"))
    as_stamp = as_period.to_timestamp()
    assert labcheck.same_frame(as_period, expected, keys=["month"])
    assert labcheck.same_frame(as_stamp, expected, keys=["month"])
    weeks = pd.DataFrame({"week": pd.to_datetime(["2025-09-01", "2025-09-08"]), "物流配送": [96, 79]})
    as_week_period = weeks.set_index(weeks["week"].dt.to_period("W")).drop(columns="week")
    assert labcheck.same_frame(as_week_period, weeks, keys=["week"])


def test_same_mapping_takes_series_dict_or_two_column_frame():
    expected = pd.Series({"天猫旗舰店": 33.2, "抖音直播间": -27.0})
    assert labcheck.same_mapping({"抖音直播间": -27.0, "天猫旗舰店": 33.2}, expected)
    assert labcheck.same_mapping(expected.rename_axis("channel").reset_index(name="nps"), expected)
    assert not labcheck.same_mapping(expected * 1.1, expected)
    assert not labcheck.same_mapping([33.2, -27.0], expected)


def test_same_number_tolerates_numpy_types_and_optional_percent():
    assert labcheck.same_number(np.float64(0.2061), 0.2061)
    assert labcheck.same_number(pd.Series([12]), 12)
    assert labcheck.same_number(20.61, 0.2061, percent_ok=True)
    assert not labcheck.same_number(20.61, 0.2061)
    assert not labcheck.same_number("20", 20)
    assert not labcheck.same_number(None, 20)


def test_same_set_ignores_order_unless_asked():
    assert labcheck.same_set(pd.Index(["b", "a"]), ["a", "b"])
    assert labcheck.same_set(np.array(["a", "b"]), ["a", "b"], ordered=True)
    assert not labcheck.same_set(["b", "a"], ["a", "b"], ordered=True)
    assert not labcheck.same_set(["a", "a"], ["a", "b"])
    assert not labcheck.same_set("ab", ["a", "b"])


def test_quiet_hides_warnings_but_not_wrong_answers():
    with labcheck.quiet():
        warnings.warn("deprecated idiom", FutureWarning)
        np.array([1.0]) / 0
    with pytest.raises(AssertionError), labcheck.quiet():
        assert labcheck.same_number(1, 2, explain=False)
