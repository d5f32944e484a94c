"""Run the validity harness (src/shifu/reading/evaluation.py) against whatever `shifu` is on the path — also an
older checkout that has no harness of its own, e.g. the reader before issue 14:

    PYTHONPATH=/path/to/old/src python bench/eval_any.py [--data tests/data/eval] [--json]

Only the aggregates are printed for the held-out third (see bench/eval_baseline.md).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE / "tests" / "data" / "eval"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-conversations", action="store_true")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("shifu_evaluation_any", HERE / "src" / "shifu" / "reading" / "evaluation.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    import shifu

    report = mod.run(Path(args.data), conversations=not args.no_conversations)
    report["reader"] = f"rules ({Path(shifu.__file__).parent})"
    print(mod.dumps(report) if args.json else mod.format_report(report))


if __name__ == "__main__":
    main()
