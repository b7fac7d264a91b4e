"""The driver: while not terminal, run the current state's action and fire the trigger it returns.

Failures end in a terminal state of the machine: `failed` (re-raised) or `interrupted` (Ctrl-C or
SIGTERM: graceful, not re-raised). Either way on_exception reaches the callbacks, the module and
the datamodule, and teardown(stage) runs.
"""
from __future__ import annotations

import signal as _signal
import threading
from contextlib import contextmanager
from typing import Callable

from statetrainer.profilers import actions as profiled

__all__ = ["drive", "SignalInterrupt"]


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM turned into a graceful interruption."""


@contextmanager
def _sigterm_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SignalInterrupt(f"received signal {signum}")
    previous = _signal.signal(_signal.SIGTERM, handler)
    try:
        yield
    finally:
        _signal.signal(_signal.SIGTERM, previous)


def _wrap_actions(actions: dict, profiler) -> dict:
    if profiler is None or not getattr(profiler, "active", False):
        return actions
    wrapped = {}
    for name, action in actions.items():
        def timed(s, _action=action, _label=profiled.state(name)):
            with profiler.profile(_label):
                return _action(s)
        wrapped[name] = timed
    return wrapped


def drive(machine, actions: dict[str, Callable], session, entry: str, on_terminal: Callable, profiler=None) -> None:
    """Run one fit/validate/test/predict call to a terminal state."""
    actions = _wrap_actions(actions, profiler)
    machine.fire(entry)
    with _sigterm_as_interrupt():
        try:
            current = machine.current
            while current != "finished":
                current = machine.fire(actions[current](session))
        except KeyboardInterrupt as exc:
            on_terminal(session, "interrupt", exc)
        except BaseException as exc:
            on_terminal(session, "fail", exc)
            raise
