"""The dispatcher: one place that fixes the order in which a hook reaches its listeners.

For a hook it calls, in order: the trainer's own listeners attached *before* it (the metric book
opening a batch, ...), the callbacks (list order, checkpoint-type last), the module, (for setup,
teardown, on_exception and the checkpoint hooks: the datamodule), the trainer's listeners attached
*after* it, then the user receivers of the signal. Exceptions to the default order come from
Lightning 2.x and are listed in `ORDER`. Only overridden hooks are called; a signal is sent only
when it has receivers. Every hook of every loop reaches its listeners through here, checkpoint
hooks included.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from statetrainer.callbacks.callback import Callback
from statetrainer.module.hook_lookup import implementation
from statetrainer.module.hooks import HookStubs
from statetrainer.profilers import actions as profiled
from statetrainer.signals import CATALOGUE

__all__ = ["Dispatcher", "is_monitoring", "is_checkpointing", "ORDER"]

# hook -> sequence of listener groups; default is ("callbacks", "module")
ORDER: dict[str, tuple[str, ...]] = {
    "on_train_epoch_end": ("plain_callbacks", "module", "monitoring_callbacks"),
    "setup": ("datamodule", "callbacks", "module"),
    "teardown": ("datamodule", "callbacks", "module"),
    "on_exception": ("callbacks", "module", "datamodule"),
    "prepare_data": ("datamodule", "module"),
    "on_save_checkpoint": ("callbacks", "module", "datamodule"),
    "on_load_checkpoint": ("module", "callbacks", "datamodule"),
}
_DEFAULT = ("callbacks", "module")


def _mro_names(obj: Any) -> set[str]:
    return {cls.__name__ for cls in type(obj).__mro__}


def is_checkpointing(callback: Any) -> bool:
    return bool(_mro_names(callback) & {"ModelCheckpoint", "Checkpoint"})


def is_monitoring(callback: Any) -> bool:
    return is_checkpointing(callback) or "EarlyStopping" in _mro_names(callback)


def _overrides(obj: Any, base: type, hook: str) -> bool:
    return implementation(obj, base, hook) is not None


class Dispatcher:
    """Calls every listener of a hook in the documented order; built once per run."""

    def __init__(self, sender: Any, module: Any, callbacks: list, datamodule: Any = None, profiler: Any = None,
                 signal_counts: dict | None = None):
        self.sender = sender
        self.module = module
        self.callbacks = list(callbacks)
        self.datamodule = datamodule
        self.profiler = profiler if profiler is not None and getattr(profiler, "active", True) else None
        self._plans: dict[Any, tuple[Callable, ...]] = {}
        self._overridden: dict[str, bool] = {}
        self._fx_state = module.__dict__ if module is not None else {}
        self._before: dict[str, list[Callable]] = {}
        self._after: dict[str, list[Callable]] = {}
        self._counts = signal_counts if signal_counts is not None else {}   # position.signal_counts

    def attach(self, hook: str, listener: Callable, before: bool = False) -> None:
        """A trainer-owned listener of `hook` (called with the hook's arguments), before or after the
        callbacks and the module."""
        (self._before if before else self._after).setdefault(hook, []).append(listener)
        self.invalidate()

    # ------------------------------------------------------------------ plans
    def _group(self, group: str, hook: str) -> list[Callable]:
        if group == "module":
            found = implementation(self.module, HookStubs, hook)
            return [self._wrap(found, profiled.module_hook(self.module, hook))] if found is not None else []
        if group == "datamodule":
            found = _datamodule_hook(self.datamodule, hook)
            return [self._wrap(found, profiled.datamodule_hook(self.datamodule, hook))] if found is not None else []
        chosen = self.callbacks
        if group == "plain_callbacks":
            chosen = [cb for cb in chosen if not is_monitoring(cb)]
        elif group == "monitoring_callbacks":
            chosen = [cb for cb in chosen if is_monitoring(cb)]
        found = [(cb, implementation(cb, Callback, hook)) for cb in chosen]
        return [self._wrap(functools.partial(fn, self.sender, self.module), profiled.callback(_label(cb), hook))
                for cb, fn in found if fn is not None]

    def _wrap(self, fn: Callable, action: str) -> Callable:
        if self.profiler is None:
            return fn
        profiler = self.profiler

        def timed(*args: Any, **kwargs: Any) -> Any:  # setup/teardown get stage= by keyword
            with profiler.profile(action):
                return fn(*args, **kwargs)
        return timed

    def plan(self, hook: str) -> tuple[Callable, ...]:
        plan = self._plans.get(hook)
        if plan is None:  # built on first use, cached until the callbacks change
            plan = (*self._before.get(hook, ()), *self._groups_plan(hook, ORDER.get(hook, _DEFAULT)),
                    *self._after.get(hook, ()))
            self._plans[hook] = plan
        return plan

    def _groups_plan(self, hook: str, groups: tuple[str, ...]) -> tuple[Callable, ...]:
        targets = CATALOGUE[hook].targets
        return tuple(fn for group in groups if _target(group) in targets for fn in self._group(group, hook))

    def invalidate(self) -> None:
        self._plans.clear()

    def set_callbacks(self, callbacks: list) -> None:
        self.callbacks = list(callbacks)
        self.invalidate()

    def listened(self, hook: str) -> bool:
        """Someone besides the trainer's own listeners hears `hook`: a callback, the module, the datamodule or
        a signal receiver."""
        groups = self._plans.get(("listeners", hook))
        if groups is None:
            groups = self._plans[("listeners", hook)] = self._groups_plan(hook, ORDER.get(hook, _DEFAULT))
        return bool(groups) or bool(CATALOGUE[hook].receivers)

    def user_listens(self, hook: str) -> bool:
        """A callback, the module or the datamodule listens to `hook` (not only the trainer's own listeners)."""
        return len(self.plan(hook)) > len(self._before.get(hook, ())) + len(self._after.get(hook, ()))

    def is_plain(self, hook: str) -> bool:
        """The module keeps the default of `hook` and nobody listens to its signal: the loop may run the
        default's body directly (the per-batch fast path; same effect, no bookkeeping)."""
        overridden = self._overridden.get(hook)
        if overridden is None:
            overridden = self._overridden[hook] = _overrides(self.module, HookStubs, hook)
        return not overridden and not CATALOGUE[hook].receivers

    # ------------------------------------------------------------------ calls
    def call(self, hook: str, *args: Any, part: tuple[str, ...] | None = None) -> Any:
        """Run every listener of `hook`; return the module's return value (e.g. -1 from on_train_batch_start).
        `part`: only these listener groups (a checkpoint hook whose module part runs at another moment than
        its callbacks' part); the signal then goes out with the part that ends the hook's order."""
        plan = self._plans.get(hook if part is None else (hook, part))
        if plan is None:
            plan = self.plan(hook) if part is None else self._part_plan(hook, part)
        result = None
        if plan:
            state = self._fx_state  # the module's __dict__: nn.Module.__setattr__ is slow on the hot path
            previous = state.get("_current_fx_name")
            state["_current_fx_name"] = hook
            try:
                for fn in plan:
                    out = fn(*args)
                    if out is not None:
                        result = out
            finally:
                state["_current_fx_name"] = previous
        signal = CATALOGUE[hook]
        if signal.receivers and (part is None or part[-1] == ORDER.get(hook, _DEFAULT)[-1]):
            self.send(signal, args)
        return result

    def call_staged(self, hook: str, stage: str) -> None:
        """setup / teardown: every listener gets `stage=` by keyword, as Lightning passes it."""
        plan = self._plans.get(hook)
        if plan is None:
            plan = self.plan(hook)
        state = self._fx_state
        previous = state.get("_current_fx_name")
        state["_current_fx_name"] = hook
        try:
            for fn in plan:
                fn(stage=stage)
        finally:
            state["_current_fx_name"] = previous
        signal = CATALOGUE[hook]
        if signal.receivers:
            self.send(signal, (stage,))

    def _part_plan(self, hook: str, part: tuple[str, ...]) -> tuple[Callable, ...]:
        plan = self._plans[(hook, part)] = self._groups_plan(hook, part)
        return plan

    def call_module(self, hook: str, *args: Any, **kwargs: Any) -> Any:
        """Call a module method that always runs (steps, backward, optimizer_step, mode switches)."""
        state = self._fx_state
        previous = state.get("_current_fx_name")
        state["_current_fx_name"] = hook
        try:
            if self.profiler is None:
                result = getattr(self.module, hook)(*args, **kwargs)
            else:
                with self.profiler.profile(profiled.module_hook(self.module, hook)):
                    result = getattr(self.module, hook)(*args, **kwargs)
        finally:
            state["_current_fx_name"] = previous
        signal = CATALOGUE.get(hook)
        if signal is not None and signal.receivers:
            self.send(signal, args, {"outputs": result} if "outputs" in signal.fields else None)
        return result

    def send(self, signal, args: tuple, extra: dict | None = None) -> None:
        """Deliver a signal to its user receivers: `receiver(sender, **payload)`."""
        if not signal.receivers:
            return
        if signal.name in self._counts:  # a filtered receiver (`trainer.on(..., every=, once=)`) reads this
            self._counts[signal.name] += 1
        payload = dict(zip(signal.fields, args))
        if extra:
            payload.update(extra)
        if len(payload) < len(signal.fields):  # optional arguments the hook was called without
            for name in signal.fields:
                payload.setdefault(name, 0 if name == "dataloader_idx" else None)
        if self.profiler is None:
            signal.send(self.sender, **payload)
        else:
            with self.profiler.profile(profiled.signal(signal.name)):
                signal.send(self.sender, **payload)


def _target(group: str) -> str:
    return {"module": "mod", "datamodule": "dm"}.get(group, "cb")


def _datamodule_hook(dm: Any, hook: str) -> Callable | None:
    """A DataModule's overridden hook; any callable of that name on another object standing in for one."""
    from statetrainer.data.datamodule import DataModule
    if dm is None:
        return None
    if isinstance(dm, DataModule):
        return implementation(dm, DataModule, hook)
    found = getattr(dm, hook, None)
    return found if callable(found) else None


def _label(callback: Any) -> str:
    key = getattr(callback, "state_key", None)
    return key if isinstance(key, str) else type(callback).__name__
