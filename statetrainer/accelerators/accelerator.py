"""The Accelerator classes: availability, device count and the torch.device for an index."""
from __future__ import annotations

import torch

__all__ = ["Accelerator", "CPUAccelerator", "CUDAAccelerator", "MPSAccelerator"]


class Accelerator:
    """Base: subclasses say whether they are available and how many devices they have."""

    name = "base"

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    def device(self, index: int = 0) -> torch.device:
        raise NotImplementedError

    def setup_device(self, device: torch.device) -> None:
        """Prepare the device before the model moves there."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CPUAccelerator(Accelerator):
    name = "cpu"

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def device_count() -> int:
        return 1

    def device(self, index: int = 0) -> torch.device:
        return torch.device("cpu")


class CUDAAccelerator(Accelerator):
    name = "cuda"

    @staticmethod
    def is_available() -> bool:
        return torch.cuda.is_available()

    @staticmethod
    def device_count() -> int:
        return torch.cuda.device_count()

    def device(self, index: int = 0) -> torch.device:
        return torch.device("cuda", index)

    def setup_device(self, device: torch.device) -> None:
        torch.cuda.set_device(device)


class MPSAccelerator(Accelerator):
    name = "mps"

    @staticmethod
    def is_available() -> bool:
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()

    @staticmethod
    def device_count() -> int:
        return 1 if MPSAccelerator.is_available() else 0

    def device(self, index: int = 0) -> torch.device:
        return torch.device("mps", index)
