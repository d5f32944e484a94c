"""One clock for the course: its time zone, and every timestamp Shifu reads or writes read in it.

Conventions (why: nbgrader's own):
  - the gradebook stores naive datetimes in UTC (nbgrader's `utcnow()`/`parse_utc`); Shifu's tables
    keep that form ("naive UTC") so gradebook and transcript times compare directly;
  - a timestamp written *without* a zone (a hand-written timestamp.txt, a transcript line) is local
    time in the course's zone;
  - what a mentor sees (reports, review boundaries, calibration links) is local time in that zone.

The zone is the course's setting `time_zone` in <course>/clock.yaml (default Asia/Shanghai);
SHIFU_TIME_ZONE overrides it for one run.

nbgrader 0.9.6's parse_utc reads "+0800" as 800 *seconds* and "CST" as UTC, and an unreadable
timestamp.txt raises AttributeError (it calls a `self.fail` that does not exist). `parse_timestamp`
reads every form nbgrader's exchange writes correctly; `normalize_timestamp_file` rewrites a
submission's timestamp.txt into the one form nbgrader reads right (ISO 8601 with "+08:00"), so the
grading step can call it before nbgrader reads the file.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shifu.content.errors import Problem, ShifuError, display_path

DEFAULT_TIME_ZONE = "Asia/Shanghai"
SETTINGS_FILE = "clock.yaml"
TIMESTAMP_FILE = "timestamp.txt"
# What a fixer should write: the form nbgrader's exchange writes, with a numeric offset.
EXAMPLE = "2026-11-30 23:30:00.000000 +0800"
_FIX = f"write the submission time as {EXAMPLE} (or 2026-11-30T23:30:00+08:00)"

_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{1,2}-\d{1,2})[ T](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(?P<zone>.*)$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?$", re.I)
_UTC_NAMES = {"z", "utc", "gmt", "ut"}


def time_zone(course_dir: Path | None = None) -> ZoneInfo:
    """The course's time zone: SHIFU_TIME_ZONE, else `time_zone:` in <course>/clock.yaml, else Asia/Shanghai.

    Errors: an unknown zone name is a ShifuError naming where it came from and the fix.
    """
    name, where = os.environ.get("SHIFU_TIME_ZONE"), "SHIFU_TIME_ZONE"
    if not name:
        from shifu.content import paths

        settings = (course_dir or paths.course_dir()) / SETTINGS_FILE
        name, where = DEFAULT_TIME_ZONE, display_path(settings)
        if settings.is_file():
            import yaml

            try:
                data = yaml.safe_load(settings.read_text(encoding="utf-8")) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ShifuError([Problem(where, "(file)", f"is not readable YAML: {str(exc).splitlines()[0]}",
                                          "write `time_zone: Asia/Shanghai`")])
            name = str(data.get("time_zone") or DEFAULT_TIME_ZONE) if isinstance(data, dict) else DEFAULT_TIME_ZONE
    return zone(name, where)


def zone(name: str, where: str = "time_zone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShifuError([Problem(where, "time_zone", f"{name!r} is not a time zone name",
                                  "use an IANA name such as Asia/Shanghai or Asia/Hong_Kong")])


def _offset(zone_text: str) -> timezone | None:
    m = _OFFSET.match(zone_text)
    if not m:
        return None
    hours, minutes = int(m.group("h")), int(m.group("m") or 0)
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if m.group("sign") == "+" else -delta)


def parse_timestamp(text: str, tz: ZoneInfo | None = None, source: str = "timestamp") -> datetime:
    """A timestamp as an aware datetime in UTC.

    Reads "2026-11-30 23:30:00.000000 +0800", "… +08:00", "…+08", "… UTC", "…Z", "… Asia/Shanghai",
    "… CST" (the abbreviation the course zone uses at that moment: China Standard Time for
    Asia/Shanghai — never US Central) and a time without a zone (local time in `tz`).
    tz: the course zone (default: time_zone()). source names the input in errors.
    Errors: anything else is a ShifuError with the reason and the form to write instead.
    """
    tz = tz or time_zone()
    try:
        return _parse_timestamp(text, tz, source)
    except OverflowError:  # "0001-01-01" in a zone east of UTC: the shift leaves datetime's range
        raise ShifuError([Problem(source, "timestamp", f"{str(text).strip()[:40]!r} is outside the dates Shifu can "
                                  "compare", _FIX)]) from None


def _parse_timestamp(text: str, tz: ZoneInfo, source: str) -> datetime:
    raw = text if isinstance(text, str) else ""
    s = raw.strip()
    m = _DATE_TIME.match(s)
    if not m:
        raise ShifuError([Problem(source, "timestamp", f"{raw.strip()!r} is not a date and time Shifu or nbgrader can read",
                                  _FIX)])
    try:
        local = datetime.fromisoformat(f"{_pad_date(m.group('date'))} {_pad_time(m.group('time'))}")
    except ValueError as exc:
        raise ShifuError([Problem(source, "timestamp", f"{raw.strip()!r} is not a real date and time ({exc})", _FIX)])
    z = m.group("zone").strip()
    if not z:
        return local.replace(tzinfo=tz).astimezone(timezone.utc)
    if z.lower() in _UTC_NAMES:
        return local.replace(tzinfo=timezone.utc)
    fixed = _offset(z)
    if fixed is not None:
        return local.replace(tzinfo=fixed).astimezone(timezone.utc)
    if "/" in z:
        try:
            return local.replace(tzinfo=ZoneInfo(z)).astimezone(timezone.utc)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if z.isalpha() and z.upper() == (local.replace(tzinfo=tz).tzname() or "").upper():
        return local.replace(tzinfo=tz).astimezone(timezone.utc)
    raise ShifuError([Problem(source, "timestamp",
                              f"the zone {z!r} in {s!r} is not an offset, an IANA name, nor the course zone's "
                              f"abbreviation ({tz.key}: {local.replace(tzinfo=tz).tzname()})", _FIX)])


def _pad_date(d: str) -> str:
    y, mo, day = d.split("-")
    return f"{int(y):04d}-{int(mo):02d}-{int(day):02d}"


def _pad_time(t: str) -> str:
    hms, _, frac = t.partition(".")
    parts = [int(x) for x in hms.split(":")] + [0] * (3 - len(hms.split(":")))
    return f"{parts[0]:02d}:{parts[1]:02d}:{parts[2]:02d}" + (f".{frac[:6].ljust(6, '0')}" if frac else "")


def utc_naive(text: str, tz: ZoneInfo | None = None, source: str = "timestamp") -> datetime:
    """parse_timestamp as the gradebook stores it: a naive datetime in UTC."""
    return parse_timestamp(text, tz, source).replace(tzinfo=None)


def read_timestamp_file(path: Path, tz: ZoneInfo | None = None) -> datetime:
    """A submission's timestamp.txt as naive UTC; errors name the file, the reason and the fix."""
    shown = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ShifuError([Problem(shown, "(file)", f"cannot be read: {exc}", _FIX)])
    return utc_naive(text, tz, shown)


