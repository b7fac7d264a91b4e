"""The driver: while not terminal, run the current state's action and fire the trigger it returns.

Failures end in a terminal state of the machine: `failed` (re-raised) or `interrupted` (Ctrl-C or
SIGTERM: graceful, not re-raised). Either way on_exception reaches the callbacks, the module and
the datamodule, and teardown(stage) runs. A signal received while an action runs is honoured once
that action has finished (see loop/interrupts.py).
"""
from __future__ import annotations

from typing import Callable

from statetrainer.loop.interrupts import Interrupts, SignalInterrupt
from statetrainer.machine.table import TRANSITIONS
from statetrainer.profilers import actions as profiled

__all__ = ["drive", "SignalInterrupt", "DECISION_POINTS"]

_ENDING = frozenset({"train_end", "teardown", "finished"})  # past these, the call completes normally
_STOP_GUARDS = frozenset({"fit_done", "epoch_done", "should_validate_now", "stop_granted"})
# With several processes, fit's ranks agree after these states' work (one all-reduce): the states whose rows
# ask the stop rules; an interrupt is honoured only there. (validate/test/predict take no vote: prediction
# shares may differ by a batch, and nothing there waits on a stop decision.)
DECISION_POINTS = frozenset(source for _, source, _, guards in TRANSITIONS
                            if isinstance(source, str) and _STOP_GUARDS & set(guards))


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
    agree = session.stop.agree if session.stop.across_ranks and entry == "fit" else None  # see StopRules.agree
    machine.fire(entry)
    with interrupts.installed():
        try:
            current = machine.current
            while current != "finished":
                trigger = actions[current](session)
                if agree is not None and current in DECISION_POINTS and agree(interrupts.pending):
                    interrupts.join()  # a rank was interrupted: every rank stops here, at the same point
                if interrupts.pending and current not in _ENDING and (agree is None or current in DECISION_POINTS):
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
