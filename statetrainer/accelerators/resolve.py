"""Turning the accelerator= and devices= flags into an Accelerator and a list of device indices."""
from __future__ import annotations

from typing import Any

from statetrainer.accelerators.accelerator import Accelerator, CPUAccelerator, CUDAAccelerator, MPSAccelerator
from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["resolve_devices"]

_NAMES = {"cpu": CPUAccelerator, "gpu": CUDAAccelerator, "cuda": CUDAAccelerator, "mps": MPSAccelerator}
_ACCEPTED = "'cpu', 'gpu', 'cuda', 'mps', 'auto', or an Accelerator instance"


def _accelerator(value: Any) -> Accelerator:
    if isinstance(value, Accelerator):
        return value
    if value == "auto":
        for cls in (CUDAAccelerator, MPSAccelerator):
            if cls.is_available():
                return cls()
        return CPUAccelerator()
    if value in ("tpu", "ipu", "hpu"):
        raise MisconfigurationError(f"`accelerator` got {value!r} but no {value.upper()} backend is installed "
                                    f"here; accepted: {_ACCEPTED}.")
    if value not in _NAMES:
        raise flag_error("accelerator", value, _ACCEPTED)
    cls = _NAMES[value]
    if not cls.is_available():
        raise MisconfigurationError(f"`accelerator` got {value!r} but it is not available on this machine "
                                    f"(torch sees no such device); accepted here: 'cpu' or 'auto'.")
    return cls()


def _indices(devices: Any, accel: Accelerator) -> list[int]:
    count = accel.device_count()
    accepted = f"'auto', -1, an int in 1..{count}, a list of indices below {count}, or a string of them"
    if isinstance(accel, CPUAccelerator):
        accepted = "'auto', -1, an int >= 1 (that many processes), a list of indices, or a string of them"
    if devices == "auto" or devices == -1 or devices == "-1":
        return list(range(count if not isinstance(accel, CPUAccelerator) else 1))
    if isinstance(devices, str):
        text = devices.strip().rstrip(",")
        try:
            if "," in devices:
                devices = [int(part) for part in text.split(",") if part.strip()]
            else:
                devices = int(text)
        except ValueError:
            raise flag_error("devices", devices, accepted) from None
    if isinstance(devices, bool):
        raise flag_error("devices", devices, accepted)
    if isinstance(devices, int):
        if isinstance(accel, CPUAccelerator) and devices >= 1:
            return list(range(devices))
        if not 1 <= devices <= count:
            raise flag_error("devices", devices, accepted)
        return list(range(devices))
    if isinstance(devices, (list, tuple)) and devices and all(isinstance(i, int) for i in devices):
        if not isinstance(accel, CPUAccelerator) and any(i < 0 or i >= count for i in devices):
            raise flag_error("devices", devices, accepted)
        return list(devices)
    raise flag_error("devices", devices, accepted)


def resolve_devices(accelerator: Any, devices: Any) -> tuple[Accelerator, list[int]]:
    accel = _accelerator(accelerator)
    return accel, _indices(devices, accel)
