"""BaseFinetuning / BackboneFinetuning: differential with Lightning (lrs per epoch, what is frozen when,
final weights, the stored param-group metadata, resuming), plus the static helpers and errors."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

import statetrainer as st
from statetrainer.callbacks import BackboneFinetuning, BaseFinetuning
from statetrainer.errors import MisconfigurationError
from tests.callbacks import twins

pytest.importorskip("lightning")


def _backbone(lib: str, **options):
    return twins.api(lib)[1].BackboneFinetuning(**options)


@pytest.mark.parametrize("options", [
    dict(unfreeze_backbone_at_epoch=2),
    dict(unfreeze_backbone_at_epoch=1, backbone_initial_lr=0.001, should_align=False, train_bn=False),
    dict(unfreeze_backbone_at_epoch=0, lambda_func=lambda epoch: 1.5, backbone_initial_ratio_lr=0.5),
])
def test_backbone_finetuning_matches_lightning(options):
    runs = {}
    for lib in ("st", "pl"):
        callback = _backbone(lib, **options)
        trainer, model, rec = twins.fit(lib, twins.build(lib), [callback], max_epochs=5)
        runs[lib] = (callback, model, rec)
    (ours, model, rec), (theirs, ref_model, ref_rec) = runs["st"], runs["pl"]
    assert rec.lrs == ref_rec.lrs
    assert rec.trainable == ref_rec.trainable
    assert ours._internal_optimizer_metadata == theirs._internal_optimizer_metadata
    assert ours.previous_backbone_lr == pytest.approx(theirs.previous_backbone_lr)
    twins.assert_same_weights(model, ref_model)


def _layerwise(lib: str):
    """Freeze the whole backbone, then unfreeze one more of its layers at each epoch (Adam, no scheduler)."""
    base = twins.api(lib)[1].BaseFinetuning

    class Layerwise(base):
        def freeze_before_training(self, pl_module):
            self.freeze(pl_module.backbone, train_bn=False)

        def finetune_function(self, pl_module, epoch, optimizer):
            if epoch < len(pl_module.backbone):
                self.unfreeze_and_add_param_group(pl_module.backbone[epoch], optimizer, train_bn=False)

    return Layerwise()


def test_base_finetuning_subclass_matches_lightning():
    runs = {}
    for lib in ("st", "pl"):
        callback = _layerwise(lib)
        _, model, rec = twins.fit(lib, twins.build(lib, optimizer="adam", scheduler=None, lr=0.05), [callback],
                                  max_epochs=4)
        runs[lib] = (callback, model, rec)
    (ours, model, rec), (theirs, ref_model, ref_rec) = runs["st"], runs["pl"]
    assert rec.trainable == ref_rec.trainable
    assert rec.lrs == ref_rec.lrs
    assert ours._internal_optimizer_metadata == theirs._internal_optimizer_metadata
    assert [group["params"] for group in ours._internal_optimizer_metadata[0]] == \
        [["head.weight", "head.bias"], ["backbone.0.weight", "backbone.0.bias"]]
    twins.assert_same_weights(model, ref_model)


def _resumed(lib: str, tmp_path):
    """Two epochs with a last.ckpt, then a fresh callback resuming to five epochs."""
    factory = twins.build(lib, optimizer="adam", scheduler=None, lr=0.05)
    saver = twins.api(lib)[1].ModelCheckpoint(dirpath=tmp_path / lib, save_last=True)
    twins.fit(lib, factory, [_backbone(lib, unfreeze_backbone_at_epoch=1), saver], max_epochs=2,
              enable_checkpointing=True)
    callback = _backbone(lib, unfreeze_backbone_at_epoch=1)
    trainer, model, rec = twins.fit(lib, factory, [callback], max_epochs=5,
                                    ckpt_path=str(tmp_path / lib / "last.ckpt"))
    return trainer, model, rec, callback


def test_resume_rebuilds_the_added_param_groups_and_trains_them(tmp_path):
    trainer, model, rec, callback = _resumed("st", tmp_path)
    _, ref_model, ref_rec, ref_callback = _resumed("pl", tmp_path)
    assert len(trainer.optimizers[0].param_groups) == 2
    assert rec.lrs == ref_rec.lrs
    assert callback._internal_optimizer_metadata == ref_callback._internal_optimizer_metadata
    # Lightning leaves the re-added backbone frozen after the resume; we train it, as the uninterrupted run does
    assert rec.trainable == [["backbone.0.weight", "backbone.0.bias", "backbone.1.weight", "backbone.1.bias",
                              "head.weight", "head.bias"]] * 3
    assert ref_rec.trainable == [["backbone.1.weight", "backbone.1.bias", "head.weight", "head.bias"]] * 3
    _, straight, _ = twins.fit("st", twins.build("st", optimizer="adam", scheduler=None, lr=0.05),
                               [_backbone("st", unfreeze_backbone_at_epoch=1)], max_epochs=5)
    _, ref_straight, _ = twins.fit("pl", twins.build("pl", optimizer="adam", scheduler=None, lr=0.05),
                                   [_backbone("pl", unfreeze_backbone_at_epoch=1)], max_epochs=5)
    twins.assert_same_weights(model, straight)
    twins.assert_same_weights(straight, ref_straight)


def _nested():
    torch.manual_seed(0)
    block = nn.Module()
    block.conv = nn.Conv2d(3, 4, 3)
    block.scale = nn.Parameter(torch.ones(1))  # a parameter held by a module that also has children
    block.bn = nn.BatchNorm2d(4)
    return nn.Sequential(OrderedDict([("encoder", nn.Sequential(block, nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))),
                                      ("decoder", nn.ModuleDict({"out": nn.Linear(4, 2), "act": nn.ReLU()}))]))


def _grads(model):
    return {name: p.requires_grad for name, p in model.named_parameters()}


def _tracking(model):
    return {name: m.track_running_stats for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}


@pytest.mark.parametrize("target, train_bn", [("all", True), ("all", False), ("encoder", False), ("list", True)])
def test_static_helpers_match_lightning(target, train_bn):
    from lightning.pytorch.callbacks import BaseFinetuning as Theirs
    seen = {}
    for cls in (BaseFinetuning, Theirs):
        model = _nested()
        chosen = {"all": model, "encoder": model.encoder, "list": [model.encoder[0], [model.decoder]]}[target]
        flat = [type(m).__name__ for m in cls.flatten_modules(chosen)]
        cls.freeze(chosen, train_bn=train_bn)
        frozen = (_grads(model), _tracking(model))
        left = len(list(cls.filter_params(model, train_bn=train_bn, requires_grad=True)))
        cls.make_trainable(model.encoder)
        seen[cls] = (flat, frozen, left, _grads(model), _tracking(model))
    assert seen[BaseFinetuning] == seen[Theirs]


def test_unfreeze_and_add_param_group_rates_and_skips():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.BatchNorm1d(2))
    BaseFinetuning.freeze(model, train_bn=False)
    optimizer = torch.optim.SGD(model[0].parameters(), lr=0.5)
    BaseFinetuning.unfreeze_and_add_param_group(model[1], optimizer)
    assert optimizer.param_groups[1]["lr"] == 0.05
    assert optimizer.param_groups[1]["params"] == list(model[1].parameters())
    with pytest.warns(UserWarning) as caught:
        BaseFinetuning.unfreeze_and_add_param_group(model, optimizer, lr=3, train_bn=False)
    assert str(caught[0].message).startswith(
        "4 of the parameters to unfreeze are already in a param group of this SGD and were not added again;")
    assert len(optimizer.param_groups) == 2  # nothing new: model[2] is a batch norm and train_bn=False
    assert model[2].weight.requires_grad  # but it was made trainable, as in Lightning
    BaseFinetuning.unfreeze_and_add_param_group(model[2], optimizer, lr=3)
    assert optimizer.param_groups[2]["lr"] == 3.0


def test_distinct_parameters_with_equal_values_are_both_added():
    """Lightning compares values (torch.equal), so a fresh zero bias looks 'already present'; we compare identity."""
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    nn.init.zeros_(first.bias)
    nn.init.zeros_(second.bias)
    optimizer = torch.optim.SGD(first.parameters(), lr=0.1)
    BaseFinetuning.unfreeze_and_add_param_group(second, optimizer)
    assert optimizer.param_groups[1]["params"] == [second.weight, second.bias]


def test_backbone_finetuning_needs_a_backbone_module(tmp_path):
    class NoBackbone(st.StateModule):
        def __init__(self):
            super().__init__()
            self.backbone = None
            self.head = nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            return self.head(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.head.parameters(), lr=0.1)

    class Callback(BackboneFinetuning):
        def freeze_before_training(self, pl_module):
            pass

    trainer = st.Trainer(default_root_dir=tmp_path, max_epochs=1, callbacks=[Callback()], **twins.QUIET)
    with pytest.raises(MisconfigurationError, match=r"^BackboneFinetuning needs the module's `backbone` attribute to "
                                                    r"be an nn.Module; NoBackbone.backbone is NoneType\.$"):
        trainer.fit(NoBackbone(), twins.loader())


def test_the_two_methods_must_be_overridden():
    class Half(BaseFinetuning):
        pass

    with pytest.raises(NotImplementedError, match="Half must define freeze_before_training"):
        Half().freeze_before_training(nn.Linear(1, 1))
    with pytest.raises(NotImplementedError, match="Half must define finetune_function"):
        Half().finetune_function(nn.Linear(1, 1), 0, None)


def test_state_dict_holds_plain_metadata():
    callback = BackboneFinetuning()
    callback._internal_optimizer_metadata = {0: [{"lr": 0.1, "params": ["head.weight"]}]}
    callback.previous_backbone_lr = 0.01
    other = BackboneFinetuning()
    other.load_state_dict(callback.state_dict())
    assert other._internal_optimizer_metadata == {0: [{"lr": 0.1, "params": ["head.weight"]}]}
    assert other.previous_backbone_lr == 0.01 and other._restarting
