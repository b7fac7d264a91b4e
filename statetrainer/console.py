"""The console: where statetrainer's printed messages go while a progress bar is on screen.

A progress bar redraws its line in place; a plain ``print()`` in the middle of a run leaves half a
bar behind (``...loss=1.370]s``). So the messages the library prints -- ``self.print`` in a module,
``trainer.print``, the SignalTracer, verbose callbacks, the line at the end of fit -- all go through
``CONSOLE.print``. A progress bar callback registers with the console while it shows (from its
``setup`` to its ``teardown``); while the latest registered bar is enabled, a message goes through
that bar's own ``print`` (``tqdm.write`` for the tqdm bar, the rich console for the rich bar), which
writes it above the bar. Otherwise the message is printed exactly as ``print()`` would.

There is one console per process because there is one terminal per process: a trainer started
inside another one's run (a tuner's trial fit, say) prints above whatever bar is on screen.
Only progress bars call ``show``/``hide``; everything else only prints.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Console", "CONSOLE"]


class Console:
    """The progress bars on screen (latest last) and the one ``print`` that respects them."""

    def __init__(self) -> None:
        self._bars: list[Any] = []

    @property
    def bars(self) -> tuple:
        """The registered progress bars, latest last."""
        return tuple(self._bars)

    @property
    def bar(self) -> Any:
        """The progress bar messages go through now, or None (no bar registered, or it is disabled)."""
        if not self._bars:
            return None
        latest = self._bars[-1]
        return latest if getattr(latest, "is_enabled", True) else None

    def show(self, bar: Any) -> None:
        """Register `bar` as on screen (again is harmless; it becomes the latest)."""
        self.hide(bar)
        self._bars.append(bar)

    def hide(self, bar: Any) -> None:
        """`bar` is off screen: messages stop going through it."""
        self._bars = [shown for shown in self._bars if shown is not bar]

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print(*args, **kwargs)``, through the progress bar on screen if there is one."""
        bar = self.bar
        if bar is None:
            print(*args, **kwargs)
        else:
            bar.print(*args, **kwargs)


CONSOLE = Console()
