"""StochasticWeightAveraging: learning rates per epoch, the scheduler swap and the final averaged weights
against Lightning; batch-norm statistics; resuming mid-SWA; argument checks."""
from __future__ import annotations

import pytest
import torch

from statetrainer.callbacks import StochasticWeightAveraging
from statetrainer.errors import MisconfigurationError
from tests.callbacks import twins


def _scheduler_probe(lib: str):
    class Schedulers(twins.api(lib)[1].Callback):
        def __init__(self):
            self.names = []

        def on_train_epoch_end(self, trainer, pl_module):
            self.names.append([type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs])

    return Schedulers()


def _swa_run(lib: str, options: dict, model: dict, extra=(), **flags):
    swa, probe = twins.api(lib)[1].StochasticWeightAveraging(**options), _scheduler_probe(lib)
    trainer, module, rec = twins.fit(lib, twins.build(lib, **model), [swa, probe, *extra], **flags)
    return trainer, module, rec, probe.names, swa


CASES = {
    "int_start_cos": (dict(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=2), {}),
    "fraction_linear_adam": (dict(swa_lrs=[0.02], swa_epoch_start=0.6, annealing_epochs=1,
                                  annealing_strategy="linear"), dict(optimizer="adam", scheduler=None)),
    "ema_avg_fn": (dict(swa_lrs=0.03, swa_epoch_start=1, avg_fn=lambda avg, cur, n: 0.7 * avg + 0.3 * cur), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_lrs_schedulers_and_weights_as_lightning(case):
    pytest.importorskip("lightning")
    options, model = CASES[case]
    ours = _swa_run("st", options, dict(batch_norm=False, **model), max_epochs=5)
    theirs = _swa_run("pl", options, dict(batch_norm=False, **model), max_epochs=5)
    assert ours[2].lrs == theirs[2].lrs
    assert ours[3] == theirs[3]
    assert ours[3][-1] == ["SWALR"]
    twins.assert_same_weights(ours[1], theirs[1])
    assert ours[4].n_averaged.item() == theirs[4].n_averaged.item()
    assert (ours[0].current_epoch, ours[0].global_step) == (theirs[0].current_epoch, theirs[0].global_step)


def _stale_gradients_cleared():
    """Lightning's batch-norm pass ends with an optimizer step that reuses the last training batch's
    gradients (it skips zero_grad and backward); clearing them shows the rest is the same computation."""
    import lightning.pytorch as pl

    class Clear(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == trainer.max_epochs - 1:  # Lightning's extra batch-norm epoch
                trainer.optimizers[0].zero_grad(set_to_none=True)

    return Clear()


def test_batch_norm_statistics_are_recomputed_for_the_average():
    pytest.importorskip("lightning")
    options = dict(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=2)
    ours = _swa_run("st", options, {}, max_epochs=4)
    theirs = _swa_run("pl", options, {}, extra=[_stale_gradients_cleared()], max_epochs=4)
    twins.assert_same_weights(ours[1], theirs[1])
    assert ours[1].backbone[1].momentum == 0.1  # restored after the pass
    assert ours[1].backbone[1].num_batches_tracked.item() == 4  # one pass over the 4 training batches
    # Lightning counts its statistics pass as a fifth epoch with one more (gradient-less) step; we do not
    assert (ours[0].current_epoch, ours[0].global_step) == (4, 16)
    assert (theirs[0].current_epoch, theirs[0].global_step) == (5, 17)


def test_resume_inside_the_swa_phase_equals_the_uninterrupted_run(tmp_path):
    options = dict(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=3)
    saver = twins.api("st")[1].ModelCheckpoint(dirpath=tmp_path, save_last=True)
    twins.fit("st", twins.build("st"), [StochasticWeightAveraging(**options), saver], max_epochs=3,
              enable_checkpointing=True, default_root_dir=str(tmp_path))
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    swa_state = next(v for k, v in state["callbacks"].items() if k.startswith("StochasticWeightAveraging"))
    assert swa_state["n_averaged"] == 2 and swa_state["latest_update_epoch"] == 2
    resumed_swa = StochasticWeightAveraging(**options)
    trainer, resumed, rec = twins.fit("st", twins.build("st"), [resumed_swa], max_epochs=6,
                                      ckpt_path=str(tmp_path / "last.ckpt"))
    _, straight, straight_rec = twins.fit("st", twins.build("st"), [StochasticWeightAveraging(**options)],
                                          max_epochs=6)
    assert rec.lrs == straight_rec.lrs[3:]
    assert type(trainer.lr_scheduler_configs[0].scheduler).__name__ == "SWALR"
    twins.assert_same_weights(resumed, straight)


def test_training_that_stops_before_the_end_keeps_its_own_weights(tmp_path):
    class StopEarly(twins.api("st")[1].Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                trainer.should_stop = True

    swa = StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=2)
    trainer, model, _ = twins.fit("st", twins.build("st", batch_norm=False), [swa, StopEarly()], max_epochs=5)
    assert trainer.current_epoch == 3 and swa.n_averaged.item() == 2
    assert not torch.equal(model.head.weight.detach(), swa._average["head.weight"])


def test_two_optimizers_are_refused():
    class Two(twins.build("st")):
        def configure_optimizers(self):
            return [torch.optim.SGD(self.head.parameters(), lr=0.1), torch.optim.SGD(self.backbone.parameters(), 0.1)]

        def training_step(self, batch, batch_idx):
            return None

    Two.automatic_optimization = False
    with pytest.raises(MisconfigurationError, match=r"^StochasticWeightAveraging works with one optimizer; "
                                                    r"configure_optimizers returned 2\.$"):
        twins.fit("st", Two, [StochasticWeightAveraging(swa_lrs=0.1)], max_epochs=1)


def test_a_fraction_needs_a_finite_max_epochs():
    with pytest.raises(MisconfigurationError, match=r"^`StochasticWeightAveraging\(swa_epoch_start\)` got 0\.5; "
                                                    r"accepted: an int epoch when max_epochs=-1"):
        twins.fit("st", twins.build("st"), [StochasticWeightAveraging(swa_lrs=0.1, swa_epoch_start=0.5)],
                  max_epochs=-1, max_steps=3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(swa_epoch_start=0), r"`StochasticWeightAveraging\(swa_epoch_start\)` got 0; accepted: an int >= 1 or a "
                              r"float in \[0, 1\]\."),
    (dict(swa_epoch_start=1.5), r"got 1\.5; accepted: an int >= 1 or a float in \[0, 1\]"),
    (dict(swa_lrs=-0.1), r"`StochasticWeightAveraging\(swa_lrs\)` got -0\.1; accepted: a positive float"),
    (dict(swa_lrs=[0.1, "x"]), r"`StochasticWeightAveraging\(swa_lrs\)` got \[0\.1, 'x'\]"),
    (dict(annealing_epochs=-1), r"`StochasticWeightAveraging\(annealing_epochs\)` got -1; accepted: an int >= 0"),
    (dict(annealing_strategy="step"), r"`StochasticWeightAveraging\(annealing_strategy\)` got 'step'; accepted: "
                                      r"'cos' or 'linear'"),
    (dict(avg_fn=3), r"`StochasticWeightAveraging\(avg_fn\)` got 3; accepted: a function"),
    (dict(device=0), r"`StochasticWeightAveraging\(device\)` got 0; accepted: a torch.device"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(MisconfigurationError, match=message):
        StochasticWeightAveraging(**{"swa_lrs": 0.1, **kwargs})
