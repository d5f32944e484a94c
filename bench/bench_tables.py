"""Time reading a large KPI export through shifu.content.tabular against plain pandas.read_csv in the same run.

The export: the project's data/agent_kpi_monthly.csv repeated to --rows rows, rates written as
percentages ("32.81%"), saved as GBK (what Chinese Excel writes). Baseline: pandas.read_csv of the
same rows as a UTF-8 fraction file (no detection, no checks).

    python bench/bench_tables.py [--rows 50000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    import pandas as pd

    from shifu.content import paths
    from shifu.progress.config import load_review_rules
    from shifu.progress.review import load_kpi

    src = pd.read_csv(paths.data_dir() / "agent_kpi_monthly.csv", dtype=str, keep_default_na=False)
    big = pd.concat([src] * (args.rows // len(src) + 1), ignore_index=True).head(args.rows)
    pct = big.copy()
    for c in ("response_30s_rate", "inquiry_conversion", "positive_review_rate", "complaint_rate"):
        pct[c] = pct[c].map(lambda v: f"{float(v) * 100:.2f}%")
    rules = load_review_rules()
    with tempfile.TemporaryDirectory() as d:
        plain, gbk = Path(d) / "plain.csv", Path(d) / "gbk.csv"
        big.to_csv(plain, index=False, encoding="utf-8")
        pct.to_csv(gbk, index=False, encoding="gbk")
        t = time.perf_counter()
        pd.read_csv(plain)
        base = time.perf_counter() - t
        t = time.perf_counter()
        kpi = load_kpi(gbk, rules)
        ours = time.perf_counter() - t
    print(f"{args.rows} rows: pandas.read_csv (UTF-8 fractions) {base:.3f} s; shifu load_kpi (GBK, percentages, "
          f"checked) {ours:.3f} s; ratio {ours / base:.1f}× ({kpi.attrs['encoding']})")
    print("note: the machine may be shared; timings are noisy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