def nbgrader_form(when_utc: datetime, tz: ZoneInfo) -> str:
    """The form nbgrader 0.9.6 reads right: ISO 8601 with a colon in the offset, in the course's zone."""
    aware = when_utc if when_utc.tzinfo else when_utc.replace(tzinfo=timezone.utc)
    return aware.astimezone(tz).isoformat(sep=" ", timespec="microseconds")


def normalize_timestamp_file(path: Path, tz: ZoneInfo | None = None) -> datetime:
    """Rewrite timestamp.txt in the form nbgrader reads right (same instant); returns it as naive UTC.

    The hook for grading: call this on each submission's timestamp.txt before nbgrader reads it,
    so "+0800" and "CST" are not misread and an unreadable file is a ShifuError, not AttributeError.
    A file already in that form is left untouched.
    """
    tz = tz or time_zone()
    when = read_timestamp_file(path, tz)
    text = nbgrader_form(when, tz)
    if Path(path).read_text(encoding="utf-8").strip() != text:
        Path(path).write_text(text, encoding="utf-8")
    return when


def timestamp_problem(submission_dir: Path, tz: ZoneInfo | None = None) -> str | None:
    """The grading hook, one line: normalize <submission_dir>/timestamp.txt; the reason and fix when it is unreadable.

    None when there is no timestamp.txt or it was read (and, if needed, rewritten so nbgrader reads the same instant).
    Usage before nbgrader reads the folder: `if (why := clock.timestamp_problem(folder)): raise SubmissionFailed(why)`.
    """
    path = Path(submission_dir) / TIMESTAMP_FILE
    if not path.is_file():
        return None
    try:
        normalize_timestamp_file(path, tz)
    except ShifuError as exc:
        return str(exc)
    return None


def normalize_submissions(submitted_dir: Path, tz: ZoneInfo | None = None) -> list[Path]:
    """normalize_timestamp_file for every <submitted>/<student>/<assignment>/timestamp.txt; the files checked.

    Errors: the first unreadable file, as a ShifuError naming it.
    """
    tz = tz or time_zone()
    files = sorted(Path(submitted_dir).glob(f"*/*/{TIMESTAMP_FILE}"))
    for f in files:
        normalize_timestamp_file(f, tz)
    return files


def to_local(when_utc, tz: ZoneInfo):
    """Naive UTC (a datetime, Timestamp or a pandas Series of them) → naive local time in tz, for showing."""
    import pandas as pd

    if isinstance(when_utc, pd.Series):
        s = pd.to_datetime(when_utc)
        return s.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    ts = pd.Timestamp(when_utc)
    if ts is pd.NaT:
        return ts
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.tz_convert(tz).tz_localize(None)


def local_to_utc(when_local, tz: ZoneInfo):
    """Naive local time in tz (a datetime or Timestamp) → naive UTC, for comparing with gradebook times."""
    import pandas as pd

    ts = pd.Timestamp(when_local)
    if ts.tzinfo is not None:
        return ts.tz_convert("UTC").tz_localize(None)
    return ts.tz_localize(tz).tz_convert("UTC").tz_localize(None)


def show(when_utc, tz: ZoneInfo) -> str:
    """'2026-11-30 23:30 +0800' for a naive-UTC time; '—' for none."""
    import pandas as pd

    if when_utc is None or (isinstance(when_utc, float) and when_utc != when_utc) or when_utc is pd.NaT:
        return "—"
    ts = pd.Timestamp(when_utc)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.tz_convert(tz).strftime("%Y-%m-%d %H:%M %z")
