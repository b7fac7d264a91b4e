"""Python function calls per training step, counted exactly with `sys.setprofile`.

    python benchmarks/pycalls.py [CONTENDER ...] [--steps 100] [--data tensors] [--model tiny]

A count does not depend on how busy the machine is, so it is the steadiest measure of how much
Python a framework runs per batch. Each contender warms up, then two whole fits are counted, of N
and of 3N steps; their difference over 2N steps is the count per step, free of everything done
once per fit (Trainer construction, setup, the validation pass, a checkpoint). A 'call' event is
one Python frame (a function, a method, a generator resumed); a 'c_call' event is one call into a
C function from Python (builtins, torch's C bindings). Only this thread is counted (a logger's
writer thread is not), with the garbage collector paused during the counted fits (the callbacks
a collection runs would otherwise make the count vary by a few calls between runs).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import sysconfig
from collections import Counter

import here
from worker import CONTENDERS, DATA, preparer, quiet, warm_up

STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])
SITE = f"{os.sep}site-packages{os.sep}"


GENERATED = " called from "


def owner(filename: str) -> str:
    """Which package a code object's file belongs to: statetrainer, a site-packages top level, stdlib, ...

    Generated code (a dataclass's __init__, a namedtuple's __new__: file "<string>") belongs to the
    file that called it, when the call counter recorded one."""
    if GENERATED in filename:
        return owner(filename.split(GENERATED, 1)[1])
    if filename.startswith("<frozen "):
        return "stdlib"
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins" if filename.startswith("~") else "generated"
    path = os.path.realpath(filename)
    for local in ("statetrainer", "benchmarks"):
        if path.startswith(os.path.join(here.ROOT, local) + os.sep):
            return "benchmark module" if local == "benchmarks" else local
    if SITE in path:
        top = path.split(SITE, 1)[1].split(os.sep, 1)[0]
        return top[:-3] if top.endswith(".py") else top
    return "stdlib" if path.startswith(STDLIB) else "other"


def where(filename: str, line: int, name: str) -> str:
    """A short location: path below site-packages or the repository root, line, function."""
    if GENERATED in filename:
        generated, caller = filename.split(GENERATED, 1)
        return f"{generated}:{line}({name}){GENERATED}{where(caller, 0, '')[:-4]}"
    if SITE in filename:
        filename = filename.split(SITE, 1)[1]
    elif filename.startswith(here.ROOT + os.sep):
        filename = os.path.relpath(filename, here.ROOT)
    elif filename.startswith(STDLIB + os.sep):
        filename = os.path.relpath(filename, STDLIB)
    return f"{filename}:{line}({name})"


def counted(run) -> tuple[Counter, int]:
    """(calls per code object keyed like cProfile's (file, first line, name), C calls) during run()."""
    calls: Counter = Counter()
    c_calls = 0

    def hook(frame, event, arg):
        nonlocal c_calls
        if event == "call":
            code = frame.f_code
            filename = code.co_filename
            if filename.startswith("<") and not filename.startswith("<frozen ") and frame.f_back is not None:
                filename += GENERATED + frame.f_back.f_code.co_filename
            calls[(filename, code.co_firstlineno, code.co_name)] += 1
        elif event == "c_call":
            c_calls += 1
    gc.collect()
    gc.disable()  # a collection's callbacks (weakrefs, __del__) would make the count vary by a few calls
    sys.setprofile(hook)
    try:
        run()
    finally:
        sys.setprofile(None)
        gc.enable()
    return calls, c_calls


def per_step(contender: str, steps: int, data: str, model: str, root: str) -> dict:
    """Calls per training step of `contender`: (fit of 3N steps - fit of N steps) / 2N."""
    prepare = preparer(contender)
    warm_up(prepare, 10, 5, root, data, model)
    (short, c_short), (long, c_long) = (counted(prepare(n, 5, os.path.join(root, str(n)), data, model)[0])
                                        for n in (steps, 3 * steps))
    span = 2 * steps
    functions = {key: (long[key] - short.get(key, 0)) / span for key in long}
    functions = {key: n for key, n in functions.items() if n}
    by_owner: Counter = Counter()
    for (filename, _, _), n in functions.items():
        by_owner[owner(filename)] += n
    return {"python": sum(functions.values()), "c": (c_long - c_short) / span, "by_owner": dict(by_owner),
            "functions": {where(*key): [owner(key[0]), n] for key, n in functions.items()}}


def measure(contenders: list[str], steps: int, data: str, model: str) -> dict:
    import tempfile

    import torch
    torch.set_num_threads(1)
    quiet()
    with tempfile.TemporaryDirectory(prefix="bench-") as root:
        return {c: per_step(c, steps, data, model, os.path.join(root, c)) for c in contenders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contenders", nargs="*", choices=CONTENDERS, default=["hand", "statetrainer"])
    parser.add_argument("--steps", type=int, default=100, help="N: fits of N and 3N steps are counted")
    parser.add_argument("--data", choices=DATA, default="tensors")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--result", default=None, help="write the JSON result here")
    args = parser.parse_args()
    result = measure(args.contenders, args.steps, args.data, args.model)
    for name, r in result.items():
        owners = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["by_owner"].items(), key=lambda kv: -kv[1]))
        print(f"{name:<24} {r['python']:7.1f} Python calls/step, {r['c']:7.1f} C calls/step ({owners})")
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
