"""AttributeDict: the mapping `hparams` is (Lightning's name)."""
from __future__ import annotations

from typing import Any

__all__ = ["AttributeDict"]


class AttributeDict(dict):
    """A dict whose keys are also attributes: ``hparams.lr`` is ``hparams["lr"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as missing:
            raise AttributeError(f"no hyper-parameter named {key!r}; saved: {sorted(map(str, self))}") from missing

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        del self[key]

    def __repr__(self) -> str:
        if not self:
            return ""
        width = max(len(str(key)) for key in self) + 3
        return "\n".join(f"{repr(str(key)):{width}}{value}" for key, value in sorted(self.items(), key=str))
