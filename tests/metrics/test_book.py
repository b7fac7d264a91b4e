"""MetricBook driven directly through its interface (no Trainer), with hand-computed expectations."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from statetrainer.errors import MisconfigurationError
from statetrainer.metrics import MetricBook


class FakeLogger:
    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step):
        self.calls.append((step, dict(metrics)))

    def save(self):
        self.calls.append("save")


def floats(metrics: dict) -> dict:
    return {k: round(v.item() if isinstance(v, torch.Tensor) else v, 5) for k, v in metrics.items()}


def types(metrics: dict) -> set:
    return {type(v).__name__ for v in metrics.values()}


def logged_calls(logger: FakeLogger) -> list:
    return [(step, floats(m)) for step, m in (c for c in logger.calls if c != "save")]


@pytest.fixture
def logger():
    return FakeLogger()


def train_batch(book, idx, size, logs, global_step, epoch=0, stepped=True):
    book.begin_batch(torch.zeros(size, 3), idx)
    for fx, name, value, options in logs:
        book.log(fx, name, value, **options)
    book.end_batch("train", global_step, epoch, False, stepped=stepped)


def val_run(book, batches, epoch=0, global_step=0, stage="validate"):
    book.begin_run(stage)
    for idx, (size, value) in enumerate(batches):
        book.begin_batch(torch.zeros(size, 2), idx, 0, 1)
        book.log("validation_step", "v", value, on_step=True)
        book.end_batch(stage, global_step, epoch)
    book.epoch_end_reached(stage)
    results = book.end_epoch(stage, global_step, epoch)
    book.end_run(stage)
    return results


def test_training_epoch_weighted_mean_and_fork_names(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    book.log("on_train_start", "s", 5.0)
    for i, (size, value) in enumerate([(2, 1.0), (2, 2.0), (1, 4.0)]):
        train_batch(book, i, size, [("training_step", "loss", value, dict(on_epoch=True, prog_bar=True))], i + 1)
        if i == 0:
            assert floats(book.callback_metrics) == {"loss": 1.0, "loss_step": 1.0}
            assert floats(book.logged_metrics) == {"loss_step": 1.0}
            assert book.progress_bar_metrics == {"loss_step": 1.0}
    book.epoch_end_reached("train")
    assert floats(book.callback_metrics) == {"loss": 2.0, "loss_step": 4.0, "loss_epoch": 2.0, "s": 5.0}
    book.end_epoch("train", 3, 0)
    assert floats(book.logged_metrics) == {"loss_step": 4.0, "loss_epoch": 2.0, "s": 5.0}
    assert book.progress_bar_metrics == {"loss_step": 4.0, "loss_epoch": 2.0}
    assert types(book.callback_metrics) == {"Tensor"} and types(book.progress_bar_metrics) == {"float"}
    assert logged_calls(logger) == [(0, {"loss_step": 1.0, "epoch": 0}), (1, {"loss_step": 2.0, "epoch": 0}),
                                    (2, {"loss_step": 4.0, "epoch": 0}),
                                    (2, {"loss_epoch": 2.0, "s": 5.0, "epoch": 0})]
    assert logger.calls.count("save") == 4


def test_two_validation_runs_inside_a_training_epoch(logger):
    book = MetricBook(50, lambda: [logger])
    book.begin_run("train")
    train_batch(book, 0, 2, [("training_step", "loss", 1.0, {})], 1)
    val_run(book, [(2, 10.0), (1, 40.0)], global_step=1)
    # the validation epoch value reaches callback_metrics; its step values only logged_metrics
    assert floats(book.callback_metrics) == {"loss": 1.0, "v": 20.0, "v_epoch": 20.0}
    assert floats(book.logged_metrics) == {"loss": 1.0, "v_step": 40.0, "v_epoch": 20.0}
    train_batch(book, 1, 2, [("training_step", "loss", 3.0, {})], 2)
    val_run(book, [(1, 7.0)], global_step=2)
    book.epoch_end_reached("train")
    book.end_epoch("train", 2, 0)
    book.end_run("train")
    assert floats(book.callback_metrics) == {"loss": 3.0, "v": 7.0, "v_epoch": 7.0}
    # validation steps count on across runs; run ends log at the training step counter
    assert logged_calls(logger) == [(0, {"v_step": 10.0}), (1, {"v_step": 40.0}), (0, {"v_epoch": 20.0, "epoch": 0}),
                                    (2, {"v_step": 7.0}), (1, {"v_epoch": 7.0, "epoch": 0})]


def test_sanity_check_is_discarded(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("sanity_check")
    book.begin_batch(torch.zeros(2, 2), 0)
    book.log("validation_step", "v", 3.0)
    book.end_batch("sanity_check", 0, 0)
    book.epoch_end_reached("sanity_check")
    assert book.end_epoch("sanity_check", 0, 0) == [{}]
    book.end_run("sanity_check")
    assert floats(book.callback_metrics) == {"v": 3.0}     # visible in on_sanity_check_end ...
    book.begin_run("train")                                 # ... and gone when training starts
    assert book.callback_metrics == {} and book.logged_metrics == {} and book.progress_bar_metrics == {}
    assert logger.calls == []


def test_validate_results_one_dict_per_dataloader(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("validate")
    book.log("on_validation_epoch_start", "first", 1.0)
    for dl, values in enumerate([[2.0, 4.0], [10.0]]):
        for idx, value in enumerate(values):
            book.begin_batch(torch.zeros(3, 1), idx, dl, 2)
            book.log("validation_step", "acc", value, prog_bar=True)
            book.log("validation_step", "raw", value, add_dataloader_idx=dl == 1, logger=False) if dl else None
            book.end_batch("validate", 7, 2)
    book.epoch_end_reached("validate")
    book.log("on_validation_epoch_end", "last", 9.0)
    results = book.end_epoch("validate", 7, 2)
    book.end_run("validate")
    assert results == [{"acc/dataloader_idx_0": 3.0, "first": 1.0, "last": 9.0},
                       {"acc/dataloader_idx_1": 10.0, "first": 1.0, "last": 9.0}]
    assert types(results[0]) == {"float"}
    assert book.progress_bar_metrics == {"acc/dataloader_idx_0": 3.0, "acc/dataloader_idx_1": 10.0}
    assert floats(book.callback_metrics)["raw/dataloader_idx_1"] == 10.0
    assert logged_calls(logger) == [(0, {"acc/dataloader_idx_1": 10.0, "first": 1.0, "last": 9.0,
                                         "acc/dataloader_idx_0": 3.0, "epoch": 2})]


def test_log_every_n_steps_counts_batches_that_stepped_and_a_stop_forces_a_log(logger):
    stop = {"now": False}
    book = MetricBook(3, lambda: [logger], should_stop=lambda: stop["now"])
    book.begin_run("train")
    for i in range(7):
        stop["now"] = i == 3
        train_batch(book, i, 1, [("training_step", "x", float(i), {})], i + 1)
    assert [step for step, _ in logged_calls(logger)] == [2, 3, 5]
    assert logger.calls[4] == "save"     # the stop also saved the loggers once the step was counted
    assert book.batches_that_stepped == 6    # the 7th batch is counted when the next one (or the epoch end) comes
    book.epoch_end_reached("train")
    assert book.batches_that_stepped == 7


def test_accumulating_batches_are_neither_logged_nor_counted(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    for i in range(4):
        train_batch(book, i, 1, [("training_step", "x", float(i), {})], (i + 1) // 2, stepped=i % 2 == 1)
    book.epoch_end_reached("train")
    assert logged_calls(logger) == [(0, {"x": 1.0, "epoch": 0}), (1, {"x": 3.0, "epoch": 0})]
    assert book.batches_that_stepped == 2


def test_stepping_is_inferred_from_the_global_step(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    for i, global_step in enumerate([0, 1, 1, 2]):
        book.begin_batch(torch.zeros(1), i)
        book.log("training_step", "x", float(i))
        book.end_batch("train", global_step, 0)
    assert [step for step, _ in logged_calls(logger)] == [0, 1]


def test_not_rank_zero_fills_dicts_but_calls_no_logger(logger):
    book = MetricBook(1, lambda: [logger], rank_zero=False)
    book.begin_run("train")
    train_batch(book, 0, 1, [("training_step", "x", 2.0, {})], 1)
    assert floats(book.logged_metrics) == {"x": 2.0}
    assert logger.calls == []


def test_sync_dist_goes_through_the_sync_callable():
    calls = []

    def sync(tensor, reduce_op=None, group=None):
        calls.append((reduce_op, group))
        return tensor * 2

    book = MetricBook(1, lambda: [], sync=sync)
    book.begin_run("train")
    train_batch(book, 0, 2, [("training_step", "a", 1.0, dict(sync_dist=True, on_epoch=True, sync_dist_group="g")),
                             ("training_step", "m", 3.0, dict(sync_dist=True, reduce_fx="max")),
                             ("training_step", "z", 1.0, dict(sync_dist=True, rank_zero_only=True)),
                             ("training_step", "n", 1.0, {})], 1)
    assert floats(book.callback_metrics) == {"a": 2.0, "a_step": 2.0, "m": 6.0, "z": 1.0, "n": 1.0}
    assert calls == [("mean", "g"), ("max", None)]
    book.epoch_end_reached("train")
    calls.clear()
    assert floats(book.callback_metrics)["a_epoch"] == 1.0     # (2 * sum) / (2 * weight)
    assert calls == [("mean", "g"), ("mean", "g")]


class CountingMetric:
    """A torchmetrics-like object: forward caches the batch value."""

    def __init__(self):
        self.total, self.resets, self._forward_cache = 0.0, 0, None

    def __call__(self, value):
        self.update(value)
        self._forward_cache = torch.tensor(value)

    def update(self, value):
        self.total += value

    def compute(self):
        return torch.tensor(self.total)

    def reset(self):
        self.total, self.resets = 0.0, self.resets + 1


def test_metric_objects_are_computed_at_epoch_end_and_reset(logger):
    metric = CountingMetric()
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    for i, value in enumerate([1.0, 2.0]):
        book.begin_batch(torch.zeros(1), i)
        metric(value)
        book.log("training_step", "m", metric, on_step=True, on_epoch=True)
        book.end_batch("train", i + 1, 0)
    assert floats(book.callback_metrics) == {"m": 2.0, "m_step": 2.0}
    book.epoch_end_reached("train")
    book.end_epoch("train", 2, 0)
    assert floats(book.callback_metrics) == {"m": 3.0, "m_step": 2.0, "m_epoch": 3.0}
    assert metric.resets == 1 and metric.total == 0.0
    assert logged_calls(logger)[-1] == (1, {"m_epoch": 3.0, "epoch": 0})


def test_metric_object_compute_must_return_a_tensor():
    metric = CountingMetric()
    metric.compute = lambda: 3.0
    book = MetricBook(1, lambda: [])
    book.begin_run("validate")
    book.begin_batch(torch.zeros(1), 0)
    book.log("validation_step", "m", metric)
    book.end_batch("validate", 0, 0)
    with pytest.raises(MisconfigurationError, match="'m' returned float from compute"):
        book.epoch_end_reached("validate")


def test_tensors_are_detached_even_with_enable_graph_as_lightning_does():
    book = MetricBook(1, lambda: [])
    book.begin_run("train")
    weight = torch.ones(1, requires_grad=True)
    book.begin_batch(torch.zeros(1), 0)
    book.log("training_step", "g", (weight * 2).sum(), enable_graph=True)
    assert not book.callback_metrics["g"].requires_grad


def test_user_step_key_replaces_the_logger_step(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    train_batch(book, 0, 1, [("training_step", "step", 40.0, {}), ("training_step", "x", 1.0, {})], 1)
    assert logged_calls(logger) == [(40, {"x": 1.0})]
    assert floats(book.logged_metrics) == {"step": 40.0, "x": 1.0}


def test_integer_values_warn_and_become_float():
    book = MetricBook(1, lambda: [])
    book.begin_run("train")
    book.begin_batch(torch.zeros(1), 0)
    with pytest.warns(UserWarning, match="'n'.*int64 tensor"):
        book.log("training_step", "n", torch.tensor(3))
    assert book.callback_metrics["n"].dtype == torch.float32


def test_explicit_batch_size_beats_inference():
    book = MetricBook(1, lambda: [])
    book.begin_run("validate")
    for idx, (value, size) in enumerate([(1.0, 1), (4.0, 3)]):
        book.begin_batch({"x": torch.zeros(5, 2)}, idx)
        book.log("validation_step", "v", value, batch_size=size)
        book.log("validation_step", "w", value)
        book.end_batch("validate", 0, 0)
    book.epoch_end_reached("validate")
    assert floats(book.callback_metrics) == {"v": 3.25, "w": 2.5}


def test_state_dict_round_trip_moves_the_logger_step(logger):
    book = MetricBook(1, lambda: [logger])
    book.load_state_dict({"batches_that_stepped": 41})
    book.begin_run("train")
    train_batch(book, 0, 1, [("training_step", "x", 1.0, {})], 42)
    book.epoch_end_reached("train")
    assert logged_calls(logger) == [(41, {"x": 1.0, "epoch": 0})]
    state = book.state_dict()
    assert state["batches_that_stepped"] == 42 and state["callback"] == {"x": torch.tensor(1.0)}
    assert list(state["train"]["slots"]) == ["training_step.x"]  # the epoch aggregate a mid-epoch resume continues


def test_a_resumed_training_run_continues_the_saved_epoch_aggregates(logger):
    """Saved after two of four batches, resumed: the epoch mean covers all four values, as uninterrupted."""
    first = MetricBook(1, lambda: [logger])
    first.begin_run("train")
    for index, value in enumerate((1.0, 2.0)):
        train_batch(first, index, 1, [("training_step", "x", value, {"on_epoch": True})], index + 1)
    saved = first.state_dict()
    resumed = MetricBook(1, lambda: [logger])
    resumed.load_state_dict(saved)
    resumed.begin_run("train")
    assert resumed.callback_metrics["x"] == torch.tensor(2.0)  # the dictionaries as saved
    for index, value in enumerate((3.0, 6.0), start=2):
        train_batch(resumed, index, 1, [("training_step", "x", value, {"on_epoch": True})], index + 1)
    resumed.epoch_end_reached("train")
    resumed.end_epoch("train", 4, 0)
    assert resumed.callback_metrics["x"] == torch.tensor(3.0)  # (1 + 2 + 3 + 6) / 4


def test_validate_after_fit_without_end_run_starts_fresh(logger):
    """Loops that call begin_run('train') per epoch and never end_run('train') still get a clean validate()."""
    book = MetricBook(1, lambda: [logger])
    for epoch in range(2):
        book.begin_run("train")
        train_batch(book, 0, 1, [("training_step", "x", 1.0, dict(on_epoch=True))], epoch + 1, epoch)
        book.epoch_end_reached("train")
        book.end_epoch("train", epoch + 1, epoch)
    assert "x_epoch" in book.callback_metrics
    assert val_run(book, [(1, 5.0)], epoch=2, global_step=2) == [{"v_epoch": 5.0}]
    assert floats(book.callback_metrics) == {"v": 5.0, "v_epoch": 5.0}


def test_clashing_fork_names_are_refused():
    book = MetricBook(1, lambda: [])
    book.begin_run("train")
    book.begin_batch(torch.zeros(1), 0)
    book.log("training_step", "a", 1.0, on_epoch=True)
    book.log("on_train_batch_start", "a", 1.0)          # the same name from another hook is fine
    with pytest.raises(MisconfigurationError, match=r"'a_step'.*would show as \['a_step'\]"):
        book.log("training_step", "a_step", 1.0)


def test_logging_outside_a_run_or_while_predicting_is_refused():
    book = MetricBook(1, lambda: [])
    with pytest.raises(MisconfigurationError, match="inside `training_step` while no training"):
        book.log("training_step", "x", 1.0)
    book.begin_run("predict")
    with pytest.raises(MisconfigurationError, match="`predict_step`, a hook where logging is not allowed"):
        book.log("predict_step", "x", 1.0)
    with pytest.raises(MisconfigurationError, match="outside the hooks"):
        book.log(None, "x", 1.0)


def test_logger_true_without_logger_warns_and_barebones_ignores():
    book = MetricBook(1, lambda: [])
    book.begin_run("train")
    book.begin_batch(torch.zeros(1), 0)
    with pytest.warns(UserWarning, match="'x', ..., logger=True"):
        book.log("training_step", "x", 1.0, logger=True)
    bare = MetricBook(1, lambda: [], barebones=True)
    with pytest.warns(UserWarning, match="barebones=True"):
        bare.log("training_step", "x", 1.0)
    assert bare.callback_metrics == {}


def test_log_dict_shares_the_options(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    book.begin_batch(torch.zeros(1), 0)
    book.log_dict("training_step", {"a": 1.0, "b": torch.tensor(2.0)}, prog_bar=True, on_epoch=True)
    assert book.progress_bar_metrics == {"a_step": 1.0, "b_step": 2.0}


def test_begin_run_refuses_an_unknown_stage():
    with pytest.raises(MisconfigurationError, match="`begin_run` got stage 'fit'"):
        MetricBook(1, lambda: []).begin_run("fit")


def test_a_run_left_open_by_a_failure_does_not_leak_into_the_next_call(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    train_batch(book, 0, 1, [("training_step", "x", 1.0, {})], 1)
    book.begin_run("validate")                      # validation inside the epoch ...
    book.begin_batch(torch.zeros(1), 0)
    book.log("validation_step", "v", 2.0)           # ... that raises: no end_batch / end_run follow
    assert val_run(book, [(1, 5.0)]) == [{"v_epoch": 5.0}]      # a later validate() call
    assert floats(book.callback_metrics) == {"v": 5.0, "v_epoch": 5.0}
    assert book._runs == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.integers(1, 9)), min_size=1, max_size=12),
       st.sampled_from(["mean", "sum", "max", "min"]))
def test_epoch_reduction_matches_the_definition(batches, reduce):
    book = MetricBook(1, lambda: [])
    book.begin_run("validate")
    for idx, (value, size) in enumerate(batches):
        book.begin_batch(torch.zeros(size, 1), idx)
        book.log("validation_step", "v", value, reduce_fx=reduce)
        book.end_batch("validate", 0, 0)
    book.epoch_end_reached("validate")
    [result] = book.end_epoch("validate", 0, 0)
    values = [torch.tensor(v, dtype=torch.float32).item() for v, _ in batches]
    sizes = [s for _, s in batches]
    expected = {"mean": sum(v * s for v, s in zip(values, sizes)) / sum(sizes), "sum": sum(values),
                "max": max(values), "min": min(values)}[reduce]
    assert result["v"] == pytest.approx(expected, rel=1e-4, abs=1e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_values_accumulate_on_the_device_and_end_on_cpu():
    book = MetricBook(1, lambda: [], device="cuda")
    book.begin_run("validate")
    book.begin_batch(torch.zeros(2, device="cuda"), 0)
    book.log("validation_step", "t", torch.tensor(1.0, device="cuda"))
    book.log("validation_step", "n", 3.0)
    book.end_batch("validate", 0, 0)
    book.epoch_end_reached("validate")
    assert book.callback_metrics["t"].device.type == "cuda"
    assert book.end_epoch("validate", 0, 0) == [{"t": 1.0, "n": 3.0}]
    book.end_run("validate")
    assert {value.device.type for value in book.callback_metrics.values()} == {"cpu"}


def test_abort_closes_open_runs_and_keeps_the_dictionaries(logger):
    book = MetricBook(1, lambda: [logger])
    book.begin_run("train")
    train_batch(book, 0, 1, [("training_step", "x", 1.0, {})], 1)
    book.begin_run("validate")
    book.abort()                                    # the validation step raised
    assert floats(book.callback_metrics) == {"x": 1.0}
    with pytest.raises(MisconfigurationError, match="while no training"):
        book.log("validation_step", "v", 1.0)
    assert val_run(book, [(1, 5.0)]) == [{"v_epoch": 5.0}]


def test_a_repeated_step_value_is_kept_as_logged_and_read_detached(logger):
    """The quick path (decision 007): a step-only slot keeps the logged tensor itself; whatever reads it gets it
    detached, and the value shown is the last one logged."""
    book = MetricBook(log_every_n_steps=2, loggers=lambda: [logger])
    book.begin_run("train")
    weight = torch.tensor(2.0, requires_grad=True)
    losses = [weight * k for k in (1.0, 3.0, 5.0)]
    for idx, loss in enumerate(losses):
        train_batch(book, idx, 4, [("training_step", "loss", loss, {"prog_bar": True})], global_step=idx + 1)
    shown = book.callback_metrics["loss"]
    assert shown.item() == 10.0 and shown.grad_fn is None and not shown.requires_grad
    assert book.progress_bar_metrics["loss"] == 10.0
    assert logged_calls(logger) == [(1, {"loss": 6.0, "epoch": 0})]  # logged at the second step (index 1)
    assert all(v.grad_fn is None for v in book.logged_metrics.values())


def test_an_aggregated_value_is_detached_when_logged(logger):
    """A slot with an epoch aggregate adds each value without its graph (nothing builds up across steps)."""
    book = MetricBook(log_every_n_steps=0, loggers=lambda: [logger])
    book.begin_run("train")
    weight = torch.tensor(1.0, requires_grad=True)
    for idx in range(3):
        train_batch(book, idx, 2, [("training_step", "acc", weight * (idx + 1), {"on_epoch": True})],
                    global_step=idx + 1)
    book.epoch_end_reached("train")
    book.end_epoch("train", 3, 0)
    epoch_value = book.callback_metrics["acc_epoch"]
    assert epoch_value.item() == 2.0 and epoch_value.grad_fn is None
