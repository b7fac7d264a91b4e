"""Per-call costs of statetrainer's machinery alone, calls per training batch, and per-batch overhead.

    python benchmarks/micro.py [--quick] [--result out.json]

Each operation runs `number` times per repeat; the report gives the best and the median repeat in
microseconds per call (best = the cost with the least interference from other processes).

Per-batch overhead: the workload (same model, data loader, SGD) trained in this process by hand,
by statetrainer and by Lightning (all extras off), with a timestamp at every training-batch start
(the frameworks take it in the module's on_train_batch_start). The typical batch is the median
interval between starts; the overhead is its difference to the hand loop's. Medians of single
batches shrug off interruptions by other processes that whole-run times on a busy machine cannot.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import statistics
import tempfile
import time
import warnings
from types import SimpleNamespace

import torch

import here  # noqa: F401  (first: statetrainer from this checkout)
from statetrainer.callbacks.callback import Callback
from statetrainer.loop.context import LoopContext
from statetrainer.loop.position import Position
from statetrainer.machine.guards import GUARDS
from statetrainer.machine.machine import LoopMachine
from statetrainer.module.module import StateModule
from statetrainer.signals import CATALOGUE
from statetrainer.loop.dispatch import Dispatcher
from statetrainer.loop.stopping import StopRules

HOOK = "on_train_batch_end"


def per_call_us(fn, number: int, repeat: int) -> tuple[float, float]:
    """(best, median) microseconds per call of fn() over `repeat` timings of `number` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number * 1e6)
    return min(times), statistics.median(times)


def machine_in_train_batch(guards: dict) -> LoopMachine:
    """A LoopMachine driven from idle to train_batch, where batch_done is a self-loop."""
    machine = LoopMachine(guards, SimpleNamespace(epoch=0, global_step=0))
    for trigger in ("fit", "connected", "prepared", "configured", "started", "started"):
        if trigger == "prepared" and machine.current != "prepare_data":
            continue  # no prepare_data state when the guard says this process does not prepare data
        machine.fire(trigger)
    assert machine.current == "train_batch", machine.current
    return machine


def constant_guards() -> dict:
    guards = {name: (lambda: False) for name in GUARDS}
    guards["is_fit"] = lambda: True
    return guards


def real_guards() -> dict:
    """The real guard functions bound to a context in the middle of a 1000-batch epoch."""
    from statetrainer.strategies import SingleDeviceStrategy
    position = Position()
    position.set_counters(dict(batch_idx=10, batches_seen=11, total_batch_idx=10, global_step=11))
    strategy = SingleDeviceStrategy()
    ctx = LoopContext(position, StopRules(position, 1, -1, None, None), lambda: strategy)
    ctx.fn = "fit"
    position.shape.validation_enabled, position.shape.epoch_length = True, 1000
    return {name: functools.partial(guard, ctx) for name, guard in GUARDS.items()}


class _Module(StateModule):
    def training_step(self, batch, batch_idx):
        return None


class _ModuleWithHook(_Module):
    def on_train_batch_end(self, outputs, batch, batch_idx):
        return None


class _Callback(Callback):
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        return None


def _receiver(sender, **payload):
    return None


def _empty():
    return None


def cases() -> dict:
    """name -> (zero-argument callable doing one operation, signal to give one receiver while it runs, or None)."""
    sender, args = object(), ({"loss": torch.zeros(())}, None, 3)
    bare = Dispatcher(sender, _Module(), [])
    with_cb = Dispatcher(sender, _Module(), [_Callback()])
    with_mod = Dispatcher(sender, _ModuleWithHook(), [])
    m_const, m_real = machine_in_train_batch(constant_guards()), machine_in_train_batch(real_guards())
    hook, quiet = CATALOGUE[HOOK], CATALOGUE["training_step"]
    return {
        "plain Python call of an empty function (reference)": (_empty, None),
        "LoopMachine.fire: self-loop train_batch -> train_batch, constant guards": (
            lambda: m_const.fire("batch_done"), None),
        "LoopMachine.fire: same self-loop, the real guards mid-epoch": (lambda: m_real.fire("batch_done"), None),
        f"Dispatcher.call('{HOOK}'): nobody overrides it, no receivers": (lambda: bare.call(HOOK, *args), None),
        f"Dispatcher.call('{HOOK}'): one callback overrides it": (lambda: with_cb.call(HOOK, *args), None),
        f"Dispatcher.call('{HOOK}'): the module overrides it": (lambda: with_mod.call(HOOK, *args), None),
        f"Dispatcher.call('{HOOK}'): nobody overrides it, one signal receiver": (
            lambda: bare.call(HOOK, *args), hook),
        "Dispatcher.call_module('training_step') (a trivial step)": (
            lambda: bare.call_module("training_step", None, 0), None),
        "blinker Signal.send, no receivers": (lambda: quiet.send(sender, batch=None, batch_idx=0, outputs=None), None),
        "blinker Signal.send, one receiver": (lambda: quiet.send(sender, batch=None, batch_idx=0, outputs=None), quiet),
    }


