"""Lightning's `lightning.pytorch.utilities.enums`: GradClipAlgorithmType, and LightningEnum (the str enum base)."""
from __future__ import annotations

from statetrainer.states import StrEnum

LightningEnum = StrEnum

__all__ = ["GradClipAlgorithmType", "LightningEnum"]


class GradClipAlgorithmType(StrEnum):
    """The values `gradient_clip_algorithm` accepts: clip the total norm, or each value."""

    VALUE = "value"
    NORM = "norm"

    @staticmethod
    def supported_type(val: str) -> bool:
        return any(member.value == val for member in GradClipAlgorithmType)

    @staticmethod
    def supported_types() -> list[str]:
        return [member.value for member in GradClipAlgorithmType]
