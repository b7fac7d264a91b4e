"""The out-of-memory predicate and the batch-size search strategies, without a trainer."""
from __future__ import annotations

import pytest
import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.tuner.batch_search import BatchSizeSearch
from statetrainer.tuner.oom import is_out_of_memory
from tests.tuner.helpers import fake_oom


@pytest.mark.parametrize("exc", [
    fake_oom(),
    torch.cuda.OutOfMemoryError("CUDA error: out of memory"),
    RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:114] data. DefaultCPUAllocator: can't allocate memory: 8 GB"),
    RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a non-contiguous"),
    MemoryError(),
])
def test_out_of_memory_errors_are_recognised(exc):
    assert is_out_of_memory(exc)


@pytest.mark.parametrize("exc", [
    RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x3 and 4x1)"),
    ValueError("out of memory"),          # only RuntimeErrors (and torch's OOM type) count
    KeyError("memory"),
    KeyboardInterrupt(),
])
def test_other_errors_are_not(exc):
    assert not is_out_of_memory(exc)


def limit_of(n: int):
    """attempt(size): fits while size <= n."""
    return lambda size: size <= n


def test_power_doubles_until_a_failure_then_halves():
    search = BatchSizeSearch(limit_of(16), "power")
    assert search.run(2) == 16
    assert search.tried == [(2, True), (4, True), (8, True), (16, True), (32, False)]


def test_power_keeps_halving_while_nothing_fitted():
    search = BatchSizeSearch(limit_of(5), "power")
    assert search.run(32) == 4   # 32, 16, 8 fail; 4 fits; 8 fails again: halve to 4 and stop
    assert search.tried == [(32, False), (16, False), (8, False), (4, True), (8, False)]


def test_binsearch_finds_a_size_that_is_not_a_power_of_two():
    search = BatchSizeSearch(limit_of(24), "binsearch", margin=0.0)
    assert search.run(2) == 24
    assert [size for size, _ in search.tried] == [2, 4, 8, 16, 32, 24, 28, 26, 25]


def test_binsearch_margin_takes_lightnings_five_percent_off():
    assert BatchSizeSearch(limit_of(24), "binsearch").run(2) == 22        # int(24 * 0.95)
    assert BatchSizeSearch(limit_of(24), "binsearch", margin=0.5).run(2) == 12


def test_max_trials_stops_at_the_last_success():
    search = BatchSizeSearch(limit_of(1000), "power", max_trials=3)
    assert search.run(2) == 8
    assert search.tried == [(2, True), (4, True), (8, True)]
    binary = BatchSizeSearch(limit_of(1000), "binsearch", max_trials=2, margin=0.0)
    assert binary.run(2) == 4


def test_max_val_caps_the_size_without_trying_it():
    search = BatchSizeSearch(limit_of(1000), "power", max_val=48)
    assert search.run(2) == 48
    assert [size for size, _ in search.tried] == [2, 4, 8, 16, 32]


def test_no_growth_once_a_batch_holds_the_whole_dataset():
    search = BatchSizeSearch(limit_of(1000), "power", dataset_size=lambda: 40)
    assert search.run(2) == 64
    assert [size for size, _ in search.tried] == [2, 4, 8, 16, 32, 64]


def test_even_batch_size_one_failing_is_an_error():
    with pytest.raises(MisconfigurationError, match="even batch size 1 runs out of memory"):
        BatchSizeSearch(limit_of(0), "power").run(2)


@pytest.mark.parametrize(("mode", "limit", "start", "kwargs"), [
    ("power", 16, 2, {}),
    ("power", 5, 32, {}),
    ("binsearch", 24, 2, {"margin": 0.0}),
    ("power", 1000, 2, {"max_val": 48}),
    ("power", 1000, 2, {"max_trials": 2}),
    ("binsearch", 1000, 2, {"max_trials": 2}),
    ("power", 1000, 64, {"dataset_size": lambda: 64}),
])
def test_each_size_tried_after_the_first_is_announced_once(caplog, mode, limit, start, kwargs):
    """Lightning users count the 'trying batch size' lines; each names the next size that really runs."""
    search = BatchSizeSearch(limit_of(limit), mode, **kwargs)
    with caplog.at_level("INFO", logger="statetrainer.tuner.batch_search"):
        search.run(start)
    announced = [int(record.getMessage().split("trying batch size ")[1].split()[0])
                 for record in caplog.records if "trying batch size" in record.getMessage()]
    assert announced == [size for size, _ in search.tried[1:]]
