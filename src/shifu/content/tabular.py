"""One reader for every table a mentor hands Shifu (KPI exports, apprentice lists, mentor rosters).

Files arrive as the mentor's own tools export them: CSV from Chinese Excel (GBK/GB18030 by default),
UTF-8 with or without BOM, Excel's "Unicode text" (UTF-16, tab-separated), or .xlsx directly.
Cells are kept as text; the typed readers below turn them into numbers, rates, months and dates,
and every cell they cannot read becomes a Problem naming the file, the column, the line and the fix.

Line numbers are the file's own: line 1 is the header, the first data row is line 2 (a sheet's
row numbers for .xlsx).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from shifu.content.errors import Problem, ShifuError, display_path

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_MAX_PROBLEMS = 5  # per column: enough to see the pattern, short enough to read
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*月?(?:\s*[-/.]?\s*\d{1,2}\s*日?)?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_MONTH_COMPACT = re.compile(r"^(\d{4})(\d{2})$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE_CN = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")


@dataclass
class Table:
    """A tabular file read as text: the rows that carry data, and what was set aside."""

    frame: pd.DataFrame          # one str column per header cell (stripped), "" for an empty cell
    lines: list[int]             # the file line (CSV) or sheet row (.xlsx) of each frame row
    shown: str                   # the path as messages show it
    encoding: str                # e.g. "UTF-8", "UTF-8 (BOM)", "GBK/GB18030", "UTF-16", "Excel .xlsx"
    notes: list[str] = field(default_factory=list)

    def line(self, i: int) -> int:
        return self.lines[i]

    def problems_at(self, column: str, rows: Iterable[int], message, fix: str) -> list[Problem]:
        """One Problem per row index (at most five): message(raw cell text) → the message."""
        out = []
        for i in list(rows)[:_MAX_PROBLEMS]:
            out.append(Problem(self.shown, column, message(self.frame[column].iat[i]), fix, self.line(i)))
        return out


# ---------------------------------------------------------------- reading

def _decode(raw: bytes) -> tuple[str, str]:
    """The text and the encoding's name: BOMs first, then strict UTF-8, UTF-16 without BOM, GB18030."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "UTF-8 (BOM)"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "UTF-16"
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    head = raw[:2000]
    if head and head.count(0) > len(head) // 4:  # ASCII in UTF-16 without BOM: every other byte is NUL
        le = head[1::2].count(0) > head[0::2].count(0)
        return raw.decode("utf-16-le" if le else "utf-16-be"), "UTF-16"
    # GB18030 is a superset of GBK and GB2312: what Chinese Windows Excel writes for "CSV (逗号分隔)"
    return raw.decode("gb18030"), "GBK/GB18030"


def _separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    return max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","


def _read_csv_text(path: Path, shown: str) -> tuple[pd.DataFrame, str]:
    import io

    raw = path.read_bytes()
    try:
        text, encoding = _decode(raw)
    except UnicodeDecodeError as exc:
        raise ShifuError([Problem(shown, "(file)", f"is neither UTF-8, UTF-16 nor GBK/GB18030 text ({exc.reason} at byte {exc.start})",
                                  "save it from Excel as “CSV UTF-8” or as .xlsx")])
    first = text.split("\n", 1)[0]
    try:
        df = pd.read_csv(io.StringIO(text), sep=_separator(first), dtype=str, keep_default_na=False,
                         skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ShifuError([Problem(shown, "(file)", f"is not a readable table: {str(exc).splitlines()[0]}",
                                  "save it as CSV with one header row (or as .xlsx)")])
    return df, encoding


def _read_excel(path: Path, shown: str, sheet: str | int | None) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401  (pandas reads .xlsx through it)
    except ImportError:  # pragma: no cover - a dependency in pyproject.toml
        raise ShifuError([Problem(shown, "(file)", "reading .xlsx needs openpyxl", "pip install openpyxl, or save the sheet as CSV")])
    try:
        df = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object, engine="openpyxl")
    except ValueError as exc:  # unknown sheet name
        raise ShifuError([Problem(shown, "(sheet)", str(exc).splitlines()[0], "name an existing sheet, or put the table on the first sheet")])
    except Exception as exc:  # a broken or encrypted workbook: zipfile/openpyxl errors vary by cause
        raise ShifuError([Problem(shown, "(file)", f"is not a readable .xlsx workbook ({type(exc).__name__}: {exc})",
                                  "open it in Excel and save it again as .xlsx or CSV")])
    return df.apply(lambda col: col.map(_excel_cell))


