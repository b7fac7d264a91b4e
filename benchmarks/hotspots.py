"""Where a contender's per-step time goes: cProfile per step, exact Python calls per step.

    python benchmarks/hotspots.py [statetrainer] [--steps 1000] [--top 25] [--sort tottime|cumulative]
    python benchmarks/hotspots.py statetrainer --against hand     # only what the hand loop does not spend
    python benchmarks/hotspots.py --markdown [--quick] [--result out.json]   # the docs section, tiny pre-cut

A contender is profiled over two whole fits after a warm-up, of `steps` and of `steps // 5` steps;
each function's time per step is the difference over the steps between them, so per-fit work
(setup, the validation pass, a checkpoint) drops out. With --against, both contenders are profiled
and each function's time is the contender's minus the reference's. cProfile inflates cheap Python
calls, so read its microseconds as relative weights; `make bench` is the unprofiled truth.
`--markdown` prints the section "Where the remaining per-step cost goes" of docs/benchmarks.md:
Python calls per step for every contender (benchmarks/pycalls.py: exact counts), and the extra
self time per step of statetrainer (bare and defaults) over the hand loop, by owner and by function.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pstats
import tempfile

import pycalls
from hotspots_report import SHARED
from report import available
from pycalls import GENERATED, owner, where
from worker import CONTENDERS, DATA, one_run, preparer, quiet, warm_up



def by_caller(stats: dict) -> dict:
    """pstats entries with each C function's time split by the file that called it
    (file "~ called from <caller's file>"), so a builtin called by statetrainer counts as statetrainer's."""
    out: dict = {}
    for key, (cc, nc, tt, ct, callers) in stats.items():
        parts = [(key, (cc, nc, tt, ct))]
        if key[0] == "~" and callers:
            parts = [((f"~{GENERATED}{caller[0]}", 0, key[2]), edge[:4]) for caller, edge in callers.items()]
        for k, values in parts:
            old = out.get(k, (0, 0, 0.0, 0.0))
            out[k] = tuple(a + b for a, b in zip(old, values))
    return out


def profile(contender: str, steps: int, data: str, model: str) -> dict:
    """(file, line, name) -> (self us, cumulative us, calls) per step: (fit of steps - fit of steps//5) / difference."""
    import torch
    torch.set_num_threads(1)
    quiet()
    prepare, short = preparer(contender), max(1, steps // 5)
    with tempfile.TemporaryDirectory(prefix="bench-") as root, contextlib.redirect_stdout(io.StringIO()):
        warm_up(prepare, 20, 5, root, data, model)
        fits = []
        for n in (steps, short):
            path = os.path.join(root, f"{n}.prof")
            one_run(prepare, n, 5, os.path.join(root, str(n)), data, model, profile_path=path)
            fits.append(by_caller(pstats.Stats(path).stats))
    span, zero = steps - short, (0, 0, 0.0, 0.0)
    return {key: ((fits[0][key][2] - fits[1].get(key, zero)[2]) / span * 1e6,
                  (fits[0][key][3] - fits[1].get(key, zero)[3]) / span * 1e6,
                  (fits[0][key][1] - fits[1].get(key, zero)[1]) / span) for key in fits[0]}


def minus(mine: dict, ref: dict) -> dict:
    zero = (0.0, 0.0, 0.0)
    return {w: tuple(a - b for a, b in zip(mine.get(w, zero), ref.get(w, zero))) for w in set(mine) | set(ref)}


def ad_hoc(args: argparse.Namespace) -> None:
    table = profile(args.contender, args.steps, args.data, args.model)
    print(f"{args.contender}: {sum(v[0] for v in table.values()):.0f} us per step under cProfile")
    if args.against:
        ref = profile(args.against, args.steps, args.data, args.model)
        print(f"{args.against}: {sum(v[0] for v in ref.values()):.0f} us per step under cProfile")
        table = minus(table, ref)
    key = 0 if args.sort == "tottime" else 1
    named = {where(*k): v for k, v in table.items()}
    chosen = sorted((w for w in named if not args.only or args.only in w), key=lambda w: -named[w][key])
    print(f"{'self us/step':>12} {'cum us/step':>11} {'calls/step':>10}  function")
    for w in chosen[:args.top]:
        tt, ct, nc = named[w]
        print(f"{tt:12.1f} {ct:11.1f} {nc:10.2f}  {w}")


def extra_over_hand(contender: str, hand: dict, steps: int, counts: dict, top: int) -> dict:
    """The extra self time per step of `contender` over the hand loop: total, by owner, top functions."""
    extra = minus(profile(contender, steps, "tensors", "tiny"), hand)
    by_owner: dict[str, float] = {}
    for key, (tt, _, _) in extra.items():
        by_owner[owner(key[0])] = by_owner.get(owner(key[0]), 0.0) + tt
    own = {k: v for k, v in extra.items() if owner(k[0]) not in SHARED}
    rows = sorted(own.items(), key=lambda kv: -kv[1][0])[:top]
    calls = counts.get(contender, {}).get("functions", {})
    return {"total_us": sum(v[0] for v in extra.values()), "own_us": sum(v[0] for v in own.values()),
            "by_owner": by_owner,
            "functions": [{"where": where(*k), "owner": owner(k[0]), "self_us": v[0],
                           "calls": calls.get(where(*k), [None, None])[1]} for k, v in rows]}


def section(steps: int, count_steps: int, top: int) -> dict:
    """Everything the docs section needs, measured on the tiny model with pre-cut batches."""
    names = [c for c in CONTENDERS if available(c)]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        counts = pycalls.measure(names, count_steps, "tensors", "tiny")
        hand = profile("hand", steps, "tensors", "tiny")
        extra = {c: extra_over_hand(c, hand, steps, counts, top) for c in ("statetrainer", "statetrainer-defaults")}
    return {"steps": steps, "count_steps": count_steps, "hand_profiled_us": sum(v[0] for v in hand.values()),
            "calls": counts, "extra": extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", nargs="?", default="statetrainer", choices=CONTENDERS)
    parser.add_argument("--against", choices=CONTENDERS, default=None, help="subtract this contender's profile")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    parser.add_argument("--only", default=None, help="keep functions whose location contains this text")
    parser.add_argument("--data", choices=DATA, default="loader", help="DataLoader or pre-cut batches")
    parser.add_argument("--model", default="tiny", help="the workload's model size")
    parser.add_argument("--markdown", action="store_true", help="print the docs section (tiny model, pre-cut)")
    parser.add_argument("--quick", action="store_true", help="with --markdown: fewer steps")
    parser.add_argument("--result", default=None, help="with --markdown: also write the JSON here")
    args = parser.parse_args()
    if not args.markdown:
        ad_hoc(args)
        return
    import hotspots_report
    result = section(100 if args.quick else args.steps, 20 if args.quick else 100, 12 if args.top == 25 else args.top)
    result["markdown"] = hotspots_report.render(result)
    print(result["markdown"])
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
