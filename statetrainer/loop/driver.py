"""The driver: while not terminal, run the current state's action and fire the trigger it returns.

Failures end in a terminal state of the machine: `failed` (re-raised) or `interrupted` (Ctrl-C or
SIGTERM: graceful, not re-raised). Either way on_exception reaches the callbacks, the module and
the datamodule, and teardown(stage) runs. A signal received while an action runs is honoured once
that action has finished (see loop/interrupts.py).
"""
from __future__ import annotations

from typing import Callable

from statetrainer.loop.interrupts import Interrupts, SignalInterrupt
from statetrainer.profilers import actions as profiled

__all__ = ["drive", "SignalInterrupt"]

_ENDING = frozenset({"train_end", "teardown", "finished"})  # past these, the call completes normally


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


def drive(machine, actions: dict[str, Callable], session, entry: str, on_terminal: Callable,
          profiler=None) -> None:
    """Run one fit/validate/test/predict call to a terminal state."""
    actions = _wrap_actions(actions, profiler)
    interrupts = Interrupts()
    machine.fire(entry)
    with interrupts.installed():
        try:
            current = machine.current
            while current != "finished":
                trigger = actions[current](session)
                if interrupts.pending and current not in _ENDING:
                    interrupts.begin_stop()
                    raise interrupts.exception()
                current = machine.fire(trigger)
        except KeyboardInterrupt as exc:
            interrupts.begin_stop()
            on_terminal(session, "interrupt", exc)
        except BaseException as exc:
            interrupts.begin_stop()
            on_terminal(session, "fail", exc)
            raise
