"""The machine seen through trainer.state: fn/status/stage/current per hook, history, illegal
calls, the Mermaid diagram."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import statetrainer as st
from statetrainer.errors import InvalidTransitionError
from statetrainer.machine.guards import GUARDS
from statetrainer.machine.machine import LoopMachine
from statetrainer.machine.table import STATES, TRANSITIONS
from statetrainer.signals import signal_names
from tests.core.helpers import QUIET, Tiny, lightning, loader, tiny_class

HOOKS = sorted(signal_names("cb") - {"on_save_checkpoint", "on_load_checkpoint", "on_exception"})


def recorder_class(base: type, with_current: bool) -> type:
    """A callback recording (hook, fn, status, stage[, current]) at every callback hook."""

    def make(hook):
        def method(self, trainer, module, *args, **kwargs):
            state = trainer.state
            row = tuple(getattr(v, "value", v) for v in (state.fn, state.status, state.stage))
            self.rows.append((hook, *row, state.current) if with_current else (hook, *row))
        return method
    body = {hook: make(hook) for hook in HOOKS}
    body["__init__"] = lambda self: setattr(self, "rows", [])
    return type("StateRecorder", (base,), body)


def _record(lib_trainer, module_base, callback_base, fn, with_current=False, **flags):
    recorder = recorder_class(callback_base, with_current)()
    module = tiny_class(module_base)()
    trainer = lib_trainer(max_epochs=1, num_sanity_val_steps=1, callbacks=[recorder], **QUIET, **flags)
    if fn == "fit":
        trainer.fit(module, loader(4, 2), loader(2, 2))
    else:
        getattr(trainer, fn)(module, loader(2, 2), **({} if fn == "predict" else {"verbose": False}))
    return trainer, recorder.rows


R = "running"
FIT = [  # (hook, fn, status, stage, state.current)
    ("setup", "fit", R, "train", "setup"), ("on_fit_start", "fit", R, "train", "setup"),
    ("on_sanity_check_start", "fit", R, "sanity_check", "sanity_start"),
    ("on_validation_start", "fit", R, "sanity_check", "sanity_start"),
    ("on_validation_epoch_start", "fit", R, "sanity_check", "sanity_start"),
    ("on_validation_batch_start", "fit", R, "sanity_check", "sanity_batch"),
    ("on_validation_batch_end", "fit", R, "sanity_check", "sanity_batch"),
    ("on_validation_epoch_end", "fit", R, "sanity_check", "sanity_end"),
    ("on_validation_end", "fit", R, "sanity_check", "sanity_end"),
    ("on_sanity_check_end", "fit", R, "sanity_check", "sanity_end"),
    ("on_train_start", "fit", R, "train", "train_start"),
    ("on_train_epoch_start", "fit", R, "train", "epoch_start"),
    *[(hook, "fit", R, "train", "train_batch") for _ in range(2) for hook in (
        "on_train_batch_start", "on_before_zero_grad", "on_before_backward", "on_after_backward",
        "on_before_optimizer_step", "on_train_batch_end")],
    ("on_validation_start", "fit", R, "validate", "val_start"),
    ("on_validation_epoch_start", "fit", R, "validate", "val_start"),
    ("on_validation_batch_start", "fit", R, "validate", "val_batch"),
    ("on_validation_batch_end", "fit", R, "validate", "val_batch"),
    ("on_validation_epoch_end", "fit", R, "validate", "val_end"),
    ("on_validation_end", "fit", R, "validate", "val_end"),
    ("on_train_epoch_end", "fit", R, "train", "epoch_end"),
    ("on_train_end", "fit", R, "train", "train_end"), ("on_fit_end", "fit", R, "train", "train_end"),
    ("teardown", "fit", R, "train", "teardown"),
]


def _evaluation(fn: str, prefix: str) -> list:
    return [("setup", fn, R, fn, "setup")] + [
        (f"on_{prefix}_{hook}", fn, R, fn, state) for hook, state in (
            ("start", f"{fn if fn == 'predict' else 'eval'}_start"),
            ("epoch_start", f"{fn if fn == 'predict' else 'eval'}_start"),
            ("batch_start", f"{fn if fn == 'predict' else 'eval'}_batch"),
            ("batch_end", f"{fn if fn == 'predict' else 'eval'}_batch"),
            ("epoch_end", f"{fn if fn == 'predict' else 'eval'}_end"),
            ("end", f"{fn if fn == 'predict' else 'eval'}_end"))] + [("teardown", fn, R, fn, "teardown")]


EXPECTED = {"fit": FIT, "validate": _evaluation("validate", "validation"), "test": _evaluation("test", "test"),
            "predict": _evaluation("predict", "predict")}


@pytest.mark.parametrize("fn", list(EXPECTED))
def test_state_during_every_hook(fn):
    trainer, rows = _record(st.Trainer, st.StateModule, st.Callback, fn, with_current=True)
    assert rows == EXPECTED[fn]
    assert (trainer.state.fn, trainer.state.status, trainer.state.stage, trainer.state.current) == (
        fn, "finished", None, "finished")


@pytest.mark.parametrize("fn", list(EXPECTED))
def test_state_during_every_hook_matches_lightning(fn):
    pl = lightning()
    ours = _record(st.Trainer, st.StateModule, st.Callback, fn)[1]
    theirs = _record(pl.Trainer, pl.LightningModule, pl.Callback, fn, accelerator="cpu")[1]
    assert ours == theirs


def test_stage_flags_follow_the_stage():
    seen = []

    class Flags(st.Callback):
        def _note(self, trainer, hook):
            seen.append((hook, trainer.sanity_checking, trainer.training, trainer.validating))

        def on_validation_batch_start(self, trainer, module, *args):
            self._note(trainer, "val")

        def on_train_batch_start(self, trainer, module, *args):
            self._note(trainer, "train")
    trainer = st.Trainer(max_epochs=1, num_sanity_val_steps=1, callbacks=[Flags()], **QUIET)
    assert trainer.state.status == "initializing" and trainer.state.current == "idle" and trainer.state.fn is None
    trainer.fit(Tiny(), loader(2, 2), loader(2, 2))
    assert seen == [("val", True, False, False), ("train", False, True, False), ("val", False, False, True)]
    assert not (trainer.training or trainer.validating or trainer.sanity_checking)


def test_history_records_every_transition():
    trainer = st.Trainer(max_epochs=1, num_sanity_val_steps=1, **QUIET)
    trainer.fit(Tiny(), loader(4, 2), loader(2, 2))
    rows = [(h.source, h.trigger, h.dest, h.epoch, h.global_step) for h in trainer.state.history]
    assert rows == [
        ("idle", "fit", "connect", 0, 0), ("connect", "connected", "prepare_data", 0, 0),
        ("prepare_data", "prepared", "setup", 0, 0), ("setup", "configured", "sanity_start", 0, 0),
        ("sanity_start", "started", "sanity_batch", 0, 0), ("sanity_batch", "batch_done", "sanity_end", 0, 0),
        ("sanity_end", "ended", "train_start", 0, 0), ("train_start", "started", "epoch_start", 0, 0),
        ("epoch_start", "started", "train_batch", 0, 0), ("train_batch", "batch_done", "train_batch", 0, 1),
        ("train_batch", "batch_done", "val_start", 0, 2), ("val_start", "started", "val_batch", 0, 2),
        ("val_batch", "batch_done", "val_end", 0, 2), ("val_end", "ended", "epoch_end", 0, 2),
        ("epoch_end", "ended", "train_end", 1, 2), ("train_end", "ended", "teardown", 1, 2),
        ("teardown", "ended", "finished", 1, 2)]
    times = [h.time for h in trainer.state.history]
    assert times == sorted(times) and times[-1] - times[0] < 60
    trainer.validate(trainer.lightning_module, verbose=False, dataloaders=loader(2, 2))
    assert [h.dest for h in trainer.state.history[-8:]] == ["connect", "prepare_data", "setup", "eval_start",
                                                           "eval_batch", "eval_end", "teardown", "finished"]
    assert trainer.state.history[-9].dest == "finished"  # the fit's records are still there


def test_history_is_bounded():
    class NoStep(Tiny):
        def training_step(self, batch, batch_idx):
            return None  # skip the optimization: only the machine's cost per batch
    trainer = st.Trainer(max_epochs=1, num_sanity_val_steps=0, **QUIET)
    trainer.fit(NoStep(), loader(1100, 1))  # 4 + 1100 + 3 transitions: more than the 1000 kept
    history = trainer.state.history
    assert len(history) == 1000
    assert history[-1].dest == "finished" and history[0].source == history[0].dest == "train_batch"
    rows = [(h.source, h.dest) for h in history]
    assert rows.count(("train_batch", "train_batch")) == 1000 - 4


def test_history_bound_of_a_machine():
    machine = LoopMachine({name: (lambda: True) for name in GUARDS}, SimpleNamespace(epoch=0, global_step=0),
                          history_size=3)
    for trigger in ("fit", "connected", "prepared", "configured", "started"):
        machine.fire(trigger)
    machine.fire("fail")
    assert [h.trigger for h in machine.history] == ["configured", "started", "fail"]


def _allowed(state: str) -> list[str]:
    """The triggers the table allows from `state`."""
    return sorted({trigger for trigger, source, *_ in TRANSITIONS
                   if state == source or (isinstance(source, list) and state in source)})


def test_fit_inside_a_hook_is_an_invalid_transition():
    caught = []

    class Reentrant(Tiny):
        def on_train_epoch_start(self):
            try:
                self.trainer.fit(self, loader(2, 2))
            except InvalidTransitionError as err:
                caught.append(err)
    trainer = st.Trainer(max_epochs=1, **QUIET)
    trainer.fit(Reentrant(), loader(2, 2))
    assert len(caught) == 1
    err = caught[0]
    assert (err.state, err.trigger) == ("epoch_start", "fit")
    assert str(err) == f"trigger 'fit' is not allowed from state 'epoch_start'; allowed from 'epoch_start': " \
                       f"{', '.join(_allowed('epoch_start'))}"
    assert {"fail", "interrupt", "started"} <= set(_allowed("epoch_start"))
    assert trainer.state.current == "finished" and trainer.global_step == 1


@pytest.mark.parametrize("fn", ["validate", "test", "predict"])
def test_other_entry_points_inside_fit_are_refused_and_fail_the_run(fn):
    class Reentrant(Tiny):
        def on_train_batch_end(self, outputs, batch, batch_idx):
            getattr(self.trainer, fn)(self, loader(2, 2))
    trainer = st.Trainer(max_epochs=1, **QUIET)
    with pytest.raises(InvalidTransitionError, match=f"trigger '{fn}' is not allowed from state 'train_batch'"):
        trainer.fit(Reentrant(), loader(2, 2))
    assert trainer.state.current == "failed"


def test_machine_refuses_a_trigger_its_state_does_not_allow():
    machine = LoopMachine({name: (lambda: True) for name in GUARDS}, SimpleNamespace(epoch=0, global_step=0))
    with pytest.raises(InvalidTransitionError) as info:
        machine.fire("batch_done")
    assert (info.value.state, info.value.trigger) == ("idle", "batch_done")
    assert info.value.allowed == _allowed("idle") and {"fit", "predict", "test", "validate"} <= set(_allowed("idle"))
    assert machine.current == "idle" and len(machine.history) == 0


def test_diagram_is_mermaid_with_every_state():
    trainer = st.Trainer(max_epochs=1, **QUIET)
    text = trainer.state.diagram()
    assert text.startswith("stateDiagram-v2\n")
    for state in STATES:
        assert f" {state.name} " in text or f" {state.name}\n" in text or text.endswith(f" {state.name}"), state.name
    assert "class idle current" in text
    # every transition row's trigger appears
    assert all(trigger in text for trigger, *_ in TRANSITIONS)
    trainer.fit(Tiny(), loader(2, 2))
    assert "class finished current" in trainer.state.diagram()
