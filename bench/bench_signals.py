"""How reading a reply scales with its length: 5,000-character replies against the same amount of text
in ordinary 100-character replies, measured in the same run (the ratio, not the milliseconds, is the
number to watch: the machine may be busy).

    python bench/bench_signals.py
"""
from __future__ import annotations

import statistics
import time

from shifu.roleplay.scenario import load_scenario
from shifu.reading.signals import ReplyContext, read_reply

GENUINE = ("亲，您好！非常抱歉让您久等了，理解您周六要用鞋的着急心情。请问快递员有没有联系过您？"
           "我马上联系网点改派，今天18点前给您回复，您看可以吗？")


def timed(texts: list[str], ctx: ReplyContext, rounds: int = 5) -> float:
    runs = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in texts:
            read_reply(t, ctx)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    sc = load_scenario("late-parcel-wrong-station")
    ctx = ReplyContext(sc, buyer_message=sc.lines.opening[0])
    read_reply(GENUINE, ctx)  # warm the caches
    short = [GENUINE[: 100]] * 50
    longs = {
        "genuine text, repeated": (GENUINE * 100)[:5000],
        "keyword stuffing": ("抱歉，理解，改派，今天18点前，您看可以吗，" * 300)[:5000],
        "random characters": "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(5000)),
        "English": ("I understand, sorry for the delay. Could you tell me the station? Within 2 hours. " * 80)[:5000],
        # long runs a hostile trainee can type (red-team pass): each must stay linear, like the others
        "a run of digits": "亲," + "1" * 4998,
        "digits, then 倍": ("亲,赔" + "1" * 4994 + "倍赔偿您")[:5000],
        "Chinese numerals": "亲," + "一" * 4998,
        "newlines and spaces": "亲," + "\n " * 2499,
        # second red-team pass: short pieces in one run (every start used to be tried; thousands of stock hits
        # were checked against each other)
        "亲, repeated": ("亲," * 2500 + "ok")[:5000],
        "letters and spaces": ("a " * 2499 + "ok")[:5000],
        "stock phrase repeated": ("理解您" * 1700)[:5000],
        # traditional script is converted by phrase, with a map back to what was written (shifu.reading.traditional)
        "traditional script": ("親,您好!非常抱歉讓您久等了,理解您週六要用鞋的著急心情。請問快遞員有沒有聯絡過您?"
                               "我馬上聯絡網點改派,今天18點前給您回覆,您看可以嗎?" * 100)[:5000],
        "Taiwan words, no stops": ("重新整理對話方塊連結影片" * 500)[:5000],
    }
    base = timed(short, ctx)
    print(f"baseline: 50 replies of 100 characters: {base * 1000:.1f} ms")
    for name, text in longs.items():
        t = timed([text], ctx)
        print(f"{name:24s} one reply of {len(text)} characters: {t * 1000:7.1f} ms  ratio to baseline {t / base:5.2f}")


if __name__ == "__main__":
    main()
