"""The Markdown report of a benchmark run, and what it records about the machine (no torch import: run.py stays light)."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import subprocess
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = {
    "hand": "hand-written loop",
    "hand-clear": "hand-written loop, gradients cleared with `p.grad = None` (reference)",
    "ignite": "Ignite, bare `Engine` with a hand-written step",
    "statetrainer": "statetrainer, all extras off",
    "ignite-supervised": "Ignite, `create_supervised_trainer`",
    "statetrainer-defaults": "statetrainer, defaults (TB logger, checkpoint, summary, self.log)",
    "lightning": "Lightning, all extras off",
    "lightning-defaults": "Lightning, defaults (TB logger, checkpoint, summary, self.log)",
}
TARGET_CASE = "tiny/tensors"  # the issue's targets hold for the tiny model with pre-cut batches
TARGETS = {"statetrainer": 1.05, "statetrainer-defaults": 1.20}  # CPU time, whole fit, x the hand loop
# the ratios issue 10 measured on a quiet machine before the per-batch rework (reference only)
ISSUE_RATIOS = {"ignite": 1.11, "statetrainer": 1.28, "ignite-supervised": 1.35, "statetrainer-defaults": 1.78,
                "lightning": 3.29, "lightning-defaults": 6.30}


def available(contender: str) -> bool:
    """Whether the package a contender needs (lightning, ignite) is installed."""
    package = contender.split("-")[0]
    return package not in ("lightning", "ignite") or importlib.util.find_spec(package) is not None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def source_fingerprint() -> str:
    """A hash of every file under statetrainer/: it changes with any edit, committed or not."""
    h = hashlib.sha256()
    package = os.path.join(ROOT, "statetrainer")
    for folder, dirs, files in sorted(os.walk(package)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if not f.endswith(".pyc")):
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, package).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:12]


def source_state() -> dict:
    """The short commit, whether statetrainer/ has uncommitted edits, and its fingerprint (the source may
    change during a run: the report compares the fingerprints before and after)."""
    return {"commit": _git("rev-parse", "--short", "HEAD"),
            "statetrainer_uncommitted": bool(_git("status", "--porcelain", "--", "statetrainer")),
            "statetrainer_fingerprint": source_fingerprint()}


def machine_info() -> dict:
    """The machine, the versions, and which statetrainer source was measured (commit, uncommitted edits)."""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": _version("torch"), "lightning": _version("lightning"), "ignite": _version("pytorch-ignite"),
            "statetrainer": _version("statetrainer"),
            **source_state(), "loadavg_before": os.getloadavg()}


DATA_TITLES = {"loader": "data through a torch DataLoader (TensorDataset, shuffled)",
               "tensors": "data as batches cut beforehand (no per-batch data cost)"}


def _target(s: dict) -> str:
    if s["target"]:
        limit, met = s["target"]["limit"], s["target"]["met"]
        return f"<= {limit:.2f}: {'**met**' if met else 'missed'}"
    if s["case"] == TARGET_CASE and s["contender"] in ISSUE_RATIOS:
        return f"(issue, before: {ISSUE_RATIOS[s['contender']]:.2f})"
    return ""


def _main_table(part: list[dict]) -> list[str]:
    rows = ["| configuration | CPU µs/step | IQR (CPU) | x hand (CPU) | x hand (per-round CPU) | wall µs/step "
            "| x hand (wall) | target | same weights |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for s in part:
        c, w = s["cpu"], s["wall"]
        rows.append(f"| {LABELS[s['contender']]} | {c['median']:.0f} | {c['q1']:.0f}-{c['q3']:.0f} | "
                    f"{s['ratio_cpu']:.2f} | {s['per_round_ratio_cpu']:.2f} | {w['median']:.0f} | {s['ratio_wall']:.2f} | "
                    f"{_target(s)} | {'yes' if s['same_weights_as_hand'] else 'NO'} |")
    return rows


def _split_table(part: list[dict]) -> list[str]:
    if any(s.get("extra_marginal_us") is None for s in part):
        return []
    rows = ["", "| configuration | marginal CPU µs/step | x hand (marginal) | extra µs/step over hand "
            "| fixed CPU ms per fit | extra ms per fit over hand |",
            "|---|---:|---:|---:|---:|---:|"]
    for s in part:
        rows.append(f"| {LABELS[s['contender']]} | {s['marginal_us']:.0f} | {s['ratio_marginal']:.2f} | "
                    f"{s['extra_marginal_us']:+.0f} | {s['fixed_ms']:.1f} | {s['extra_fixed_ms']:+.1f} |")
    return rows


def _loop_tables(summary: dict) -> list[str]:
    lines = []
    for case in dict.fromkeys(s["case"] for s in summary.values()):
        part = [s for s in summary.values() if s["case"] == case]
        first = part[0]
        note = " (the issue's targets hold here)" if case == TARGET_CASE else ""
        lines += ["", f"**{first['model']}: {first['model_desc']}, {DATA_TITLES[first['data']]}**{note}", ""]
        lines += _main_table(part) + _split_table(part)
    return lines


def paired_lines(paired: dict | None) -> list[str]:
    """The paired table (benchmarks/paired.py): the target case's contenders taking turns in one process."""
    if not paired:
        return []
    lines = ["", f"**Paired in one process** (tiny model, pre-cut batches; {paired['rounds']} rounds of "
             f"{paired['steps']}-step fits, the contenders taking turns; ratio = the median of each round's fit over "
             "the hand loop's fit of the same round, with its quartiles; the targets are judged here, see "
             "docs/benchmarks.md)", "",
             "| configuration | CPU µs/step | x hand (paired) | quartiles of the ratio | target | same weights |",
             "|---|---:|---:|---:|---|---|"]
    for name, row in paired["summary"].items():
        limit = TARGETS.get(name)
        target = f"<= {limit:.2f}: {'**met**' if row['ratio'] <= limit else 'missed'}" if limit else ""
        lines.append(f"| {LABELS[name]} | {row['us_per_step']:.0f} | {row['ratio']:.2f} | "
                     f"{row['ratio_q1']:.2f}-{row['ratio_q3']:.2f} | {target} | "
                     f"{'yes' if row['same_weights_as_hand'] else 'NO'} |")
    return lines


