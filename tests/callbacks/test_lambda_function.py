"""LambdaCallback: every hook reachable as a keyword argument, called as Lightning calls it."""
from __future__ import annotations

import functools

import pytest
import torch

from statetrainer.callbacks import Callback, LambdaCallback
from statetrainer.callbacks.lambda_function import HOOK_NAMES
from tests.callbacks import twins


def _recording(lib: str, calls: list):
    def record(name, trainer, module, *args, **kwargs):
        calls.append((name, len(args) + len(kwargs)))
    callbacks = twins.api(lib)[1]
    return callbacks.LambdaCallback(**{name: functools.partial(record, name) for name in HOOK_NAMES})


def _run_all(lib: str, tmp_path) -> list:
    """fit (with a validation loader and a checkpoint), then validate, test and predict."""
    calls: list = []
    cb = _recording(lib, calls)
    trainer, model, _ = twins.fit(lib, twins.build(lib), [cb], max_epochs=2, val=twins.loader(16),
                                  limit_train_batches=2, limit_val_batches=1, default_root_dir=str(tmp_path / lib),
                                  enable_checkpointing=True)
    trainer.validate(model, twins.loader(8), verbose=False)
    trainer.test(model, twins.loader(8), verbose=False)
    trainer.predict(model, twins.loader(8))
    return calls


def test_hook_names_are_the_callback_hooks():
    assert "on_train_batch_end" in HOOK_NAMES and "on_exception" in HOOK_NAMES and "setup" in HOOK_NAMES
    assert not {"state_dict", "load_state_dict", "state_key"} & set(HOOK_NAMES)
    lightning = pytest.importorskip("lightning.pytorch.callbacks.lambda_function")
    import inspect
    assert set(HOOK_NAMES) == set(inspect.signature(lightning.LambdaCallback).parameters)


def test_same_hook_calls_as_lightning(tmp_path):
    pytest.importorskip("lightning")
    ours, theirs = _run_all("st", tmp_path), _run_all("pl", tmp_path)
    assert ours == theirs
    assert {name for name, _ in ours} >= set(HOOK_NAMES) - {"on_exception", "on_load_checkpoint"}


def test_exception_and_load_checkpoint_hooks(tmp_path):
    calls: list = []
    cb = LambdaCallback(on_exception=lambda trainer, module, error: calls.append(("exception", str(error))),
                        on_load_checkpoint=lambda trainer, module, ckpt: calls.append(("load", ckpt["epoch"])))
    trainer, model, _ = twins.fit("st", twins.build("st"), [], max_epochs=1, default_root_dir=str(tmp_path))
    trainer.save_checkpoint(tmp_path / "a.ckpt")

    class Boom(twins.build("st")):
        def on_train_epoch_start(self):
            if self.current_epoch == 2:
                raise RuntimeError("boom at 2")

    with pytest.raises(RuntimeError, match="boom at 2"):
        twins.fit("st", Boom, [cb], max_epochs=4, ckpt_path=str(tmp_path / "a.ckpt"))
    assert calls == [("load", 1), ("exception", "boom at 2")]


def test_only_given_hooks_do_something_and_return_values_are_ignored():
    seen = []
    cb = LambdaCallback(on_train_batch_start=lambda *args: seen.append(len(args)) or -1, on_fit_end=None)
    assert isinstance(cb, Callback)
    assert cb.on_train_batch_start("trainer", "module", "batch", 0) is None
    assert cb.on_fit_end("trainer", "module") is None and cb.on_fit_start("trainer", "module") is None
    assert seen == [4]
    assert repr(cb) == "LambdaCallback(on_train_batch_start)"


def test_unknown_hook_or_non_callable_is_refused():
    with pytest.raises(TypeError, match=r"^LambdaCallback got on_train_step, which is not a callback hook; "
                                        r"accepted: on_after_backward, on_before_backward, "):
        LambdaCallback(on_train_step=print)
    with pytest.raises(TypeError, match=r"^LambdaCallback\(setup=\.\.\.\) got a int; accepted: a callable or None\.$"):
        LambdaCallback(setup=3)


def test_a_lambda_callback_deep_copies_and_keeps_working():
    import copy
    seen = []
    cb = copy.deepcopy(LambdaCallback(on_fit_start=lambda trainer, module: seen.append(module)))
    cb.on_fit_start(None, torch.nn.Linear(1, 1))
    assert len(seen) == 1
