"""`make bench`: what statetrainer costs per step and per fit on top of a hand-written loop, next to
Ignite and Lightning; import cost; micro-costs; where the remaining per-step cost goes.

    python benchmarks/run.py                 # 5 interleaved rounds, every contender and case, everything
    python benchmarks/run.py --rounds 9      # more rounds on a noisy machine
    python benchmarks/run.py --model tiny --data tensors --only statetrainer   # the target case, hand + statetrainer
    python benchmarks/run.py --quick         # smoke run: 1 round of 50 (and 10) steps, nothing written
    python benchmarks/run.py --render benchmarks/results.json   # print the report of a saved run again

Contenders (benchmarks/worker.py): the hand loop, Ignite (a bare Engine, create_supervised_trainer),
statetrainer and Lightning (all extras off; defaults). Cases: a model size and a data mode
(`CASES`; by default the tiny model with pre-cut batches and through a DataLoader, the medium
model with pre-cut batches). Every (contender, case, round) runs in a fresh subprocess that times
a long and a short fit (their difference splits the per-step from the per-fit cost); rounds are
interleaved. Ratios are to the hand loop on the same case in the same run. Writes
benchmarks/results.json (not with --quick).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import report
import summary as summaries

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONTENDERS = tuple(report.LABELS)  # in the order they run and are reported
CASES = ("tiny/tensors", "tiny/loader", "medium/tensors", "medium/loader")
DEFAULT_CASES = CASES[:3]
FORMAT = 2  # of results.json; 1 (no "format" field) was the harness before the Ignite rows and the split


def _script(name: str) -> str:
    return os.path.join(HERE, name)


def run_json(args: list[str], label: str) -> dict:
    """Run a benchmark script in a fresh interpreter that writes JSON to the path passed as --result.

    PYTHONPATH puts this checkout first, so the script's statetrainer is this checkout's."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        proc = subprocess.run([sys.executable, *args, "--result", out], capture_output=True, text=True, cwd=tmp,
                              env=env)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"{label} failed with exit status {proc.returncode}")
        with open(out) as f:
            return json.load(f)


def contenders(only: list[str] | None) -> list[str]:
    chosen = [c for c in CONTENDERS if c in (only or CONTENDERS)]
    missing = [c for c in chosen if not report.available(c)]
    if missing:
        print(f"skipped, their package is not installed: {' '.join(missing)}", file=sys.stderr)
    chosen = [c for c in chosen if c not in missing]
    return chosen if "hand" in chosen else ["hand", *chosen]


def chosen_cases(args: argparse.Namespace) -> list[str]:
    """--cases, narrowed by --model and --data."""
    cases = [c for c in args.cases if args.model in ("all", c.split("/")[0]) and args.data in ("all", c.split("/")[1])]
    if not cases:
        raise SystemExit(f"no case left: --cases {' '.join(args.cases)} with --model {args.model} and "
                         f"--data {args.data}; name the case with --cases, e.g. --cases medium/loader")
    return cases


def one_process(name: str, case: str, r: int, args: argparse.Namespace) -> dict:
    model, data = case.split("/")
    cmd = [_script("worker.py"), name, "--steps", str(args.steps), "--short-steps", str(args.short_steps),
           "--val-batches", str(args.val_batches), "--warmup", str(args.warmup), "--data", data, "--model", model]
    res = run_json(cmd + (["--short-first"] if r % 2 else []), f"{name} on {case} (round {r + 1})")
    res["round"], res["case"], res["key"] = r, case, summaries.key(name, case)
    return res


