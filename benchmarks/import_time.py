"""What `import statetrainer` costs on top of `import torch` (target: under 150 ms).

    python benchmarks/import_time.py [--rounds 7] [--result out.json]

Each round is a fresh interpreter that imports torch, then statetrainer, timing both. The report
is the median of the statetrainer part, plus the heaviest modules statetrainer pulls in that torch
did not already load (from `python -X importtime`, one run).

Bytecode: an installed package imports from cached .pyc files. This environment may set
PYTHONDONTWRITEBYTECODE=1, which makes every import of the source tree compile from scratch, so
the headline number ("cached") runs with bytecode writing on and a cache folder outside the tree
(benchmarks/out/pycache, gitignored; primed by one untimed import), and the number "as this
environment runs it" (inherited settings) is reported beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

# gc.callbacks time every garbage collection that runs inside `import statetrainer`: after `import torch`
# the next full (generation 2) collection walks torch's whole object graph (~80 ms here), and it falls
# on whatever allocates next: the import, or the user's first lines when the import allocates less.
_TIMED = ("import gc, time; w, c = time.perf_counter, time.process_time; w0, c0 = w(), c(); import torch; "
          "spent = []; began = []; "
          "gc.callbacks.append(lambda phase, info: began.append(w()) if phase == 'start' "
          "else spent.append(w() - began.pop())); "
          "w1, c1 = w(), c(); import statetrainer; w2, c2 = w(), c(); gc.callbacks.clear(); "
          "print(w1 - w0, w2 - w1, c2 - c1, sum(spent))")


PYCACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "pycache")


def cached_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


def one_round(env: dict | None) -> tuple[float, float, float, float]:
    """(torch wall ms, statetrainer wall ms, statetrainer CPU ms, of that wall in garbage collection ms)
    from one fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _TIMED], capture_output=True, text=True, check=True,
                         env=env).stdout
    return tuple(float(x) * 1000 for x in out.split())


def top_imports(n: int = 12) -> list[tuple[str, float]]:
    """The n largest cumulative import times (ms) among modules first loaded by `import statetrainer`."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import torch; import statetrainer"],
                         capture_output=True, text=True, check=True, env=cached_env()).stderr.splitlines()
    rows = [line.split("|") for line in err if line.startswith("import time:") and "[us]" not in line]
    torch_end = max(i for i, r in enumerate(rows) if r[2].strip() == "torch")
    after = [(r[2].rstrip(), int(r[1]) / 1000) for r in rows[torch_end + 1:]]
    after.sort(key=lambda item: -item[1])
    return [(name.strip(), ms) for name, ms in after[:n]]


def measure(rounds: int) -> dict:
    os.makedirs(PYCACHE, exist_ok=True)
    one_round(cached_env())  # prime the bytecode cache (the first time this compiles torch too: slow)
    cached, inherited = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        cached.append(one_round(cached_env()))
        inherited.append(one_round(None))
    return {"rounds": rounds, "torch_ms": statistics.median(r[0] for r in cached),
            "extra_ms": statistics.median(r[1] for r in cached), "extra_ms_all": [r[1] for r in cached],
            "extra_cpu_ms": statistics.median(r[2] for r in cached), "torch_ms_all": [r[0] for r in cached],
            "gc_ms": statistics.median(r[3] for r in cached),
            "own_ms": statistics.median(r[1] - r[3] for r in cached),
            "extra_ms_env": statistics.median(r[1] for r in inherited), "extra_ms_env_all": [r[1] for r in inherited],
            "dont_write_bytecode_env": os.environ.get("PYTHONDONTWRITEBYTECODE", ""), "top": top_imports()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--result", default=None, help="write the JSON result here")
    args = parser.parse_args()
    result = measure(args.rounds)
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f)
    print(f"import torch: {result['torch_ms']:.0f} ms; import statetrainer on top: {result['extra_ms']:.0f} ms "
          f"wall, {result['extra_cpu_ms']:.0f} ms CPU (bytecode cached; median of {args.rounds}; all wall: "
          f"{', '.join(f'{x:.0f}' for x in result['extra_ms_all'])})")
    print(f"of which garbage collection: {result['gc_ms']:.0f} ms; without it: {result['own_ms']:.0f} ms")
    print(f"as this environment runs it (PYTHONDONTWRITEBYTECODE={result['dont_write_bytecode_env']!r}): "
          f"{result['extra_ms_env']:.0f} ms")
    for name, ms in result["top"]:
        print(f"  {ms:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
