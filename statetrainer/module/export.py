"""Exporting a module to TorchScript or ONNX."""
from __future__ import annotations

import torch

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["to_torchscript", "to_onnx"]


def _example(module, given):
    sample = given if given is not None else module.example_input_array
    if sample is None:
        raise MisconfigurationError(
            "an input sample is needed: pass example_inputs/input_sample or set `example_input_array`.")
    return sample


def to_torchscript(module, file_path, method, example_inputs, **kwargs):
    mode = module.training
    module.eval()
    try:
        if method == "script":
            scripted = torch.jit.script(module, **kwargs)
        elif method == "trace":
            sample = _example(module, example_inputs)
            scripted = torch.jit.trace(module, example_inputs=sample, **kwargs)
        else:
            raise flag_error("method", method, "'script' or 'trace'")
    finally:
        module.train(mode)
    if file_path is not None:
        torch.jit.save(scripted, file_path)
    return scripted


def to_onnx(module, file_path, input_sample, **kwargs):
    sample = _example(module, input_sample)
    mode = module.training
    module.eval()
    try:
        torch.onnx.export(module, sample, file_path, **kwargs)
    finally:
        module.train(mode)
