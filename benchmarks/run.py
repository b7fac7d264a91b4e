"""`make bench`: whole-loop overhead of statetrainer vs a hand-written loop (and Lightning), import cost, micro-costs.

    python benchmarks/run.py                 # 5 interleaved rounds of 1000 steps, import time, micro-costs
    python benchmarks/run.py --rounds 9      # more rounds on a noisy machine
    python benchmarks/run.py --quick         # smoke run: 1 round of 50 steps, nothing written
    python benchmarks/run.py --render benchmarks/results.json   # print the report of a saved run again

Every (contender, data mode, round) runs in a fresh subprocess (benchmarks/worker.py), rounds
interleaved (hand, statetrainer, lightning, ..., hand, statetrainer, ...). Two data modes: a torch
DataLoader over a TensorDataset, and the same batches cut beforehand (no per-batch data cost), each
with its own hand loop. Medians over rounds; ratios are to the hand-written loop on the same data
measured in the same run. Writes benchmarks/results.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import report

HERE = os.path.dirname(os.path.abspath(__file__))
CONTENDERS = ("hand", "statetrainer", "lightning", "statetrainer-defaults", "lightning-defaults")


def _script(name: str) -> str:
    return os.path.join(HERE, name)


def run_json(args: list[str], label: str) -> dict:
    """Run a benchmark script in a fresh interpreter that writes JSON to the path passed as --result."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        proc = subprocess.run([sys.executable, *args, "--result", out], capture_output=True, text=True, cwd=tmp)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"{label} failed with exit status {proc.returncode}")
        with open(out) as f:
            return json.load(f)


def contenders(only: list[str] | None) -> list[str]:
    chosen = list(only or CONTENDERS)
    if importlib.util.find_spec("lightning") is None:
        print("lightning is not installed: its rows are skipped", file=sys.stderr)
        chosen = [c for c in chosen if not c.startswith("lightning")]
    if "hand" not in chosen:
        chosen.insert(0, "hand")
    return chosen


def loop_rounds(names: list[str], datas: list[str], rounds: int, steps: int, val_batches: int,
                warmup: int) -> list[dict]:
    """Every (data, contender) once per round, rounds interleaved; each run a fresh process."""
    results = []
    for r in range(rounds):
        for data in datas:
            for name in names:
                args = [_script("worker.py"), name, "--steps", str(steps), "--val-batches", str(val_batches),
                        "--warmup", str(warmup), "--data", data]
                res = run_json(args, f"{name} on {data} (round {r + 1})")
                res["round"], res["key"] = r, report.key(name, data)
                results.append(res)
                print(f"  round {r + 1}/{rounds} {res['key']:<30} {res['wall_s']:7.3f} s wall "
                      f"{res['cpu_s']:7.3f} s cpu", file=sys.stderr, flush=True)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--steps", type=int, default=1000, help="timed training steps per run (default 1000)")
    p.add_argument("--val-batches", type=int, default=100, help="validation batches after the epoch (default 100)")
    p.add_argument("--warmup", type=int, default=50, help="untimed warm-up steps per process (default 50)")
    p.add_argument("--only", nargs="+", choices=CONTENDERS, help="run only these contenders (hand is always run)")
    p.add_argument("--data", choices=("loader", "tensors", "both"), default="both",
                   help="feed batches through a DataLoader, as pre-cut tensors, or both (default; two tables)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 50 steps, 5 val batches, no output file")
    p.add_argument("--no-import", action="store_true", help="skip the import-time measurement")
    p.add_argument("--no-micro", action="store_true", help="skip the micro-costs")
    p.add_argument("--out", default=None, help="results file (default benchmarks/results.json; none with --quick)")
    p.add_argument("--render", metavar="RESULTS_JSON", help="only print the report of a saved results file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.val_batches, args.warmup = 1, 50, 5, 5
    if args.out is None and not args.quick:
        args.out = os.path.join(HERE, "results.json")
    if args.rounds < 1 or args.steps < 1 or args.val_batches < 1:
        p.error(f"--rounds/--steps/--val-batches got {args.rounds}/{args.steps}/{args.val_batches}; accepted: >= 1")
    return args


def render_saved(path: str) -> int:
    with open(path) as f:
        saved = json.load(f)
    summary = report.summarize(saved["runs"], saved["settings"]["steps"])
    print(report.render(summary, saved["import_time"], saved["micro"], saved["machine"], saved["settings"]))
    return 0 if report.all_agree(summary) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_saved(args.render)
    names = contenders(args.only)
    datas = ["loader", "tensors"] if args.data == "both" else [args.data]
    machine = report.machine_info()
    print(f"# {len(names)} contenders x {len(datas)} data modes x {args.rounds} rounds, {args.steps} steps each ...",
          file=sys.stderr)
    loops = loop_rounds(names, datas, args.rounds, args.steps, args.val_batches, args.warmup)
    machine["loadavg_after"] = os.getloadavg()
    imports = None if args.no_import else run_json(
        [_script("import_time.py"), "--rounds", "1" if args.quick else "7"], "import_time.py")
    micro = None if args.no_micro else run_json(
        [_script("micro.py")] + (["--quick"] if args.quick else []), "micro.py")
    machine["commit_after"], machine["statetrainer_uncommitted_after"] = report.source_state()
    summary = report.summarize(loops, args.steps)
    print(report.render(summary, imports, micro, machine, vars(args)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"settings": vars(args), "machine": machine, "summary": summary, "runs": loops,
                       "import_time": imports, "micro": micro}, f, indent=1)
            f.write("\n")
        print(f"\nwritten: {os.path.relpath(args.out)}", file=sys.stderr)
    return 0 if report.all_agree(summary) else 1


if __name__ == "__main__":
    raise SystemExit(main())
