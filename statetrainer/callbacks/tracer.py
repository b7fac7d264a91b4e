"""SignalTracer: print or collect every signal as it fires, with the machine state, epoch and step.

    tracer = SignalTracer()                       # prints, and keeps the last 10 000 events
    trainer = st.Trainer(callbacks=[tracer])      # as a callback: traces from `setup` on
    trainer.fit(model)

    with SignalTracer(exclude=SignalTracer.PER_BATCH).watching(trainer) as tracer:
        trainer.fit(model)                        # attached before fit: traces from the first signal
    tracer.lines()  # ['state=setup signal=configure_callbacks epoch=0 step=0', ...]

Each line reads ``state=<trainer.state.current> signal=<name> epoch=<current_epoch>
step=<global_step>``, followed by the signal's ``stage``, ``batch_idx`` and ``dataloader_idx``
when it carries them. The receivers are connected with ``sender=trainer``, so other trainers
are not traced.
"""
from __future__ import annotations

from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TextIO

from statetrainer import signals as signal_catalogue
from statetrainer.callbacks.callback import Callback
from statetrainer.console import CONSOLE

__all__ = ["SignalTracer", "TraceEvent"]

_DETAILS = ("stage", "batch_idx", "dataloader_idx")
_PER_BATCH_EXTRA = {"training_step", "validation_step", "test_step", "predict_step", "backward",
                    "on_before_backward", "on_after_backward", "optimizer_step", "on_before_optimizer_step",
                    "optimizer_zero_grad", "on_before_zero_grad", "configure_gradient_clipping",
                    "transfer_batch_to_device"}


@dataclass(frozen=True)
class TraceEvent:
    """One signal as it fired: the machine state, the signal's name, the epoch and step, and details."""

    state: str
    signal: str
    epoch: int
    step: int
    details: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        extra = "".join(f" {key}={value}" for key, value in self.details)
        return f"state={self.state} signal={self.signal} epoch={self.epoch} step={self.step}{extra}"


class SignalTracer(Callback):
    """Record (and print) every signal a trainer fires.

    Args:
        signals: names (or signals) to trace; default all of ``statetrainer.signals.CATALOGUE``.
        exclude: names to leave out, e.g. ``SignalTracer.PER_BATCH``.
        echo: print each event as it fires.
        file: where to print; default standard output, above the progress bar while one is on screen.
        keep: how many of the latest events ``events`` holds (None: all of them).
    """

    #: the signals that fire once or more per batch
    PER_BATCH = frozenset(name for name in signal_catalogue.CATALOGUE if "batch" in name) | _PER_BATCH_EXTRA

    def __init__(self, signals: Iterable[Any] | None = None, exclude: Iterable[Any] = (), echo: bool = True,
                 file: TextIO | None = None, keep: int | None = 10_000) -> None:
        chosen = signal_catalogue.CATALOGUE if signals is None else [_name(item) for item in signals]
        left_out = {_name(item) for item in exclude}
        self.signal_names = tuple(name for name in chosen if name not in left_out)
        for name in self.signal_names:
            signal_catalogue.by_name(name)  # a clear error for an unknown name
        self.echo = echo
        self.file = file
        self.events: deque[TraceEvent] = deque(maxlen=keep)
        self._receivers: dict[str, Callable] = {name: self._receiver(name) for name in self.signal_names}
        self._attached: set[int] = set()

    def _receiver(self, name: str) -> Callable:
        def receive(trainer: Any, **payload: Any) -> None:
            self.record(trainer, name, payload)
        receive.__qualname__ = f"SignalTracer.receive[{name}]"
        return receive

    def record(self, trainer: Any, name: str, payload: dict[str, Any]) -> TraceEvent:
        """Append (and print) the event for signal `name` fired by `trainer`."""
        details = tuple((key, payload[key]) for key in _DETAILS if key in payload)
        event = TraceEvent(str(trainer.state.current), name, int(trainer.current_epoch), int(trainer.global_step),
                           details)
        self.events.append(event)
        if self.echo and self.file is not None:
            print(event, file=self.file)
        elif self.echo:
            CONSOLE.print(event)  # stdout, above the progress bar while one is on screen
        return event

    # ------------------------------------------------------------------ connecting
    def attach(self, trainer: Any) -> "SignalTracer":
        """Connect to the chosen signals of `trainer` (again is harmless)."""
        for name, receiver in self._receivers.items():
            signal_catalogue.CATALOGUE[name].connect(receiver, sender=trainer, weak=False)
        self._attached.add(id(trainer))
        return self

    def detach(self, trainer: Any) -> None:
        """Disconnect from `trainer`'s signals (entirely, once no trainer is watched any more)."""
        self._attached.discard(id(trainer))
        for name, receiver in self._receivers.items():
            signal = signal_catalogue.CATALOGUE[name]
            if self._attached:
                signal.disconnect(receiver, sender=trainer)
            else:  # blinker keeps a receiver listed until it is disconnected from every sender
                signal.disconnect(receiver)

    @contextmanager
    def watching(self, trainer: Any) -> Iterator["SignalTracer"]:
        """``with tracer.watching(trainer): trainer.fit(...)``: traced from the first signal, detached after."""
        self.attach(trainer)
        try:
            yield self
        finally:
            self.detach(trainer)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.attach(trainer)

    # ------------------------------------------------------------------ reading
    def lines(self) -> list[str]:
        """The recorded events as text, oldest first."""
        return [str(event) for event in self.events]

    def clear(self) -> None:
        self.events.clear()


def _name(item: Any) -> str:
    return item if isinstance(item, str) else item.name