def _import_lines(imports: dict | None) -> list[str]:
    if not imports:
        return []
    lines = ["", f"**Import cost**: `import statetrainer` after `import torch`: {imports['extra_ms']:.0f} ms wall, "
             f"{imports['extra_cpu_ms']:.0f} ms CPU, bytecode cached (median of {imports['rounds']}; "
             f"`import torch` itself {imports['torch_ms']:.0f} ms; target < 150 ms). As this environment runs it "
             f"(PYTHONDONTWRITEBYTECODE={imports['dont_write_bytecode_env']!r}, sources compiled on every import): "
             f"{imports['extra_ms_env']:.0f} ms."
             + (f" Of the cached wall time, {imports['gc_ms']:.0f} ms went to garbage collections inside the import "
                f"(after `import torch` the first full collection walks every object torch made and lands on whatever "
                f"allocates enough next: the import itself, or else the user's next lines); without them: "
                f"{imports['own_ms']:.0f} ms." if "gc_ms" in imports else ""),
             "", "Largest cumulative imports under statetrainer (`python -X importtime`, one run):", "",
             "| module | cumulative ms |", "|---|---:|"]
    lines += [f"| {m} | {ms:.1f} |" for m, ms in imports["top"]]
    return lines


def _micro_lines(micro: dict | None) -> list[str]:
    if not micro:
        return []
    lines = ["", "**Micro-costs** (the machinery alone, per call, best repeat):", "", "| operation | us per call |", "|---|---:|"]
    lines += [f"| {row['name']} | {row['us']:.2f} |" for row in micro["rows"]]
    over = micro.get("overhead")
    if over:
        hand = over["hand_us_per_batch"]
        parts = [f"{name} {over[f'{name}_us_per_batch']:.0f} us (+{over[f'{name}_extra_us_per_batch']:.0f} us, "
                 f"{over[f'{name}_us_per_batch'] / hand:.2f}x)" for name in ("statetrainer", "lightning")
                 if f"{name}_us_per_batch" in over]
        lines += ["", f"Typical training batch (median interval between batch starts, same workload, "
                  f"{micro.get('overhead_rounds', '?')} interleaved runs of each in one process): hand loop "
                  f"{hand:.0f} us, " + ", ".join(parts) + "."]
    if micro.get("per_batch"):
        pb = micro["per_batch"]
        lines += ["", "Per training batch (bare config) statetrainer makes "
                  + ", ".join(f"{n:g} `{k}`" for k, n in pb.items()) + "."]
    return lines


def _source(machine: dict) -> str:
    text = f"{machine['commit'] or '?'}{' plus uncommitted edits' if machine['statetrainer_uncommitted'] else ''}"
    if machine.get("statetrainer_fingerprint_after") != machine.get("statetrainer_fingerprint"):
        text += " (WARNING: the statetrainer source changed during the run)"
    return text


def render(summary: dict, imports: dict | None, micro: dict | None, machine: dict, args: dict,
           hotspots: str | None = None, paired: dict | None = None) -> str:
    short = f" and {args['short_steps']}" if args.get("short_steps") else ""
    head = [f"SGD, fits of {args['steps']}{short} training steps, each + {args['val_batches']} validation batches, "
            f"torch.set_num_threads(1); {args['rounds']} interleaved rounds, fresh process per contender and round, "
            "medians. 'µs/step' = the whole fit's time / its steps; marginal = (T_long - T_short) / (steps_long - "
            "steps_short); fixed = T_short - steps_short x marginal.",
            f"Machine: {machine['processor']}, {machine['cpus']} CPUs, Python {machine['python']}, torch "
            f"{machine['torch']}, lightning {machine['lightning']}, pytorch-ignite {machine.get('ignite', '?')}; "
            f"load average before/after {machine['loadavg_before'][0]:.1f}/{machine['loadavg_after'][0]:.1f}; "
            f"statetrainer at commit {_source(machine)}."]
    lines = head + _loop_tables(summary) + paired_lines(paired) + _import_lines(imports) + _micro_lines(micro)
    if hotspots:
        lines += ["", hotspots]
    if not all(s["same_weights_as_hand"] for s in [*summary.values(), *(paired or {}).get("summary", {}).values()]):
        lines += ["", "WARNING: some contender ended with different weights than the hand loop."]
    if machine.get("foreign_statetrainer"):
        lines += ["", f"WARNING: the workers imported statetrainer from {machine['foreign_statetrainer']}, "
                  "not from this checkout."]
    return "\n".join(lines)
