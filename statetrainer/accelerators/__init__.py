"""Accelerators: which device kind runs the model."""
from statetrainer.accelerators.accelerator import Accelerator, CPUAccelerator, CUDAAccelerator, MPSAccelerator
from statetrainer.accelerators.resolve import resolve_devices

__all__ = ["Accelerator", "CPUAccelerator", "CUDAAccelerator", "MPSAccelerator", "resolve_devices"]
