"""LoopMachine: the table built into a `transitions` machine, with history."""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Callable, Mapping, NamedTuple

from transitions import Machine, MachineError

from statetrainer.errors import InvalidTransitionError
from statetrainer.machine.table import STATES, TRANSITIONS

__all__ = ["LoopMachine", "Transition"]

logging.getLogger("transitions").setLevel(logging.WARNING)
logging.getLogger("transitions.core").setLevel(logging.WARNING)


class Transition(NamedTuple):
    """One record of `state.history`."""

    source: str
    trigger: str
    dest: str
    epoch: int
    global_step: int
    time: float


class _Carrier:
    """The object `transitions` moves between states (kept private; its attribute is `fsm_state`)."""


class LoopMachine:
    """Fires triggers through the declared table; guards are bound to one loop context."""

    def __init__(self, guards: Mapping[str, Callable[[], bool]], counters: Any,
                 history_size: int = 1000):
        self._carrier = _Carrier()
        rows = [{"trigger": trig, "source": src, "dest": dest, "conditions": [guards[g] for g in gs]}
                for trig, src, dest, gs in TRANSITIONS]
        self._machine = Machine(model=self._carrier, states=[s.name for s in STATES], transitions=rows,
                                initial="idle", auto_transitions=False, send_event=False, queued=False,
                                ignore_invalid_triggers=False, model_attribute="fsm_state")
        self._triggers = {trig: getattr(self._carrier, trig) for trig, *_ in TRANSITIONS}
        self._where = counters     # an object with `epoch` and `global_step` (the loop's position)
        self._history: deque[tuple] = deque(maxlen=history_size)
        self._allowed: dict[str, set[str]] = {}
        self._rows: dict[tuple[str, str], list[tuple[str, tuple]]] = {}
        for trig, src, dest, gs in TRANSITIONS:
            for name in (src if isinstance(src, list) else [src]):
                self._allowed.setdefault(name, set()).add(trig)
                self._rows.setdefault((name, trig), []).append((dest, tuple(guards[g] for g in gs)))

    @property
    def current(self) -> str:
        return self._carrier.fsm_state

    @property
    def history(self) -> list[Transition]:
        """The recent transitions, oldest first (bounded)."""
        return [Transition(*record) for record in self._history]

    def allowed(self, state: str | None = None) -> list[str]:
        return sorted(self._allowed.get(state or self.current, ()))

    def fire(self, trigger: str) -> str:
        """Fire `trigger` from the current state; the first row whose guards hold wins.

        The guards are evaluated here, in table order. A row that changes state goes through
        `transitions` (which checks the same guards again); a row that stays in the same state
        (the per-batch self-loops) is recorded without it: nothing enters or exits, and this keeps
        the per-batch cost to the guards themselves.
        """
        source = self._carrier.fsm_state
        rows = self._rows.get((source, trigger))
        if rows is None:
            raise InvalidTransitionError(source, trigger, self.allowed(source))
        for dest, guards in rows:
            for guard in guards:
                if not guard():
                    break
            else:
                break
        else:
            raise InvalidTransitionError(source, f"{trigger} (no guard held)", self.allowed(source))
        if dest != source:
            try:
                self._triggers[trigger]()
            except MachineError:
                raise InvalidTransitionError(source, trigger, self.allowed(source)) from None
            if self._carrier.fsm_state != dest:  # a guard changed its mind: guards must be pure
                raise InvalidTransitionError(source, f"{trigger} (guards disagreed)", self.allowed(source))
        where = self._where
        self._history.append((source, trigger, dest, where.epoch, where.global_step, time.time()))  # a Transition when read
        return dest

    def adopt(self, records: list[tuple]) -> None:
        """Take over a call that copies of this machine ran in other processes (ddp_spawn): their transitions
        `(source, trigger, dest, epoch, global_step, time)` are recorded here, and the last one's state becomes
        this machine's."""
        for record in records:
            self.history.append(Transition(*record))
        if records:
            self._machine.set_state(records[-1][2], model=self._carrier)

    def force_terminal(self, trigger: str) -> str:
        """Fire `fail`/`interrupt` if the machine is running; otherwise stay where it is."""
        if trigger in self._allowed.get(self.current, ()):
            return self.fire(trigger)
        return self.current
