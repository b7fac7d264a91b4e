"""ModelPruning: the same masks per epoch, final weights and checkpoint contents as Lightning for each
way of choosing what, how much and when to prune; argument checks; verbose output."""
from __future__ import annotations

import pytest
import torch
import torch.nn.utils.prune as prune

from statetrainer.callbacks import ModelPruning
from statetrainer.errors import MisconfigurationError
from tests.callbacks import twins


def _mask_recorder(lib: str):
    class Masks(twins.api(lib)[1].Callback):
        def __init__(self):
            self.masks = []

        def on_train_epoch_end(self, trainer, pl_module):
            self.masks.append({k: v.clone() for k, v in pl_module.named_buffers() if k.endswith("_mask")})

    return Masks()


def _run(lib: str, tmp_path, options: dict, explicit: bool = False, **flags):
    package, callbacks = twins.api(lib)
    package.seed_everything(5, **({"verbose": False} if lib == "pl" else {}))
    model = twins.build(lib, batch_norm=False, scheduler=None, trainable_only=False)()
    if explicit:
        options = dict(options, parameters_to_prune=[(model.backbone[0], "weight"), (model.head, "bias")])
    pruning, masks = callbacks.ModelPruning(**options), _mask_recorder(lib)
    saver = callbacks.ModelCheckpoint(dirpath=tmp_path / lib, save_last=True)
    twins.fit(lib, None, [pruning, masks, saver], model=model, max_epochs=3, enable_checkpointing=True,
              default_root_dir=str(tmp_path / f"root-{lib}"), **flags)
    saved = torch.load(tmp_path / lib / "last.ckpt", weights_only=lib == "st")["state_dict"]
    return model, masks.masks, saved


CASES = {
    "global_l1": (dict(pruning_fn="l1_unstructured", amount=0.3), False, {}),
    "local_ln_structured_int": (dict(pruning_fn="ln_structured", use_global_unstructured=False, pruning_dim=1,
                                     pruning_norm=2, amount=1, parameter_names=["weight"],
                                     use_lottery_ticket_hypothesis=False), False, {}),
    "random_scheduled_resampled": (dict(pruning_fn="random_unstructured", amount=lambda e: 0.1 * (e + 1),
                                        apply_pruning=lambda e: e % 2 == 0, resample_parameters=True), False, {}),
    "on_validation_explicit_kept_masks": (dict(pruning_fn=prune.L1Unstructured, amount=0.5,
                                               prune_on_train_epoch_end=False, make_pruning_permanent=False,
                                               use_lottery_ticket_hypothesis=lambda e: e == 1), True,
                                          dict(val=twins.loader(8), limit_val_batches=1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_masks_weights_and_checkpoint_as_lightning(tmp_path, case):
    pytest.importorskip("lightning")
    options, explicit, flags = CASES[case]
    ours = _run("st", tmp_path, options, explicit, **flags)
    theirs = _run("pl", tmp_path, options, explicit, **flags)
    assert len(ours[1]) == len(theirs[1]) == 3
    for mine, ref in zip(ours[1], theirs[1]):
        assert sorted(mine) == sorted(ref)
        assert all(torch.equal(mine[k], ref[k]) for k in mine)
    twins.assert_same_weights(ours[0], theirs[0])
    assert sorted(ours[2]) == sorted(theirs[2])
    assert all(torch.equal(ours[2][k], theirs[2][k]) for k in ours[2])
    permanent = options.get("make_pruning_permanent", True)
    assert any(k.endswith("_mask") for k in ours[2]) is (not permanent)
    assert prune.is_pruned(ours[0]) is (not permanent)


def test_default_targets_are_weights_then_biases_of_every_layer():
    model = twins.build("st", batch_norm=False)()
    chosen = ModelPruning.sanitize_parameters_to_prune(model)
    assert [(type(m).__name__, n) for m, n in chosen] == [("Linear", "weight"), ("Linear", "weight"),
                                                          ("Linear", "bias"), ("Linear", "bias")]
    assert chosen[0][0] is model.backbone[0] and chosen[1][0] is model.head


@pytest.mark.parametrize("kwargs, message", [
    (dict(pruning_fn="magic"), r"^`ModelPruning\(pruning_fn\)` got 'magic'; accepted: one of \['l1_unstructured', "),
    (dict(pruning_fn="ln_structured", use_global_unstructured=False, pruning_dim=0),
     r"^`ModelPruning\(pruning_norm\)` got None with pruning_fn='ln_structured'; accepted: the norm's order n"),
    (dict(pruning_fn="random_structured", use_global_unstructured=False),
     r"^`ModelPruning\(pruning_dim\)` got None with pruning_fn='random_structured'; accepted: the dimension"),
    (dict(pruning_fn="random_structured", pruning_dim=1),
     r"^`ModelPruning\(use_global_unstructured=True\)` got the structured method RandomStructured; accepted: an "
     r"unstructured method"),
    (dict(pruning_fn=prune.L1Unstructured(amount=0.1)), r"^`ModelPruning\(pruning_fn\)` got <torch.nn.utils.prune"),
    (dict(pruning_fn=prune.L1Unstructured, use_global_unstructured=False),
     r"^`ModelPruning\(pruning_fn\)` got the class L1Unstructured with use_global_unstructured=False; "),
    (dict(pruning_fn=prune.l1_unstructured),
     r"^`ModelPruning\(pruning_fn\)` got the function l1_unstructured with use_global_unstructured=True; "),
    (dict(pruning_fn="l1_unstructured", parameter_names=["gamma"]),
     r"^`ModelPruning\(parameter_names\)` got 'gamma'; accepted: 'weight' and/or 'bias'\.$"),
    (dict(pruning_fn="l1_unstructured", amount="half"), r"^`ModelPruning\(amount\)` got 'half'; accepted: "),
    (dict(pruning_fn="l1_unstructured", verbose=3), r"^`ModelPruning\(verbose\)` got 3; accepted: 0, 1 or 2\.$"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(MisconfigurationError, match=message):
        ModelPruning(**kwargs)


def test_parameters_not_in_the_model_are_refused():
    model = twins.build("st", batch_norm=False)()
    stranger = torch.nn.Linear(2, 2)
    with pytest.raises(MisconfigurationError, match=r"names what the model does not have: modules \['Linear'\], "
                                                    r"parameters \['Linear.gain'\]"):
        ModelPruning.sanitize_parameters_to_prune(model, [(stranger, "weight"), (model.head, "gain")])
    with pytest.raises(MisconfigurationError, match=r"accepted: a list of \(nn.Module, parameter name\) pairs"):
        ModelPruning.sanitize_parameters_to_prune(model, [model.head])


def test_a_function_prunes_locally_and_verbose_reports(capsys):
    model = twins.build("st", batch_norm=False)()
    calls = []

    def my_prune(module, name, amount):
        calls.append((type(module).__name__, name, amount))
        prune.l1_unstructured(module, name=name, amount=amount)

    callback = ModelPruning(my_prune, use_global_unstructured=False, parameter_names=["weight"], verbose=2,
                            use_lottery_ticket_hypothesis=False)
    callback.setup(None, model, "fit")
    callback.apply_pruning(0.5)
    assert calls == [("Linear", "weight", 0.5), ("Linear", "weight", 0.5)]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ModelPruning: my_prune pruned 0/40 (0.00%) -> 20/40 (50.00%) parameters"
    assert out[1] == "ModelPruning: Linear.weight (amount=0.5): 0 (0.00%) -> 16 (50.00%) pruned"
