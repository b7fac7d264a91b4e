"""Where a contender's per-batch time goes: cProfile of one timed run, in microseconds per batch.

    python benchmarks/hotspots.py [statetrainer] [--steps 1000] [--top 25] [--sort tottime|cumulative]
    python benchmarks/hotspots.py statetrainer --against hand     # only what the hand loop does not spend

Runs benchmarks/worker.py's measurement in this process with cProfile on the timed region only
(after the warm-up), then lists the top functions. With --against, both contenders are profiled
and each function's time is the contender's minus the reference's (the extra per batch). cProfile inflates cheap Python calls, so read
the numbers as relative weights; the table in `make bench` is the unprofiled truth.
"""
from __future__ import annotations

import argparse
import os
import pstats
import tempfile

from worker import CONTENDERS, DATA, measure


def per_batch(stats: pstats.Stats, steps: int) -> dict[str, tuple[float, float, float]]:
    """where -> (us per batch self, us per batch cumulative, calls per batch)."""
    out = {}
    for (path, line, func), (cc, nc, tt, ct, _) in stats.stats.items():
        where = f"{os.path.relpath(path) if path.startswith('/') else path}:{line}({func})"
        out[where] = (tt / steps * 1e6, ct / steps * 1e6, nc / steps)
    return out


def minus(mine: dict, ref: dict) -> dict:
    zero = (0.0, 0.0, 0.0)
    return {w: tuple(a - b for a, b in zip(mine.get(w, zero), ref.get(w, zero))) for w in set(mine) | set(ref)}


def profile(contender: str, steps: int, data: str) -> tuple[dict, pstats.Stats]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        path = os.path.join(tmp, "run.prof")
        result = measure(contender, steps, 100, 50, profile_path=path, data=data)
        stats = pstats.Stats(path)
    print(f"{contender}: {result['wall_s']:.3f} s wall under cProfile for {steps} steps "
          f"(profiled total {stats.total_tt / steps * 1e6:.0f} us per batch)")
    return result, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", nargs="?", default="statetrainer", choices=CONTENDERS)
    parser.add_argument("--against", choices=CONTENDERS, default=None, help="subtract this contender's profile")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    parser.add_argument("--only", default=None, help="keep functions whose location contains this text")
    parser.add_argument("--data", choices=DATA, default="loader", help="DataLoader or pre-cut batches")
    args = parser.parse_args()
    table = per_batch(profile(args.contender, args.steps, args.data)[1], args.steps)
    if args.against:
        table = minus(table, per_batch(profile(args.against, args.steps, args.data)[1], args.steps))
    key = 0 if args.sort == "tottime" else 1
    chosen = sorted((w for w in table if not args.only or args.only in w), key=lambda w: -table[w][key])
    print(f"{'self us/batch':>13} {'cum us/batch':>12} {'calls/batch':>11}  function")
    for where in chosen[:args.top]:
        tt, ct, nc = table[where]
        print(f"{tt:13.1f} {ct:12.1f} {nc:11.2f}  {where}")


if __name__ == "__main__":
    main()
