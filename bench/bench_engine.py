"""Role-play engine speed.

1. Scripted turn latency: Engine.respond (signals reader + rules + scripted voice) over many turns
   of every scenario's conversation replies, with and without the fsync'd transcript. Target: p95 < 5 ms.
2. Engine overhead over the model call: the same buyer line from a local OpenAI-compatible server
   (tests/engine_fake_llm.py, answering in --model-ms, streamed) fetched by a raw `openai` client
   call, and by Engine.respond with the LLM voice; measured interleaved in the same run.
   Target: overhead < 5 % of the raw call.

Numbers are noisy on a shared machine: compare the ratios, not the absolute times, across runs.
Usage: python bench/bench_engine.py [--turns 2000] [--calls 40] [--model-ms 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import openai
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from engine_fake_llm import FakeLLM  # noqa: E402
from shifu.content import paths  # noqa: E402
from shifu.roleplay.voices import VoiceRequest  # noqa: E402
from shifu.roleplay.voices.llm import OpenAIVoice  # noqa: E402
from shifu.roleplay.voices.voice_style import load_style  # noqa: E402
from shifu.roleplay.engine import Engine  # noqa: E402
from shifu.llm.config import LLMConfig  # noqa: E402
from shifu.roleplay.scenario import Scenario, parse_scenario  # noqa: E402
from shifu.reading.signals import ReplyContext, read_reply  # noqa: E402
from shifu.reading.vocab import BuyerState  # noqa: E402

BUYER_LINE = "我都等了三天了,你们到底什么时候能给我个准话?别再跟我说在查了。"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def conversations() -> list[tuple[Scenario, list[str]]]:
    out = []
    for f in sorted((ROOT / "tests" / "data" / "conversations").glob("*.yaml")):
        sc_path = paths.scenarios_dir() / f"{f.stem}.yaml"
        if not sc_path.exists():
            continue
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        for kind in ("good", "bad"):
            replies = [r if isinstance(r, str) else r["reply"] for r in data.get(kind) or []]
            if replies:
                out.append((parse_scenario(sc_path), replies))
    return out


_CONVS: list[tuple[Scenario, list[str]]] = []


def scripted_turns(n: int, transcript_dir: Path | None) -> tuple[list[float], list[float], list[float]]:
    """Per-turn wall time of Engine.respond, of the signals reader inside it, and the turn's CPU time
    (what the turn costs when the machine is not shared)."""
    if not _CONVS:
        _CONVS.extend(conversations())
    times: list[float] = []
    cpu: list[float] = []
    reading: list[float] = []

    def timed_reader(reply: str, ctx: ReplyContext):
        t0 = time.perf_counter()
        try:
            return read_reply(reply, ctx)
        finally:
            reading.append(time.perf_counter() - t0)

    i = 0
    while len(times) < n:
        sc, replies = _CONVS[i % len(_CONVS)]
        path = transcript_dir / f"{i}.jsonl" if transcript_dir else None
        eng = Engine(sc, seed=i, transcript_path=path, reader=timed_reader)
        eng.opening()
        for reply in replies:
            if eng.state.ended or len(times) >= n:
                break
            t0, c0 = time.perf_counter(), time.process_time()
            eng.respond(reply)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        eng.finish()
        i += 1
    return times, reading[:len(times)], cpu


def llm_overhead(calls: int, model_ms: float) -> tuple[list[float], list[float]]:
    sc = parse_scenario(paths.scenarios_dir() / "late-parcel-wrong-station.yaml")
    reply = "亲,您好,特别理解您的着急。我马上帮您查,请问您有没有接到快递员的电话,或者驿站的取件通知?"
    with FakeLLM(default=("slow", model_ms / 1000, BUYER_LINE), chunk_chars=3) as server:
        cfg = LLMConfig(model="bench", base_url=server.base_url, api_key="sk-bench", timeout_s=30, total_timeout_s=60)
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0, timeout=30)
        voice = OpenAIVoice(cfg, client=client)
        messages = load_style().messages(VoiceRequest(scenario=sc, state=BuyerState.calming, mood=40, turn=1, seed=0,
                                                      reply=reply))
        raw: list[float] = []
        eng_times: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(calls + 2):
                t0 = time.perf_counter()
                stream = client.chat.completions.create(model="bench", messages=messages, temperature=0.8, stream=True,
                                                        max_tokens=300)
                text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
                t_raw = time.perf_counter() - t0
                assert text == BUYER_LINE
                eng = Engine(sc, backend=voice, seed=i, transcript_path=Path(tmp) / f"{i}.jsonl")
                eng.opening()
                t0 = time.perf_counter()
                turn = eng.respond(reply)
                t_eng = time.perf_counter() - t0
                assert turn.backend == "openai", turn.notice
                if i >= 2:  # warm-up
                    raw.append(t_raw)
                    eng_times.append(t_eng)
    return raw, eng_times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--model-ms", type=float, default=300.0, help="how long the fake model takes to stream one line")
    args = ap.parse_args()

    scripted_turns(50, None)  # warm caches (phrase lists, scenarios)
    mem, reader, cpu = scripted_turns(args.turns, None)
    own = [t - r for t, r in zip(mem, reader)]
    with tempfile.TemporaryDirectory() as tmp:
        disk, _, _ = scripted_turns(args.turns // 4, Path(tmp))
    print(f"scripted turn, in memory      : n={len(mem)}  p50 {pct(mem, 50) * 1000:.2f} ms  p95 {pct(mem, 95) * 1000:.2f} ms"
          f"  (target p95 < 5 ms: {'ok' if pct(mem, 95) < 0.005 else 'MISSED'})")
    print(f"  CPU time per turn           : p50 {pct(cpu, 50) * 1000:.2f} ms  p95 {pct(cpu, 95) * 1000:.2f} ms")
    print(f"  of which signals reader     : p50 {pct(reader, 50) * 1000:.2f} ms  p95 {pct(reader, 95) * 1000:.2f} ms")
    print(f"  of which engine+voice       : p50 {pct(own, 50) * 1000:.2f} ms  p95 {pct(own, 95) * 1000:.2f} ms")
    print(f"scripted turn, fsync'd JSONL  : n={len(disk)}  p50 {pct(disk, 50) * 1000:.2f} ms  p95 {pct(disk, 95) * 1000:.2f} ms")

    raw, eng = llm_overhead(args.calls, args.model_ms)
    raw_med, eng_med = statistics.median(raw), statistics.median(eng)
    ratio = eng_med / raw_med - 1
    print(f"LLM line, raw openai call     : n={len(raw)}  median {raw_med * 1000:.1f} ms (fake model streams in {args.model_ms:g} ms)")
    print(f"LLM line, Engine.respond      : n={len(eng)}  median {eng_med * 1000:.1f} ms")
    print(f"engine overhead               : {(eng_med - raw_med) * 1000:+.1f} ms = {ratio * 100:+.1f} % of the raw call"
          f"  (target < 5 %: {'ok' if ratio < 0.05 else 'MISSED'})")
    print("note: shared, busy machine; ratios are measured in the same run, absolute times vary between runs")


if __name__ == "__main__":
    main()
