"""THE table: every state and every transition of every loop. Data only.

Read a row as: when the action of `source` returns `trigger`, go to `dest` if every guard holds;
rows with the same (trigger, source) are tried in order, the first whose guards hold fires.
Guard names are predicates in guards.py. Signals are the hooks a state's action emits.
"""
from __future__ import annotations

from statetrainer.machine.states import StateInfo

__all__ = ["STATES", "TRANSITIONS", "RUNNING", "ENTRY_TRIGGERS", "ANY_STATE_SIGNALS"]

# Signals a listener can cause in whatever state it runs: a checkpoint written from any hook.
ANY_STATE_SIGNALS = ("on_save_checkpoint",)

S = StateInfo
STATES: tuple[StateInfo, ...] = (
    S("idle", None, (), "Built, nothing running."),
    S("connect", None, ("configure_callbacks",), "A call starts: the module's own callbacks join the trainer's."),
    S("prepare_data", None, ("prepare_data",),
      "prepare_data, on the processes that prepare (guard `prepares_data`: local rank 0, or global rank 0 with "
      "prepare_data_per_node=False); the others go straight to setup, where every rank waits for them."),
    S("setup", None, ("setup", "configure_model", "on_load_checkpoint", "configure_optimizers", "on_fit_start"),
      "Configure for the fn (once every rank is here): setup(stage), model, the checkpoint's weights and callback "
      "states, optimizers (fit), on_fit_start (fit); then the checkpoint's training state."),
    S("sanity_start", "sanity_check", ("on_sanity_check_start", "on_validation_model_eval", "on_validation_start",
                                       "on_validation_epoch_start"), "The sanity check begins."),
    S("sanity_batch", "sanity_check", ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer", "on_validation_batch_start", "validation_step",
                                       "on_validation_batch_end"),
      "One sanity-check batch."),
    S("sanity_end", "sanity_check", ("on_validation_epoch_end", "on_validation_end", "on_validation_model_train",
                                     "on_sanity_check_end"), "The sanity check ended."),
    S("train_start", "train", ("on_train_start",), "Training begins."),
    S("epoch_start", "train", ("on_train_epoch_start",), "A training epoch begins."),
    S("train_batch", "train", ("lr_scheduler_step", "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer", "on_train_batch_start", "training_step", "on_before_zero_grad", "optimizer_zero_grad",
                               "on_before_backward", "backward", "on_after_backward", "on_before_optimizer_step",
                               "configure_gradient_clipping", "optimizer_step", "on_train_batch_end"),
      "One training batch (automatic or manual optimization); first the previous batch's deferred plateau "
      "schedulers, then after the step the step- and epoch-interval ones."),
    S("val_start", "validate", ("on_validation_model_zero_grad", "on_validation_model_eval", "on_validation_start",
                                "on_validation_epoch_start"), "A validation run inside fit begins."),
    S("val_batch", "validate", ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer", "on_validation_batch_start", "validation_step",
                                "on_validation_batch_end"),
      "One validation batch inside fit."),
    S("val_end", "validate", ("on_validation_epoch_end", "on_validation_end", "on_validation_model_train",
                              "lr_scheduler_step"),
      "A validation run inside fit ended; plateau schedulers on steps then see its metrics."),
    S("epoch_end", "train", ("lr_scheduler_step", "on_train_epoch_end"),
      "A training epoch ended (plateau schedulers on epochs step after its end hooks)."),
    S("train_end", "train", ("on_train_end", "on_fit_end"), "Training and fit ended."),
    S("eval_start", None, ("on_validation_model_eval", "on_validation_start", "on_validation_epoch_start",
                           "on_test_model_eval", "on_test_start", "on_test_epoch_start"),
      "validate()/test() begins (the validation hooks for validate, the test hooks for test)."),
    S("eval_batch", None, ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer", "on_validation_batch_start", "validation_step",
                           "on_validation_batch_end", "on_test_batch_start", "test_step", "on_test_batch_end"),
      "One validate()/test() batch."),
    S("eval_end", None, ("on_validation_epoch_end", "on_validation_end", "on_validation_model_train",
                         "on_test_epoch_end", "on_test_end", "on_test_model_train"),
      "validate()/test() ended."),
    S("predict_start", "predict", ("on_predict_model_eval", "on_predict_start", "on_predict_epoch_start"),
      "predict() begins."),
    S("predict_batch", "predict", ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer", "on_predict_batch_start", "predict_step",
                                   "on_predict_batch_end"),
      "One prediction batch."),
    S("predict_end", "predict", ("on_predict_epoch_end", "on_predict_end"), "predict() ended."),
    S("tuning", "tune", (), "trainer.tune() / Tuner: the finders run their trials on temporary trainers."),
    S("teardown", None, ("teardown",), "teardown(stage) on callbacks, module and datamodule."),
    S("finished", None, (), "The run ended normally."),
    S("interrupted", None, ("on_exception", "teardown"), "Ctrl-C/SIGTERM ended the run gracefully."),
    S("failed", None, ("on_exception", "teardown"), "An exception ended the run; it is re-raised."),
)

