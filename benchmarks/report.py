"""Summaries and the Markdown table of a benchmark run (no torch import: run.py stays light)."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
from importlib import metadata

LABELS = {
    "hand": "hand-written loop",
    "statetrainer": "statetrainer, all extras off",
    "lightning": "Lightning, all extras off",
    "statetrainer-defaults": "statetrainer, defaults (TB logger, checkpoint, summary, self.log)",
    "lightning-defaults": "Lightning, defaults (TB logger, checkpoint, summary, self.log)",
}
# target ratio to the hand loop (statetrainer) or the reference measurement (Lightning)
TARGETS = {"statetrainer": "<= 1.10", "statetrainer-defaults": "<= 1.30",
           "lightning": "(issue: ~2.5)", "lightning-defaults": "(issue: ~4.5)"}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _git(*args: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def source_state() -> tuple[str, bool]:
    """(short commit, whether statetrainer/ has uncommitted edits): the tree may change during a run."""
    return _git("rev-parse", "--short", "HEAD"), bool(_git("status", "--porcelain", "--", "statetrainer"))


def machine_info() -> dict:
    """The machine, the versions, and which statetrainer source was measured (commit, uncommitted edits)."""
    commit, dirty = source_state()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": _version("torch"), "lightning": _version("lightning"), "statetrainer": _version("statetrainer"),
            "commit": commit, "statetrainer_uncommitted": dirty,
            "loadavg_before": os.getloadavg()}


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def _stats(xs: list[float], scale: float) -> dict:
    xs = [x * scale for x in xs]
    q1, q3 = _quartiles(xs)
    return {"median": statistics.median(xs), "q1": q1, "q3": q3, "min": min(xs), "max": max(xs)}


def key(contender: str, data: str) -> str:
    return f"{contender}@{data}"


def summarize(runs: list[dict], steps: int) -> dict:
    """Per contender and data mode: wall and CPU stats in seconds per 1000 steps, ratios to the hand loop
    on the same data, whether the final weights equal the hand loop's."""
    scale = 1000 / steps
    out = {}
    for k in dict.fromkeys(r["key"] for r in runs):
        mine = [r for r in runs if r["key"] == k]
        hand = {r["round"]: r for r in runs if r["key"] == key("hand", mine[0]["data"])}
        wall, cpu = _stats([r["wall_s"] for r in mine], scale), _stats([r["cpu_s"] for r in mine], scale)
        out[k] = {"contender": mine[0]["contender"], "data": mine[0]["data"], "wall": wall, "cpu": cpu,
                  "rounds": len(mine),
                  "per_round_ratio_median": statistics.median(r["wall_s"] / hand[r["round"]]["wall_s"] for r in mine),
                  "same_weights_as_hand": all(r["checksum"] == hand[r["round"]]["checksum"] for r in mine),
                  "val_loss": mine[0]["val_loss"]}
    for s in out.values():
        ref = out[key("hand", s["data"])]
        s["ratio_wall"] = s["wall"]["median"] / ref["wall"]["median"]
        s["ratio_cpu"] = s["cpu"]["median"] / ref["cpu"]["median"]
        s["ratio_cpu_best"] = s["cpu"]["min"] / ref["cpu"]["min"]
    return out


def all_agree(summary: dict) -> bool:
    return all(s["same_weights_as_hand"] for s in summary.values())


DATA_TITLES = {"loader": "Data through a torch DataLoader (TensorDataset, shuffled)",
               "tensors": "Data as batches cut beforehand (no per-batch data cost)"}


def _loop_tables(summary: dict) -> list[str]:
    lines = []
    for data in dict.fromkeys(s["data"] for s in summary.values()):
        part = {k: s for k, s in summary.items() if s["data"] == data}
        lines += ["", f"**{DATA_TITLES[data]}**", ""] + _loop_table(part)
    return lines


def _loop_table(summary: dict) -> list[str]:
    rows = ["| configuration | median s / 1000 steps (wall) | IQR (wall) | x hand (medians) "
            "| x hand (median of per-round ratios) | median CPU s | x hand (CPU medians) | target | same weights |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for s in summary.values():
        w, c, name = s["wall"], s["cpu"], s["contender"]
        rows.append(f"| {LABELS[name]} | {w['median']:.3f} | {w['q1']:.3f}-{w['q3']:.3f} | {s['ratio_wall']:.2f} "
                    f"| {s['per_round_ratio_median']:.2f} | {c['median']:.3f} | {s['ratio_cpu']:.2f} "
                    f"| {TARGETS.get(name, '')} | {'yes' if s['same_weights_as_hand'] else 'NO'} |")
    return rows


def _import_lines(imports: dict | None) -> list[str]:
    if not imports:
        return []
    lines = ["", f"**Import cost**: `import statetrainer` after `import torch`: {imports['extra_ms']:.0f} ms wall, "
             f"{imports['extra_cpu_ms']:.0f} ms CPU, bytecode cached (median of {imports['rounds']}; "
             f"`import torch` itself {imports['torch_ms']:.0f} ms; target < 150 ms). As this environment runs it "
             f"(PYTHONDONTWRITEBYTECODE={imports['dont_write_bytecode_env']!r}, sources compiled on every import): "
             f"{imports['extra_ms_env']:.0f} ms.",
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
    after = (machine.get("commit_after"), machine.get("statetrainer_uncommitted_after"))
    if after != (machine["commit"], machine["statetrainer_uncommitted"]):
        text += " (WARNING: the statetrainer source changed during the run)"
    return text


def render(summary: dict, imports: dict | None, micro: dict | None, machine: dict, args: dict) -> str:
    head = [f"MLP 32-64-10, batch 32, SGD, {args['steps']} steps + {args['val_batches']} validation batches, "
            f"torch.set_num_threads(1); {args['rounds']} interleaved rounds, fresh process per run, medians.",
            f"Machine: {machine['processor']}, {machine['cpus']} CPUs, Python {machine['python']}, torch "
            f"{machine['torch']}, lightning {machine['lightning']}; load average before/after "
            f"{machine['loadavg_before'][0]:.1f}/{machine['loadavg_after'][0]:.1f}; statetrainer at commit "
            f"{_source(machine)}."]
    lines = head + _loop_tables(summary) + _import_lines(imports) + _micro_lines(micro)
    if not all_agree(summary):
        lines += ["", "WARNING: some contender ended with different weights than the hand loop."]
    return "\n".join(lines)
