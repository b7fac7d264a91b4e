"""The Markdown of hotspots.py's section "Where the remaining per-step cost goes" (no torch import)."""
from __future__ import annotations

from report import LABELS

# the work every contender does (the model, the loss, the optimizer; C functions they call): its
# difference to the hand loop is noise, so the function table lists only what lies outside it
SHARED = ("torch", "builtins", "benchmark module")

FRAMEWORKS = {"statetrainer": "statetrainer", "ignite": "ignite", "lightning": "lightning",
              "lightning_fabric": "lightning", "lightning_utilities": "lightning", "torchmetrics": "lightning"}
COLUMNS = ("torch", "stdlib", "benchmark module")


def _split(by_owner: dict) -> tuple[float, dict, dict]:
    """(calls in the framework itself, calls per named column, calls elsewhere by owner)."""
    framework = sum(n for o, n in by_owner.items() if o in FRAMEWORKS)
    columns = {c: by_owner.get(c, 0.0) for c in COLUMNS}
    rest = {o: n for o, n in by_owner.items() if o not in FRAMEWORKS and o not in COLUMNS}
    return framework, columns, rest


def _elsewhere(rest: dict) -> str:
    total = sum(rest.values())
    named = ", ".join(f"{o} {n:.1f}" for o, n in sorted(rest.items(), key=lambda kv: -kv[1]) if n >= 0.05)
    return f"{total:.1f}" + (f" ({named})" if named else "")


def calls_table(result: dict) -> list[str]:
    counts, n = result["calls"], result["count_steps"]
    hand = counts["hand"]["python"]
    lines = [f"**Python calls per training step** (exact, `sys.setprofile`: a fit of {3 * n} steps minus a fit of "
             f"{n}, divided by {2 * n}; tiny model, pre-cut batches):", "",
             "| contender | Python calls/step | over the hand loop | in the framework | in torch | in the stdlib "
             "| in the benchmark's module | elsewhere | C calls/step |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, c in counts.items():
        framework, columns, rest = _split(c["by_owner"])
        lines.append(f"| {LABELS[name]} | {c['python']:.1f} | {c['python'] - hand:+.1f} | {framework:.1f} | "
                     + " | ".join(f"{columns[k]:.1f}" for k in COLUMNS) + f" | {_elsewhere(rest)} | {c['c']:.1f} |")
    return lines


def _calls(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _owners(by_owner: dict) -> str:
    ranked = sorted(((o, us) for o, us in by_owner.items() if o not in SHARED), key=lambda kv: -abs(kv[1]))
    return ", ".join(f"{o} {us:+.1f}" for o, us in ranked if abs(us) >= 0.5)


def extra_table(name: str, extra: dict, result: dict) -> list[str]:
    own, short = extra["own_us"], max(1, result["steps"] // 5)
    shared = sum(us for o, us in extra["by_owner"].items() if o in SHARED)
    lines = ["", f"**{LABELS[name]}: self time per step outside the shared work** (cProfile; fits of "
             f"{result['steps']} and {short} steps, the difference per step, minus the hand loop's; the hand loop "
             f"itself {result['hand_profiled_us']:.0f} µs/step under the profiler): {own:+.1f} µs/step in the "
             f"framework and the libraries it calls, by owner: {_owners(extra['by_owner'])}. The shared work "
             f"(torch, the module's own code, C functions they call) differs from the hand loop's by {shared:+.1f} "
             "µs/step: the same work, so that difference is noise.", "",
             "| function | owner | calls/step (exact) | self µs/step | share of that |",
             "|---|---|---:|---:|---:|"]
    for f in extra["functions"]:
        share = f["self_us"] / own if own > 0 else 0.0
        lines.append(f"| `{f['where']}` | {f['owner']} | {_calls(f['calls'])} | {f['self_us']:.1f} | {share:.0%} |")
    return lines


def render(result: dict) -> str:
    lines = calls_table(result)
    for name, extra in result["extra"].items():
        lines += extra_table(name, extra, result)
    return "\n".join(lines)