def _excel_cell(v) -> str:
    """A sheet cell as the text a CSV export would hold: 0.3281 stays 0.3281, a date becomes YYYY-MM-DD."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp) or hasattr(v, "strftime"):
        ts = pd.Timestamp(v)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_table(path: Path, what: str, required: list[str], fix: str, total_markers: Iterable[str] = (),
               key_column: str | None = None, sheet: str | int | None = None) -> Table:
    """Read a CSV (any of the encodings above) or .xlsx into a Table of text cells.

    what: names the file in messages ("KPI", "apprentices"). required: columns that must exist
    (fix tells how). Blank rows, and rows whose first cell (or key_column) is one of total_markers
    (e.g. 合计, 总计, Total), or whose key_column is, are set aside with a note. A file with no data rows left is an error.
    """
    path = Path(path)
    shown = display_path(path)
    if not path.is_file():
        raise ShifuError([Problem(shown, "(file)", f"{what} file does not exist", "check the path")])
    if path.suffix.lower() in EXCEL_SUFFIXES:
        df, encoding = _read_excel(path, shown, sheet), "Excel .xlsx"
    elif path.suffix.lower() == ".xls":
        raise ShifuError([Problem(shown, "(file)", "old Excel .xls files are not read", "save it as .xlsx or CSV UTF-8")])
    else:
        df, encoding = _read_csv_text(path, shown)
    df.columns = [unicodedata.normalize("NFKC", str(c)).strip() for c in df.columns]
    df = df.apply(lambda col: col.astype(str).str.strip())
    missing = [c for c in required if c not in df.columns]
    if missing:
        have = ", ".join(c for c in df.columns if not c.startswith("Unnamed"))
        raise ShifuError([Problem(shown, c, f"column is missing (the header has: {have})", fix) for c in missing])
    lines = np.arange(len(df)) + 2
    blank = (df == "").all(axis=1).to_numpy()
    markers = {unicodedata.normalize("NFKC", m).strip().lower() for m in total_markers}
    def is_marker(col: pd.Series) -> np.ndarray:
        return col.map(lambda s: unicodedata.normalize("NFKC", s).strip().lower() in markers).to_numpy()

    totals = is_marker(df.iloc[:, 0]) & ~blank
    if key_column and key_column in df.columns:
        totals |= is_marker(df[key_column])
    notes = [f"{shown}: read as {encoding}"]
    if totals.any():
        notes.append(f"{shown}: {int(totals.sum())} total row(s) ignored (line {', '.join(map(str, lines[totals][:5]))})")
    if blank.any():
        notes.append(f"{shown}: {int(blank.sum())} blank row(s) ignored")
    keep = ~(blank | totals)
    df = df[keep].reset_index(drop=True)
    if df.empty:
        raise ShifuError([Problem(shown, "(file)", f"has no data rows — the {what} file holds only a header"
                                  + (", blank or total rows" if (blank.any() or totals.any()) else ""),
                                  "export the rows themselves, one per line under the header")])
    return Table(frame=df, lines=[int(x) for x in lines[keep]], shown=shown, encoding=encoding, notes=notes)


# ---------------------------------------------------------------- typed columns

def _clean_number(text: str) -> tuple[str, bool]:
    """NFKC (full-width digits, ％, ，) and thousands separators removed; and whether a % sign was there."""
    s = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    pct = s.endswith("%")
    if pct:
        s = s[:-1].strip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    return s, pct


def _to_float(s: str) -> float:
    """A plain decimal number, else NaN (no 'nan', 'inf' or '1_000', which float() would take)."""
    return float(s) if _DECIMAL.match(s) else float("nan")


def numbers(table: Table, column: str, minimum: float | None = 0.0) -> tuple[pd.Series, list[Problem]]:
    """A plain number column (seconds, QC points): thousands separators read, '%' refused, empty refused."""
    values, problems = [], []
    bad: list[int] = []
    for i, raw in enumerate(table.frame[column]):
        s, pct = _clean_number(raw)
        v = _to_float(s) if not pct else np.nan
        if v != v or (minimum is not None and v < minimum):
            bad.append(i)
        values.append(float(v))
    floor = "" if minimum is None else f" ≥ {minimum:g}"
    problems += table.problems_at(column, bad, lambda x: f"{x!r} is not a number{floor}", "fix or remove the row")
    return pd.Series(values, dtype=float), problems


def rates(table: Table, column: str) -> tuple[pd.Series, list[Problem], list[str]]:
    """A rate column as fractions 0–1: '32.81%' and '32.81％' → 0.3281, '0.3281' stays.

    Bare numbers must all be fractions (≤ 1) or all percent points (> 1, ≤ 100): a column mixing
    0.33 and 33 is ambiguous and an error naming its rows. A rate above 100% is an error.
    Returns the values, the problems, and notes (e.g. bare percent points read as percent).
    """
    values: list[float] = []
    bare_small, bare_big, bad, notes = [], [], [], []
    for i, raw in enumerate(table.frame[column]):
        s, pct = _clean_number(raw)
        v = _to_float(s)
        if v != v or v < 0:
            bad.append(i)
            values.append(np.nan)
            continue
        if pct:
            v = v / 100.0
        elif v > 1:
            bare_big.append(i)
        else:
            bare_small.append(i)
        values.append(v)
    problems = table.problems_at(column, bad, lambda x: f"{x!r} is not a rate (a percentage or a fraction 0–1)", "fix or remove the row")
    out = pd.Series(values, dtype=float)
    if bare_big and bare_small:
        small = ", ".join(str(table.line(i)) for i in bare_small[:5])
        big = ", ".join(str(table.line(i)) for i in bare_big[:5])
        problems.append(Problem(table.shown, column,
                                f"mixes fractions (e.g. {table.frame[column].iat[bare_small[0]]!r}, lines {small}) and percent points "
                                f"(e.g. {table.frame[column].iat[bare_big[0]]!r}, lines {big}): which scale each row means is ambiguous",
                                "write the whole column one way: fractions (0.33) or with a % sign (33%)"))
    elif bare_big:
        out.iloc[bare_big] = out.iloc[bare_big] / 100.0
        notes.append(f"{table.shown}: {column}: numbers above 1 read as percent points (33 → 33%)")
    over = [] if (bare_big and bare_small) else [i for i, v in enumerate(out) if v == v and v > 1]
    problems += table.problems_at(column, over, lambda x: f"{x!r} is more than 100%", "a rate is at most 100% — fix the row")
    return out, problems, notes


def months(table: Table, column: str) -> tuple[pd.Series, list[Problem]]:
    """'2025-01', '2025/1', '2025年1月', '2025.1', '202501' or a date in the month → 'YYYY-MM'."""
    out, bad = [], []
    for i, raw in enumerate(table.frame[column]):
        s = unicodedata.normalize("NFKC", raw).strip()
        m = _MONTH.match(s) or _MONTH_COMPACT.match(s)
        mo = int(m.group(2)) if m else 0
        if m and 1 <= mo <= 12:
            out.append(f"{int(m.group(1)):04d}-{mo:02d}")
        else:
            out.append(None)
            bad.append(i)
    problems = table.problems_at(column, bad, lambda x: f"{x!r} is not a month", "write 2025-01, 2025/1 or 2025年1月")
    return pd.Series(out, dtype=object), problems


def dates(table: Table, column: str) -> tuple[pd.Series, list[Problem]]:
    """'2026-05-01', '2026/5/1', '2026年5月1日' → Timestamp (a calendar date, no time zone)."""
    out, bad = [], []
    for i, raw in enumerate(table.frame[column]):
        s = unicodedata.normalize("NFKC", raw).strip()
        m = _DATE_CN.match(s)
        if m:
            s = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
        ts = pd.to_datetime(s, errors="coerce", format="mixed") if s else pd.NaT
        if ts is pd.NaT or ts != ts:
            bad.append(i)
            out.append(pd.NaT)
        else:
            out.append(ts.tz_localize(None) if ts.tzinfo else ts)
    problems = table.problems_at(column, bad, lambda x: f"{x!r} is not a date", "write YYYY-MM-DD or 2026年5月1日")
    return pd.Series(out, dtype="datetime64[ns]"), problems


def flags(table: Table, column: str, yes: Iterable[str], no: Iterable[str]) -> tuple[pd.Series, list[Problem]]:
    """A yes/no column: the words in `yes` and `no` (compared ignoring case)."""
    yes_set = {w.lower() for w in yes}
    no_set = {w.lower() for w in no}
    norm = table.frame[column].map(lambda s: unicodedata.normalize("NFKC", s).strip().lower())
    bad = np.flatnonzero(~norm.isin(yes_set | no_set).to_numpy())
    problems = table.problems_at(column, bad, lambda x: f"{x!r} is not true/false",
                                 f"write one of: {', '.join(sorted(yes_set | no_set))}")
    return norm.isin(yes_set), problems