RUNNING = tuple(s.name for s in STATES if s.name not in ("idle", "finished", "interrupted", "failed"))
_RESTARTABLE = ["idle", "finished", "interrupted", "failed"]
ENTRY_TRIGGERS = ("fit", "validate", "test", "predict", "tune")

# (trigger, source(s), dest, guards)
TRANSITIONS: tuple[tuple[str, str | list[str], str, tuple[str, ...]], ...] = (
    ("fit", _RESTARTABLE, "connect", ()),
    ("validate", _RESTARTABLE, "connect", ()),
    ("test", _RESTARTABLE, "connect", ()),
    ("predict", _RESTARTABLE, "connect", ()),
    # prepare_data runs where the rank guard holds; every rank then meets in setup
    ("connected", "connect", "prepare_data", ("prepares_data",)),
    ("connected", "connect", "setup", ()),
    ("prepared", "prepare_data", "setup", ()),
    ("tune", _RESTARTABLE, "tuning", ()),
    ("ended", "tuning", "finished", ()),
    # setup routes by fn (a fit resumed mid-epoch goes straight to training, as Lightning)
    ("configured", "setup", "train_start", ("is_fit", "resumes_mid_epoch")),
    ("configured", "setup", "sanity_start", ("is_fit", "has_sanity_steps")),
    ("configured", "setup", "train_start", ("is_fit",)),
    ("configured", "setup", "eval_start", ("is_evaluating",)),
    ("configured", "setup", "predict_start", ("is_predicting",)),
    # sanity check
    ("started", "sanity_start", "sanity_batch", ("has_eval_batches",)),
    ("started", "sanity_start", "sanity_end", ()),
    ("batch_done", "sanity_batch", "sanity_batch", ("has_eval_batches",)),
    ("batch_done", "sanity_batch", "sanity_end", ()),
    ("ended", "sanity_end", "train_start", ()),
    # training epochs and batches
    ("started", "train_start", "train_end", ("fit_done",)),
    ("started", "train_start", "epoch_start", ()),
    ("started", "epoch_start", "epoch_end", ("epoch_done",)),
    ("started", "epoch_start", "train_batch", ()),
    # resumed mid-epoch: the saved batch's validate/continue decision if it was still to be taken
    ("resumed", "epoch_start", "val_start", ("decision_pending", "should_validate_now")),
    ("resumed", "epoch_start", "epoch_end", ("epoch_done",)),
    ("resumed", "epoch_start", "train_batch", ()),
    ("batch_done", "train_batch", "val_start", ("should_validate_now",)),
    ("batch_done", "train_batch", "epoch_end", ("epoch_done",)),
    ("batch_done", "train_batch", "train_batch", ()),
    ("exhausted", "train_batch", "epoch_end", ()),
    # validation inside fit
    ("started", "val_start", "val_batch", ("has_eval_batches",)),
    ("started", "val_start", "val_end", ()),
    ("batch_done", "val_batch", "val_batch", ("has_eval_batches",)),
    ("batch_done", "val_batch", "val_end", ()),
    ("ended", "val_end", "epoch_end", ("epoch_done",)),
    ("ended", "val_end", "train_batch", ()),
    ("ended", "epoch_end", "train_end", ("fit_done",)),
    ("ended", "epoch_end", "epoch_start", ()),
    ("ended", "train_end", "teardown", ()),
    # validate / test
    ("started", "eval_start", "eval_batch", ("has_eval_batches",)),
    ("started", "eval_start", "eval_end", ()),
    ("batch_done", "eval_batch", "eval_batch", ("has_eval_batches",)),
    ("batch_done", "eval_batch", "eval_end", ()),
    ("ended", "eval_end", "teardown", ()),
    # predict
    ("started", "predict_start", "predict_batch", ("has_predict_batches",)),
    ("started", "predict_start", "predict_end", ()),
    ("batch_done", "predict_batch", "predict_batch", ("has_predict_batches",)),
    ("batch_done", "predict_batch", "predict_end", ()),
    ("ended", "predict_end", "teardown", ()),
    # the end
    ("ended", "teardown", "finished", ()),
    ("interrupt", list(RUNNING), "interrupted", ()),
    ("fail", list(RUNNING), "failed", ()),
)
