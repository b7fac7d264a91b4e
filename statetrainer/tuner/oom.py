"""Telling an out-of-memory failure from any other error, and giving memory back after one."""
from __future__ import annotations

import gc

import torch

__all__ = ["is_out_of_memory", "free_memory"]

# what the allocators write: CUDA and MPS ("... out of memory"), the CPU allocator, and cuDNN's refusal
# of a batch too large for its kernels (raised instead of an out-of-memory error on some versions)
_MARKERS = ("out of memory", "can't allocate memory", "cudnn_status_not_supported")


def _oom_types() -> tuple[type, ...]:
    found = {getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)}
    return tuple(t for t in found if isinstance(t, type))


def is_out_of_memory(exc: BaseException) -> bool:
    """True when `exc` means "this batch does not fit": torch's OutOfMemoryError, Python's MemoryError, or a
    RuntimeError whose message says the memory ran out. Every other error is a real failure and must propagate."""
    if isinstance(exc, (MemoryError, *_oom_types())):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    text = str(exc).lower()
    return any(marker in text for marker in _MARKERS)


def _device_caches() -> list:
    """empty_cache of every initialized accelerator allocator."""
    caches = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        caches.append(torch.cuda.empty_cache)
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        caches.append(mps.empty_cache)
    return caches


def free_memory(failure: BaseException | None = None) -> None:
    """Give memory back before the next trial: a finished trial trainer holds its optimizer state and
    loaders in reference cycles, so collect them (a full collection: only worth its cost when an
    accelerator is in use, or when host memory itself ran out) and empty the accelerator caches."""
    caches = _device_caches()
    host = isinstance(failure, MemoryError) or "can't allocate memory" in str(failure or "")
    if not (caches or host):
        return
    gc.collect()
    for empty_cache in caches:
        try:
            empty_cache()
        except RuntimeError as exc:  # emptying the cache can itself run out of memory
            if not is_out_of_memory(exc):
                raise
