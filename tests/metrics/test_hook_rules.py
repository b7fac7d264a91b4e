"""The per-hook logging table: equal to Lightning's, enforced, and rendered in docs/logging.md."""
from __future__ import annotations

from pathlib import Path

import pytest

from statetrainer.errors import MisconfigurationError
from statetrainer.metrics import HOOK_RULES, resolve_levels, rules_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "logging.md"


def test_table_equals_lightnings_fx_validator():
    pytest.importorskip("lightning")
    from lightning.pytorch.trainer.connectors.logger_connector.fx_validator import _FxValidator
    theirs = _FxValidator.functions
    for hook, options in theirs.items():
        ours = HOOK_RULES.get(hook, "missing")
        if options is None:
            assert ours is None, hook
        else:
            assert ours is not None and ours != "missing", hook
            assert (ours.allowed_on_step, ours.allowed_on_epoch, ours.default_on_step, ours.default_on_epoch) == (
                options["allowed_on_step"], options["allowed_on_epoch"], options["default_on_step"],
                options["default_on_epoch"]), hook
    assert all(HOOK_RULES[hook] is None for hook in set(HOOK_RULES) - set(theirs))


@pytest.mark.parametrize("fx, on_step, on_epoch, expected", [
    ("training_step", None, None, (True, False)),
    ("training_step", None, True, (True, True)),
    ("validation_step", None, None, (False, True)),
    ("on_validation_batch_end", True, None, (True, True)),
    ("on_train_epoch_end", None, None, (False, True)),
    ("on_before_optimizer_step", False, True, (False, True)),
])
def test_defaults(fx, on_step, on_epoch, expected):
    assert resolve_levels(fx, "x", on_step, on_epoch) == expected


def test_refused_hook_names_hook_metric_and_accepted():
    with pytest.raises(MisconfigurationError) as err:
        resolve_levels("on_before_batch_transfer", "acc", None, None)
    message = str(err.value)
    assert "`self.log('acc')`" in message and "`on_before_batch_transfer`" in message
    assert "not allowed" in message and "docs/logging.md" in message


def test_unknown_hook_is_refused():
    with pytest.raises(MisconfigurationError, match="`my_helper`, an unknown hook"):
        resolve_levels("my_helper", "acc", None, None)


def test_forbidden_level_names_the_accepted_values():
    with pytest.raises(MisconfigurationError,
                       match=r"`self.log\('acc', on_epoch=False\)` is not allowed inside `on_test_epoch_end`; "
                             r"accepted on_epoch there: True\."):
        resolve_levels("on_test_epoch_end", "acc", None, False)


def test_docs_carry_the_current_table():
    assert rules_markdown() in DOCS.read_text()
