"""Accepted values, their conversion, reduce_fx spellings and batch-size inference."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.metrics import extract_batch_size
from statetrainer.metrics.options import parse_reduce_fx
from statetrainer.metrics.values import to_loggable


@pytest.mark.parametrize("value, expected", [
    (3, 3.0), (2.5, 2.5), (True, 1.0), (np.float64(1.5), 1.5), (torch.tensor([[4.0]]), 4.0),
])
def test_numbers_and_single_element_tensors(value, expected):
    out = to_loggable("x", value)
    assert out.shape == () and out.item() == expected


def test_tensor_is_detached_copy():
    source = torch.tensor(2.0, requires_grad=True) * 1
    out = to_loggable("x", source)
    assert not out.requires_grad and out.data_ptr() != source.data_ptr()


@pytest.mark.parametrize("value, what", [
    (torch.ones(2), "got a tensor of shape (2,)"), ("abc", "got a str"), ({"a": 1}, "got a dict"),
    (None, "got a NoneType"), (np.ones(2), "got a ndarray"),
])
def test_refused_values(value, what):
    with pytest.raises(MisconfigurationError, match=r"`self.log\('x', value\)` " + what.replace("(", r"\(")
                       .replace(")", r"\)")):
        to_loggable("x", value)


@pytest.mark.parametrize("spelling, reduce", [
    ("mean", "mean"), ("AVG", "mean"), ("sum", "sum"), ("max", "max"), ("min", "min"),
    (torch.mean, "mean"), (torch.sum, "sum"), (sum, "sum"), (torch.max, "max"), (max, "max"), (torch.min, "min"),
])
def test_reduce_fx_spellings(spelling, reduce):
    assert parse_reduce_fx("x", spelling) == reduce


def test_custom_reduce_fx_refused():
    with pytest.raises(MisconfigurationError, match=r"reduce_fx=...\)` got 'median'; accepted: 'mean'"):
        parse_reduce_fx("x", "median")


@dataclasses.dataclass
class Batch:
    label: str
    x: torch.Tensor


@pytest.mark.parametrize("batch, size", [
    (torch.zeros(5, 2), 5), (torch.tensor(1.0), 1), ((torch.zeros(3), torch.zeros(3)), 3),
    ({"a": [torch.zeros(4, 1)], "b": torch.zeros(4)}, 4), (Batch("s", torch.zeros(6)), 6),
    (["text", torch.zeros(2)], 2), ([torch.zeros(2), "text"], 2),
])
def test_batch_size_inference(batch, size):
    ambiguous = isinstance(batch, list) and isinstance(batch[-1], str)     # a non-tensor after a tensor
    with pytest.warns(UserWarning, match="ambiguous") if ambiguous else _no_warning():
        assert extract_batch_size(batch) == size


def test_ambiguous_batch_warns_and_keeps_the_first_size():
    with pytest.warns(UserWarning, match="ambiguous batch is 3"):
        assert extract_batch_size((torch.zeros(3), torch.zeros(5))) == 3


def test_batch_without_tensor_is_refused():
    with pytest.raises(MisconfigurationError, match="type str .*batch_size=N"):
        extract_batch_size("abc")


class _no_warning:
    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
