"""THE table of where `self.log` may be called and with which `on_step` / `on_epoch`.

One row per hook name (the name the dispatcher puts in `module._current_fx_name`). A row is
either a `LogRule` (logging allowed: the accepted values of on_step and on_epoch, and the
defaults used when the caller leaves them as None) or `None` (logging refused). The values are
Lightning 2.x's, so code ported from a LightningModule logs the same keys at the same times.
docs/logging.md carries this table as rendered by `rules_markdown()`; a test keeps it current.
"""
from __future__ import annotations

from typing import NamedTuple

from statetrainer.errors import MisconfigurationError

__all__ = ["LogRule", "HOOK_RULES", "resolve_levels", "rules_markdown"]


class LogRule(NamedTuple):
    """Accepted and default `on_step` / `on_epoch` for one hook."""

    allowed_on_step: tuple[bool, ...]
    allowed_on_epoch: tuple[bool, ...]
    default_on_step: bool
    default_on_epoch: bool


# Training-side per-batch hooks: a value per step by default.
_TRAIN_STEP = LogRule((False, True), (False, True), True, False)
# Evaluation per-batch hooks: an epoch aggregate by default.
_EVAL_STEP = LogRule((False, True), (False, True), False, True)
# Hooks that run once per loop or epoch: only an epoch value makes sense.
_EPOCH_ONLY = LogRule((False,), (True,), False, True)

HOOK_RULES: dict[str, LogRule | None] = {
    # -- training batch (automatic and manual optimization)
    "on_train_batch_start": _TRAIN_STEP,
    "training_step": _TRAIN_STEP,
    "on_before_backward": _TRAIN_STEP,
    "backward": _TRAIN_STEP,
    "on_after_backward": _TRAIN_STEP,
    "on_before_optimizer_step": _TRAIN_STEP,
    "configure_gradient_clipping": _TRAIN_STEP,
    "clip_gradients": _TRAIN_STEP,
    "optimizer_step": _TRAIN_STEP,
    "on_before_zero_grad": _TRAIN_STEP,
    "optimizer_zero_grad": _TRAIN_STEP,
    "on_train_batch_end": _TRAIN_STEP,
    # -- evaluation batch
    "on_validation_batch_start": _EVAL_STEP,
    "validation_step": _EVAL_STEP,
    "on_validation_batch_end": _EVAL_STEP,
    "on_test_batch_start": _EVAL_STEP,
    "test_step": _EVAL_STEP,
    "on_test_batch_end": _EVAL_STEP,
    # -- loop and epoch boundaries
    "on_train_start": _EPOCH_ONLY,
    "on_train_epoch_start": _EPOCH_ONLY,
    "on_train_epoch_end": _EPOCH_ONLY,
    "on_validation_start": _EPOCH_ONLY,
    "on_validation_epoch_start": _EPOCH_ONLY,
    "on_validation_epoch_end": _EPOCH_ONLY,
    "on_test_start": _EPOCH_ONLY,
    "on_test_epoch_start": _EPOCH_ONLY,
    "on_test_epoch_end": _EPOCH_ONLY,
    # -- refused: setup, data, checkpoint, predict and run-boundary hooks
    "lr_scheduler_step": None,
    "on_fit_start": None,
    "on_fit_end": None,
    "on_sanity_check_start": None,
    "on_sanity_check_end": None,
    "on_train_end": None,
    "on_validation_end": None,
    "on_test_end": None,
    "on_predict_start": None,
    "on_predict_end": None,
    "on_predict_epoch_start": None,
    "on_predict_epoch_end": None,
    "on_predict_batch_start": None,
    "on_predict_batch_end": None,
    "predict_step": None,
    "on_before_batch_transfer": None,
    "transfer_batch_to_device": None,
    "on_after_batch_transfer": None,
    "on_exception": None,
    "state_dict": None,
    "load_state_dict": None,
    "on_save_checkpoint": None,
    "on_load_checkpoint": None,
    "prepare_data": None,
    "setup": None,
    "teardown": None,
    "configure_callbacks": None,
    "configure_model": None,
    "configure_sharded_model": None,
    "configure_optimizers": None,
    "train_dataloader": None,
    "val_dataloader": None,
    "test_dataloader": None,
    "predict_dataloader": None,
    "on_validation_model_zero_grad": None,
    "on_validation_model_eval": None,
    "on_validation_model_train": None,
    "on_test_model_eval": None,
    "on_test_model_train": None,
    "on_predict_model_eval": None,
}

LOGGING_HOOKS: tuple[str, ...] = tuple(name for name, rule in HOOK_RULES.items() if rule is not None)
_ACCEPTED_HOOKS = ("the training/validation/test step and batch hooks, the backward/optimizer/zero_grad hooks, and "
                   "on_{train,validation,test}_start / _epoch_start / _epoch_end (table in docs/logging.md)")


def resolve_levels(fx: str | None, name: str, on_step: bool | None, on_epoch: bool | None) -> tuple[bool, bool]:
    """Check that `fx` may log and return (on_step, on_epoch) with the hook's defaults filled in."""
    if fx is None:
        raise MisconfigurationError(
            f"`self.log({name!r})` was called outside the hooks the Trainer runs; accepted: {_ACCEPTED_HOOKS}.")
    rule = HOOK_RULES.get(fx)
    if rule is None:
        where = "a hook where logging is not allowed" if fx in HOOK_RULES else "an unknown hook"
        raise MisconfigurationError(
            f"`self.log({name!r})` was called inside `{fx}`, {where}; accepted: {_ACCEPTED_HOOKS} "
            "(elsewhere write to `self.logger.experiment` directly).")
    on_step = rule.default_on_step if on_step is None else on_step
    on_epoch = rule.default_on_epoch if on_epoch is None else on_epoch
    for flag, value, allowed in (("on_step", on_step, rule.allowed_on_step),
                                 ("on_epoch", on_epoch, rule.allowed_on_epoch)):
        if value not in allowed:
            raise MisconfigurationError(
                f"`self.log({name!r}, {flag}={value})` is not allowed inside `{fx}`; accepted {flag} there: "
                f"{' or '.join(str(v) for v in allowed)}.")
    return bool(on_step), bool(on_epoch)


def rules_markdown() -> str:
    """The table as Markdown, for docs/logging.md."""
    lines = ["| hook | on_step accepted | on_epoch accepted | default on_step | default on_epoch |",
             "|---|---|---|---|---|"]
    for name, rule in HOOK_RULES.items():
        if rule is None:
            continue
        step = "/".join(str(v) for v in rule.allowed_on_step)
        epoch = "/".join(str(v) for v in rule.allowed_on_epoch)
        lines.append(f"| `{name}` | {step} | {epoch} | {rule.default_on_step} | {rule.default_on_epoch} |")
    refused = ", ".join(f"`{name}`" for name, rule in HOOK_RULES.items() if rule is None)
    lines += ["", f"Logging is refused (MisconfigurationError) in: {refused}, and in any hook not listed."]
    return "\n".join(lines)
