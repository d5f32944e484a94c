"""Lenient answer checks: equivalent answers pass, wrong ones fail, and stderr stays empty."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from shifu.labs import labcheck

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


# ---------------------------------------------------------------- issue 17: compare like an analyst

@pytest.mark.parametrize("answer, expected, kind", [
    (0.31, 0.3108, "rate"), (0.311, 0.3108, "rate"), (0.0088, 0.00885, "rare_rate"), (0.0089, 0.00885, "rare_rate"),
    (0.809, 0.80873, "rate"), (61413, 61412.79, "money"), (20.6, 20.611, "points"), (12, 12, "count"), (12.0, 12, "count"),
])
def test_a_figure_rounded_as_a_report_shows_it_is_right(answer, expected, kind):
    assert labcheck.same_number(answer, expected, kind=kind)


@pytest.mark.parametrize("answer, expected, kind, hint", [
    (0.3, 0.3108, "rate", "四舍五入得太粗"),     # one decimal where a report shows two
    (0.32, 0.3108, "rate", "数值不对"),
    (0.31, 0.3108, "rare_rate", "四舍五入得太粗"),
    (0.01, 0.00885, "rare_rate", "四舍五入得太粗"),
    (61412, 61412.79, "money", "数值不对"),        # truncated, not rounded
    (0.206, 20.611, "points", "数量级不对"),        # NPS as a fraction
    (31.08, 0.3108, "rate", "数量级不对"),          # a percentage where a fraction was asked
    (12.4, 12, "count", "数值不对"),
    (0.310812, 0.3108, "rate", "数值不对"),        # unrounded and wrong
])
def test_a_wrong_figure_is_wrong_and_the_hint_names_the_kind_of_difference(answer, expected, kind, hint, capsys):
    assert not labcheck.same_number(answer, expected, kind=kind)
    out = capsys.readouterr().out
    assert hint in out
    assert not re.search(rf"(?<![\d.]){re.escape(str(expected))}(?![\d.])", out)  # never the expected value


def test_percent_ok_takes_a_percentage_rounded_to_whole_points():
    assert labcheck.same_number(81, 0.80873, kind="rate", percent_ok=True)
    assert labcheck.same_number(80.9, 0.80873, kind="rate", percent_ok=True)
    assert not labcheck.same_number(79, 0.80873, kind="rate", percent_ok=True)


def test_a_key_both_in_the_index_and_a_column_is_one_key():
    both = EXPECTED.set_index("agent_id", drop=False)
    assert labcheck.same_frame(both, EXPECTED, keys=["agent_id"])
    years = pd.DataFrame({"year": [2023, 2024, 2025], "questions": [1, 2, 3]})
    assert labcheck.same_frame(years.set_index("year", drop=False), years, keys=["year"])  # a RangeIndex of years is a key
    assert labcheck.same_mapping(pd.DataFrame({"c": ["a", "b"], "n": [1, 2]}).set_index("c", drop=False), {"a": 1, "b": 2})


def test_summary_rows_and_columns_are_ignored():
    total_row = pd.concat([EXPECTED.set_index("agent_id"), EXPECTED.set_index("agent_id").sum().to_frame("合计").T])
    assert labcheck.same_frame(total_row, EXPECTED, keys=["agent_id"])
    assert labcheck.same_frame(EXPECTED.assign(合计=1), EXPECTED, keys=["agent_id"])
    assert labcheck.same_mapping(pd.Series({"a": 1, "b": 2, "总计": 3}), {"a": 1, "b": 2})
    assert list(labcheck.drop_totals(EXPECTED.set_index("agent_id").assign(All=0)).columns) == ["median_s", "rate_30s"]


def test_frame_columns_take_report_rounding_per_kind_and_reject_a_wrong_scale(capsys):
    rounded = EXPECTED.assign(rate_30s=[0.8, 0.75, 0.30], median_s=[18.0, 20.5, 41.0])
    expected = EXPECTED.assign(rate_30s=[0.8012, 0.7498, 0.3033])
    assert labcheck.same_frame(rounded, expected, keys=["agent_id"], kinds={"rate_30s": "rate"})
    assert not labcheck.same_frame(rounded, expected, keys=["agent_id"])  # without a kind only float noise passes
    capsys.readouterr()
    assert not labcheck.same_frame(expected.assign(rate_30s=expected["rate_30s"] * 100), expected, keys=["agent_id"],
                                   kinds={"rate_30s": "rate"})
    assert "rate_30s" in capsys.readouterr().out


def test_wrong_rows_are_reported_from_the_answer_side_only(capsys):
    assert not labcheck.same_frame(EXPECTED.assign(agent_id=["A01", "A02", "A09"]), EXPECTED, keys=["agent_id"])
    out = capsys.readouterr().out
    assert "A09" in out and "A03" not in out


def test_parts_give_partial_credit_and_name_every_failure(capsys):
    parts = labcheck.Parts(points=3)
    parts.check("a", lambda: True)
    parts.grading()
    parts.check("a", lambda: labcheck.same_number(1, 1))
    parts.check("b", lambda: labcheck.same_number(2, 1))
    parts.check("c", lambda: undefined_name)  # noqa: F821 - a variable the trainee never defined
    parts.check("d", lambda: 1 / 0)
    assert parts.score() == 0.75
    out = capsys.readouterr().out
    assert "✔ a" in out and "✘ b" in out and "✘ c" in out and "undefined_name" in out and "✘ d" in out
    assert "Traceback" not in out and "本题得分 0.75 / 3" in out


def test_parts_before_grading_say_they_are_only_a_format_check(capsys):
    parts = labcheck.Parts(points=2)
    parts.check("a", lambda: True)
    parts.score()
    assert "格式检查" in capsys.readouterr().out


def test_parts_follow_through_credits_the_trainees_own_earlier_result(capsys):
    parts = labcheck.Parts(points=1)
    parts.grading()
    parts.check("plan", lambda: labcheck.same_number(13, 12), own=lambda: labcheck.same_number(13, 13, explain=False))
    assert parts.score() == 1
    assert "前面的结果" in capsys.readouterr().out


def test_every_message_key_used_in_code_is_in_the_yaml():
    import inspect
    import re
    used = set(re.findall(r'_msg\("([a-z_]+)"', inspect.getsource(labcheck)))
    assert used <= set(labcheck.config()["messages"]), used - set(labcheck.config()["messages"])
