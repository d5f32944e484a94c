"""One clock: the course's time zone, and submission timestamps in every form nbgrader's exchange writes."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from shifu.content import clock
from shifu.content.errors import ShifuError

SH = ZoneInfo("Asia/Shanghai")
UTC_1530 = datetime(2026, 11, 30, 15, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", [
    "2026-11-30 23:30:00.000000 +0800",      # nbgrader's format with %z
    "2026-11-30 23:30:00.000000 CST",        # nbgrader's format with %Z and Exchange.timezone = Asia/Shanghai
    "2026-11-30 23:30:00 +08:00",
    "2026-11-30T23:30:00+08:00",
    "2026-11-30 23:30:00.000000 Asia/Shanghai",
    "2026-11-30 23:30",                      # no zone: the course's local time
    "2026-11-30 15:30:00.000000 UTC",
    "2026-11-30T15:30:00Z",
    "2026-11-30 10:30:00 -0500",
    "  2026-11-30 23:30:00+08\n",
])
def test_every_form_is_the_same_instant(text):
    assert clock.parse_timestamp(text, SH) == UTC_1530
    assert clock.utc_naive(text, SH) == datetime(2026, 11, 30, 15, 30)


def test_cst_is_the_course_zones_abbreviation_not_us_central():
    # in a course in Chicago, CST is US Central: 23:30 CST = 05:30 UTC next day
    assert clock.parse_timestamp("2026-11-30 23:30:00 CST", ZoneInfo("America/Chicago")) == datetime(2026, 12, 1, 5, 30, tzinfo=timezone.utc)
    with pytest.raises(ShifuError, match=r"the zone 'PST'.*Asia/Shanghai: CST"):
        clock.parse_timestamp("2026-11-30 23:30:00 PST", SH)


@pytest.mark.parametrize("text", ["2026年11月30日 23:30", "yesterday", "", "2026-02-30 10:00:00 +0800", "2026-11-30 23:30 +2500"])
def test_unreadable_timestamp_gives_reason_and_fix(text):
    with pytest.raises(ShifuError) as exc:
        clock.parse_timestamp(text, SH, source="submitted/ana/m01/timestamp.txt")
    msg = str(exc.value)
    assert "submitted/ana/m01/timestamp.txt: timestamp:" in msg and "fix: write the submission time as 2026-11-30 23:30:00.000000 +0800" in msg


def test_timestamp_file_is_rewritten_in_a_form_nbgrader_reads_right(tmp_path):
    from nbgrader.utils import parse_utc

    sub = tmp_path / "submitted" / "ana" / "m01"
    sub.mkdir(parents=True)
    f = sub / "timestamp.txt"
    for text in ("2026-11-30 23:30:00.000000 +0800", "2026-11-30 23:30:00.000000 CST"):
        f.write_text(text, encoding="utf-8")
        assert parse_utc(text) != datetime(2026, 11, 30, 15, 30)  # nbgrader 0.9.6 misreads both (why the hook exists)
        assert clock.normalize_submissions(tmp_path / "submitted", SH) == [f]
        assert f.read_text(encoding="utf-8") == "2026-11-30 23:30:00.000000+08:00"
        assert parse_utc(f.read_text(encoding="utf-8")) == datetime(2026, 11, 30, 15, 30)  # nbgrader now stores 15:30 UTC
    f.write_text("2026年11月30日 23:30", encoding="utf-8")
    with pytest.raises(ShifuError, match="timestamp.txt: timestamp: '2026年11月30日 23:30' is not a date and time"):
        clock.normalize_submissions(tmp_path / "submitted", SH)


def test_course_zone_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("SHIFU_TIME_ZONE", raising=False)
    assert clock.time_zone(tmp_path).key == "Asia/Shanghai"  # no clock.yaml: the default
    (tmp_path / "clock.yaml").write_text("time_zone: Asia/Tokyo\n", encoding="utf-8")
    assert clock.time_zone(tmp_path).key == "Asia/Tokyo"
    assert clock.utc_naive("2026-11-30 23:30", clock.time_zone(tmp_path)) == datetime(2026, 11, 30, 14, 30)
    monkeypatch.setenv("SHIFU_TIME_ZONE", "Asia/Shanghai")
    assert clock.time_zone(tmp_path).key == "Asia/Shanghai"
    monkeypatch.delenv("SHIFU_TIME_ZONE")
    (tmp_path / "clock.yaml").write_text("time_zone: Beijing\n", encoding="utf-8")
    with pytest.raises(ShifuError, match=r"clock.yaml: time_zone: 'Beijing' is not a time zone name — fix: use an IANA name"):
        clock.time_zone(tmp_path)


def test_showing_times_locally():
    s = pd.Series(pd.to_datetime(["2026-11-30 15:30", "2026-06-30 16:00"]))
    assert list(clock.to_local(s, SH).dt.strftime("%Y-%m-%d %H:%M")) == ["2026-11-30 23:30", "2026-07-01 00:00"]
    assert clock.show(pd.Timestamp("2026-11-30 15:30"), SH) == "2026-11-30 23:30 +0800"
    assert clock.local_to_utc(pd.Timestamp("2026-07-01"), SH) == pd.Timestamp("2026-06-30 16:00")


def test_grading_hook_returns_the_reason_instead_of_raising(tmp_path):
    sub = tmp_path / "ana" / "m01"
    sub.mkdir(parents=True)
    assert clock.timestamp_problem(sub, SH) is None  # no timestamp.txt: nbgrader's own rule applies
    (sub / "timestamp.txt").write_text("2026-11-30 23:30:00.000000 CST", encoding="utf-8")
    assert clock.timestamp_problem(sub, SH) is None
    assert (sub / "timestamp.txt").read_text(encoding="utf-8") == "2026-11-30 23:30:00.000000+08:00"
    (sub / "timestamp.txt").write_text("2026年11月30日 23:30", encoding="utf-8")
    why = clock.timestamp_problem(sub, SH)
    assert "timestamp.txt: timestamp: '2026年11月30日 23:30' is not a date and time" in why and "fix: write" in why