def run_cases(number: int, repeat: int) -> list[dict]:
    rows = []
    for name, (case, listened) in cases().items():
        if listened is not None:  # one receiver for this case only
            listened.connect(_receiver, weak=False)
        try:
            best, median = per_call_us(case, number, repeat)
        finally:
            if listened is not None:
                listened.disconnect(_receiver)
        rows.append({"name": name, "us": best, "us_median": median})
    return rows


COUNTED = {"LoopMachine.fire": (LoopMachine, "fire"), "Dispatcher.call": (Dispatcher, "call"),
           "Dispatcher.call_module": (Dispatcher, "call_module")}


def _count_calls(steps: int) -> dict:
    """How often each counted method runs in one bare statetrainer fit of `steps` batches."""
    import statetrainer as st
    from framework_loop import module_class, trainer_flags
    from workload import loaders
    counts = dict.fromkeys(COUNTED, 0)
    originals = {name: getattr(cls, attr) for name, (cls, attr) in COUNTED.items()}

    def counting(name, fn):
        def wrapper(*a, **k):
            counts[name] += 1
            return fn(*a, **k)
        return wrapper
    for name, (cls, attr) in COUNTED.items():
        setattr(cls, attr, counting(name, originals[name]))
    try:
        train, val = loaders(steps, 2)
        with tempfile.TemporaryDirectory(prefix="bench-") as root:
            st.Trainer(**trainer_flags("bare", root)).fit(module_class(st.StateModule, False)(), train, val)
    finally:
        for name, (cls, attr) in COUNTED.items():
            setattr(cls, attr, originals[name])
    return counts


def calls_per_batch() -> dict:
    """Calls per training batch: the difference between a 60- and a 20-batch fit, over 40 batches."""
    short, long = _count_calls(20), _count_calls(60)
    return {name: (long[name] - short[name]) / 40 for name in COUNTED}


def _batch_intervals(contender: str, steps: int) -> list[float]:
    """Seconds between consecutive training-batch starts in one run of the workload."""
    import hand_loop
    from framework_loop import framework, module_class, trainer_flags
    from workload import loaders, make_net, make_optimizer
    train, val = loaders(steps, 1)
    stamps: list[float] = []
    if contender == "hand":
        net = make_net()
        optimizer = make_optimizer(net.parameters())
        for x, y in train:
            stamps.append(time.perf_counter())
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        hand_loop.validate(net, val)
    else:
        base, trainer_cls = framework(contender)
        model = module_class(base, False, stamps)()
        with tempfile.TemporaryDirectory(prefix="bench-") as root:
            trainer_cls(**trainer_flags("bare", root)).fit(model, train, val)
    return [b - a for a, b in zip(stamps, stamps[1:])]


def batch_overhead(rounds: int, steps: int) -> dict:
    """Typical training-batch time per contender (median interval between batch starts) and the extra
    microseconds per batch over the hand loop. A median of ~1000 intervals ignores the batches that
    another process interrupted, which whole-run times cannot."""
    import importlib.util
    names = ["hand", "statetrainer"] + (["lightning"] if importlib.util.find_spec("lightning") else [])
    intervals: dict[str, list[float]] = {n: [] for n in names}
    for name in names:
        _batch_intervals(name, 20)  # warm-up
    for _ in range(rounds):  # interleaved
        for name in names:
            intervals[name] += _batch_intervals(name, steps)
    typical = {n: statistics.median(v) * 1e6 for n, v in intervals.items()}
    return {"hand_us_per_batch": typical["hand"],
            **{f"{n}_us_per_batch": typical[n] for n in names[1:]},
            **{f"{n}_extra_us_per_batch": typical[n] - typical["hand"] for n in names[1:]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls per timing")
    parser.add_argument("--result", default=None, help="write the JSON result here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    number, repeat = (2000, 3) if args.quick else (20000, 7)
    rounds_steps = (1, 50) if args.quick else (3, 1000)
    result = {"number": number, "repeat": repeat, "rows": run_cases(number, repeat), "per_batch": calls_per_batch(),
              "overhead": batch_overhead(*rounds_steps), "overhead_rounds": rounds_steps[0]}
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f)
    for row in result["rows"]:
        print(f"{row['us']:8.2f} us (median {row['us_median']:7.2f})  {row['name']}")
    print("per training batch: " + ", ".join(f"{n:g} {k}" for k, n in result["per_batch"].items()))
    print("typical batch: " + ", ".join(f"{k} {v:.0f}" for k, v in result["overhead"].items()))


if __name__ == "__main__":
    main()