def loop_rounds(names: list[str], cases: list[str], args: argparse.Namespace) -> list[dict]:
    """Every (case, contender) once per round, rounds interleaved; each in a fresh process."""
    results = []
    for r in range(args.rounds):
        for case in cases:
            for name in names:
                res = one_process(name, case, r, args)
                results.append(res)
                short = f", {res['short']['cpu_s']:6.3f} s cpu for {res['short']['steps']}" if res["short"] else ""
                print(f"  round {r + 1}/{args.rounds} {res['key']:<36} {res['wall_s']:7.3f} s wall "
                      f"{res['cpu_s']:7.3f} s cpu{short}", file=sys.stderr, flush=True)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--steps", type=int, default=1000, help="training steps of the long fit (default 1000)")
    p.add_argument("--short-steps", type=int, default=100, help="training steps of the short fit (default 100; 0: none)")
    p.add_argument("--val-batches", type=int, default=100, help="validation batches after each fit (default 100)")
    p.add_argument("--warmup", type=int, default=50, help="untimed warm-up steps per process (default 50)")
    p.add_argument("--only", nargs="+", choices=CONTENDERS, help="run only these contenders (hand is always run)")
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(DEFAULT_CASES),
                   help=f"model/data cases (default {' '.join(DEFAULT_CASES)})")
    p.add_argument("--model", choices=("tiny", "medium", "all"), default="all", help="keep only this model's cases")
    p.add_argument("--data", choices=("tensors", "loader", "all"), default="all", help="keep only this data mode's cases")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 50 and 10 steps, 5 val batches, no file")
    p.add_argument("--no-import", action="store_true", help="skip the import-time measurement")
    p.add_argument("--no-micro", action="store_true", help="skip the micro-costs")
    p.add_argument("--no-profile", action="store_true", help="skip the call counts and the profile (hotspots.py)")
    p.add_argument("--no-paired", action="store_true", help="skip the paired fits in one process (paired.py)")
    p.add_argument("--paired-rounds", type=int, default=15, help="rounds of the paired fits (default 15)")
    p.add_argument("--out", default=None, help="results file (default benchmarks/results.json; none with --quick)")
    p.add_argument("--render", metavar="RESULTS_JSON", help="only print the report of a saved results file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.short_steps, args.val_batches, args.warmup = 1, 50, 10, 5, 5
    if args.out is None and not args.quick:
        args.out = os.path.join(HERE, "results.json")
    if args.rounds < 1 or args.steps < 1 or args.val_batches < 1:
        p.error(f"--rounds/--steps/--val-batches got {args.rounds}/{args.steps}/{args.val_batches}; accepted: >= 1")
    if not 0 <= args.short_steps < args.steps:
        p.error(f"--short-steps got {args.short_steps}; accepted: 0 (no short fit) up to --steps - 1 ({args.steps - 1})")
    return args


def render_saved(path: str) -> int:
    with open(path) as f:
        saved = json.load(f)
    if saved.get("format") != FORMAT:
        raise SystemExit(f"{path} was written by an older harness (format {saved.get('format', 1)}, this one reads "
                         f"{FORMAT}); run `make bench` again")
    result = summaries.summarize(saved["runs"])
    print(report.render(result, saved["import_time"], saved["micro"], saved["machine"], saved["settings"],
                        (saved.get("hotspots") or {}).get("markdown"), saved.get("paired")))
    return 0 if summaries.all_agree(result) and _paired_agree(saved.get("paired")) else 1


def _paired_agree(paired: dict | None) -> bool:
    return paired is None or all(row["same_weights_as_hand"] for row in paired["summary"].values())


def paired_fits(args: argparse.Namespace, names: list[str]) -> dict | None:
    """The target case's contenders taking turns in one process (benchmarks/paired.py), unless switched off."""
    if args.no_paired or "tiny/tensors" not in chosen_cases(args):
        return None
    chosen = [n for n in names if n in ("hand-clear", "ignite", "statetrainer", "statetrainer-defaults")]
    if not chosen:
        return None
    rounds, steps = (2, args.steps) if args.quick else (args.paired_rounds, args.steps)
    return run_json([_script("paired.py"), "--rounds", str(rounds), "--steps", str(steps), "--val-batches",
                     str(args.val_batches), "--warmup", str(args.warmup), "--only", *chosen], "paired.py")


def foreign_statetrainer(runs: list[dict]) -> str | None:
    """A statetrainer source some worker imported that is not this checkout's, if any."""
    mine = os.path.join(ROOT, "statetrainer")
    seen = {r["statetrainer_source"] for r in runs if r.get("statetrainer_source")}
    return next((s for s in sorted(seen) if s != mine), None)


def extras(args: argparse.Namespace) -> tuple[dict | None, dict | None, dict | None]:
    """(import cost, micro-costs, hotspots section), each unless switched off."""
    imports = None if args.no_import else run_json(
        [_script("import_time.py"), "--rounds", "1" if args.quick else "7"], "import_time.py")
    micro = None if args.no_micro else run_json(
        [_script("micro.py")] + (["--quick"] if args.quick else []), "micro.py")
    hotspots = None if args.no_profile else run_json(
        [_script("hotspots.py"), "--markdown"] + (["--quick"] if args.quick else []), "hotspots.py")
    return imports, micro, hotspots


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_saved(args.render)
    names, cases = contenders(args.only), chosen_cases(args)
    machine = report.machine_info()
    print(f"# {len(names)} contenders x {len(cases)} cases x {args.rounds} rounds, {args.steps} and "
          f"{args.short_steps} steps ...", file=sys.stderr)
    loops = loop_rounds(names, cases, args)
    paired = paired_fits(args, names)
    machine["loadavg_after"] = os.getloadavg()
    machine["foreign_statetrainer"] = foreign_statetrainer(loops)
    imports, micro, hotspots = extras(args)
    machine.update({f"{k}_after": v for k, v in report.source_state().items()})
    result = summaries.summarize(loops)
    print(report.render(result, imports, micro, machine, vars(args), (hotspots or {}).get("markdown"), paired))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"format": FORMAT, "settings": vars(args), "machine": machine, "summary": result, "runs": loops,
                       "import_time": imports, "micro": micro, "hotspots": hotspots, "paired": paired}, f, indent=1)
            f.write("\n")
        print(f"\nwritten: {os.path.relpath(args.out)}", file=sys.stderr)
    return 0 if summaries.all_agree(result) and _paired_agree(paired) else 1


if __name__ == "__main__":
    raise SystemExit(main())
