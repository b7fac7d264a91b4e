"""Precision: autocast and gradient scaling for mixed precision, dtype conversion for "true" ones."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from statetrainer.errors import MisconfigurationError

__all__ = ["Precision", "make_precision", "precision_for_device"]

_TRUE_DTYPES = {"64-true": torch.float64, "32-true": torch.float32, "16-true": torch.float16,
                "bf16-true": torch.bfloat16}
_NULL = contextlib.nullcontext()


def _convert_floats(data: Any, dtype: torch.dtype) -> Any:
    if isinstance(data, torch.Tensor):
        return data.to(dtype) if data.is_floating_point() else data
    if isinstance(data, (list, tuple)):
        converted = [_convert_floats(item, dtype) for item in data]
        return type(data)(*converted) if hasattr(data, "_fields") else type(data)(converted)
    if isinstance(data, dict):
        return type(data)((k, _convert_floats(v, dtype)) for k, v in data.items())
    return data


class Precision:
    """32-true by default: every method is a pass-through."""

    name = "32-true"
    scaler = None

    def __init__(self, name: str = "32-true", device_type: str = "cpu"):
        self.name = name
        self.device_type = device_type
        self.param_dtype = _TRUE_DTYPES.get(name)
        self.mixed_dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(name)
        if self.mixed_dtype is torch.float16 and device_type == "cuda":
            self.scaler = torch.amp.GradScaler("cuda")
        self.converts_input = self.param_dtype not in (None, torch.float32)

    def convert_module(self, module: torch.nn.Module) -> torch.nn.Module:
        if self.param_dtype is not None and self.param_dtype is not torch.float32:
            return module.to(dtype=self.param_dtype)
        return module

    @contextlib.contextmanager
    def tensor_init_context(self) -> Iterator[None]:
        """For a "*-true" precision other than 32, floating tensors created inside get its dtype."""
        if self.param_dtype is None or self.param_dtype is torch.float32:
            yield
            return
        previous = torch.get_default_dtype()
        torch.set_default_dtype(self.param_dtype)
        try:
            yield
        finally:
            torch.set_default_dtype(previous)

    def convert_input(self, batch: Any) -> Any:
        return _convert_floats(batch, self.param_dtype) if self.converts_input else batch

    def autocast(self):
        if self.mixed_dtype is None:
            return _NULL
        return torch.autocast(self.device_type, dtype=self.mixed_dtype)

    def backward(self, loss: torch.Tensor, dispatch, *args: Any, **kwargs: Any) -> None:
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        dispatch.call_module("backward", loss, *args, **kwargs)

    def unscale(self, optimizer) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def optimizer_step(self, optimizer, closure, **kwargs: Any) -> Any:
        if closure is not None:
            closure = _with_grad(closure)
        if self.scaler is None:
            if closure is not None and evaluates_closure_once(optimizer):
                loss = closure()  # what torch's step would do first
                out = optimizer.step(**kwargs)
                return loss if out is None else out  # torch's step(closure) returns the closure's loss
            return optimizer.step(closure=closure, **kwargs)
        if isinstance(optimizer, torch.optim.LBFGS):
            raise MisconfigurationError("precision='16-mixed' got an LBFGS optimizer; accepted: optimizers "
                                        "that step without re-evaluating a closure, or precision='32-true'.")
        result = closure()
        self.scaler.step(optimizer, **kwargs)
        self.scaler.update()
        return result

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def _with_grad(closure):
    """The closure with autograd on: an optimizer whose step() runs under torch.no_grad (Hugging Face's
    AdamW, for one) would otherwise run training_step and backward without a graph."""
    def closure_with_grad() -> Any:
        with torch.enable_grad():
            return closure()
    return closure_with_grad


def evaluates_closure_once(optimizer) -> bool:
    """torch's own optimizers except LBFGS call the closure exactly once, before the update; others
    (LBFGS, third-party ones such as SAM) get the closure and decide. So does a torch optimizer whose
    step was replaced (patched, mocked): the replacement receives the closure, as in Lightning."""
    cls = type(optimizer)
    if not cls.__module__.startswith("torch.optim") or issubclass(cls, torch.optim.LBFGS):
        return False
    return getattr(optimizer.step, "__module__", "").startswith("torch.optim")


def precision_for_device(name: str, device_type: str) -> str:
    """The precision a run on `device_type` uses for the flag `name`: float16 autocast needs a GPU, so on
    the CPU '16-mixed' becomes 'bf16-mixed' with a warning (as Lightning does)."""
    if name == "16-mixed" and device_type == "cpu":
        import warnings
        warnings.warn("`precision` '16-mixed' (float16 autocast) needs a GPU; on the CPU this run uses "
                      "'bf16-mixed' instead.", UserWarning, stacklevel=3)
        return "bf16-mixed"
    return name


def make_precision(name: str, device_type: str) -> Precision:
    return Precision(precision_for_device(name, device_type), device_type)
