"""Ctrl-C and SIGTERM while a trainer call runs: a request the loop honours at the next consistent point.

While a call runs (main thread only), SIGINT and SIGTERM do not raise where they land: the handler
records them and the driver stops after the state's work that is under way (the training batch,
the validation batch...) has finished, so the position a checkpoint records is one the loop really
passed through and a resume replays it exactly. The stop then goes the usual interrupt way:
`on_exception(KeyboardInterrupt)`, checkpoints written by the callbacks, teardown.

More signals while stopping (a second Ctrl-C during the shutdown) are noted and ignored, so the
shutdown and its checkpoint always complete; the third signal before the stop point is reached
raises at once (for a batch that hangs), and the resume then says the batch runs again.
"""
from __future__ import annotations

import signal as _signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

__all__ = ["Interrupts", "SignalInterrupt"]

_IMMEDIATE_AFTER = 3


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM turned into a graceful interruption."""


class Interrupts:
    """The signals received during one call; `pending` is what the driver checks between states."""

    def __init__(self):
        self.count = 0
        self.signum: Optional[int] = None
        self.pending = False        # a signal arrived and the stop has not begun (read between states)
        self.stopping = False       # the interrupt is being handled (on_exception, checkpoint, teardown)

    def begin_stop(self) -> None:
        self.stopping, self.pending = True, False

    def join(self) -> None:
        """Another process of the run was interrupted: this one stops at the same point (as if signalled)."""
        if self.count == 0:
            self.count = 1
        self.pending = not self.stopping

    def exception(self) -> KeyboardInterrupt:
        if self.signum == _signal.SIGTERM:
            return SignalInterrupt(f"received signal {self.signum} (SIGTERM)")
        return KeyboardInterrupt()

    def _handle(self, signum, frame) -> None:
        self.count += 1
        self.signum = self.signum or signum
        self.pending = not self.stopping
        if self.stopping:
            print("statetrainer: already stopping; the checkpoint is being written.", file=sys.stderr, flush=True)
            return
        if self.count >= _IMMEDIATE_AFTER:
            self.begin_stop()
            raise self.exception()
        if self.count == 1:
            name = "Ctrl-C" if signum == _signal.SIGINT else "SIGTERM"
            print(f"statetrainer: {name} received; stopping after the current step (press Ctrl-C twice more "
                  "to stop at once).", file=sys.stderr, flush=True)

    @contextmanager
    def installed(self) -> Iterator["Interrupts"]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: _signal.signal(sig, self._handle) for sig in (_signal.SIGINT, _signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                _signal.signal(sig, handler)
