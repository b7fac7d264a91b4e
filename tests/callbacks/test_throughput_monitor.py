"""ThroughputMonitor: the same metric names, steps and counts in the loggers as Lightning (fit with validation,
validate twice, test, predict, gradient accumulation); FLOPs and MFU; arguments."""
from __future__ import annotations

import pytest

from statetrainer.callbacks import ThroughputMonitor
from statetrainer.errors import MisconfigurationError
from tests.callbacks import twins


def _timeless(calls: list) -> list:
    """(step, metric names, the values that do not depend on the clock) of the throughput calls."""
    return [(step, sorted(m), {k: v for k, v in m.items() if "time" not in k and "per_sec" not in k})
            for step, m in calls if any("/" in k for k in m)]


def _session(lib: str, **flags) -> list:
    logger = twins.recording_logger(lib)
    monitor = twins.api(lib)[1].ThroughputMonitor(batch_size_fn=lambda batch: batch[0].shape[0],
                                                  length_fn=lambda batch: 3 * batch[0].shape[0], window_size=2)
    trainer, model, _ = twins.fit(lib, twins.build(lib), [monitor], max_epochs=2, val=twins.loader(16, 4),
                                  logger=logger, log_every_n_steps=2, limit_val_batches=3, **flags)
    for _ in range(2):
        trainer.validate(model, twins.loader(16, 4), verbose=False)
    trainer.test(model, twins.loader(12, 4), verbose=False)
    trainer.predict(model, twins.loader(12, 4))
    return _timeless(logger.calls)


@pytest.mark.parametrize("flags", [{}, dict(accumulate_grad_batches=3)])
def test_same_metrics_and_steps_as_lightning(flags):
    pytest.importorskip("lightning")
    ours, theirs = _session("st", **flags), _session("pl", **flags)
    assert ours == theirs
    assert {name for _, names, _ in ours for name in names} >= {
        "train/device/samples_per_sec", "train/device/batches_per_sec", "train/device/items_per_sec", "epoch",
        "validate/samples", "test/lengths", "predict/batches", "predict/time"}


def test_flops_and_mfu_when_the_module_gives_flops():
    class Counted(twins.build("st")):
        flops_per_batch = 1000

    logger = twins.recording_logger("st")
    monitor = ThroughputMonitor(batch_size_fn=lambda batch: len(batch[0]), window_size=3, available_flops=1e6,
                                separator="|")
    twins.fit("st", Counted, [monitor], max_epochs=1, logger=logger, log_every_n_steps=1)
    names = [sorted(m) for _, m in logger.calls if "train|batches" in m]
    assert "train|device|flops_per_sec" not in names[1] and "train|device|flops_per_sec" in names[2]
    last = next(m for _, m in reversed(logger.calls) if "train|device|mfu" in m)
    assert last["train|device|mfu"] == pytest.approx(last["train|device|flops_per_sec"] / 1e6)
    first = _time(logger, last["train|batches"] - 2)  # the window holds the last three batches: two intervals
    assert last["train|device|flops_per_sec"] == pytest.approx(2000 / (last["train|time"] - first))


def _time(logger, batches: int) -> float:
    return next(m["train|time"] for _, m in logger.calls if m.get("train|batches") == batches)


def test_a_module_without_flops_is_told_once():
    import statetrainer as st
    monitor = ThroughputMonitor(batch_size_fn=lambda batch: len(batch[0]))
    trainer = st.Trainer(callbacks=[monitor], max_epochs=2, **dict(twins.QUIET, logger=twins.recording_logger("st")))
    with pytest.warns(UserWarning, match=r"^ThroughputMonitor logs no FLOPs: Twin has no `flops_per_batch` "
                                         r"attribute") as caught:
        trainer.fit(twins.build("st")(), twins.loader())
    assert len([w for w in caught if "FLOPs" in str(w.message)]) == 1


def test_no_rates_before_the_window_is_full():
    logger = twins.recording_logger("st")
    twins.fit("st", twins.build("st"), [ThroughputMonitor(batch_size_fn=lambda batch: 8, window_size=4)],
              max_epochs=1, logger=logger, log_every_n_steps=1)
    per_batch = [(m["train/batches"], any("per_sec" in k for k in m)) for _, m in logger.calls if "train/batches" in m]
    assert per_batch == [(1, False), (2, False), (3, False), (4, True)]


def test_samples_fewer_than_batches_is_an_error():
    monitor = ThroughputMonitor(batch_size_fn=lambda batch: 0)
    with pytest.raises(ValueError, match=r"^ThroughputMonitor: batch_size_fn gave 0 samples in 1 batches; accepted: "
                                         r"at least one sample per batch\.$"):
        twins.fit("st", twins.build("st"), [monitor], max_epochs=1, logger=twins.recording_logger("st"))


def test_window_size_is_checked():
    with pytest.raises(MisconfigurationError, match=r"^`ThroughputMonitor\(window_size\)` got 1; accepted: an int >= "
                                                    r"2 \(rates need two points\)\.$"):
        ThroughputMonitor(batch_size_fn=len, window_size=1)
