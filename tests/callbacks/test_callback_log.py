"""A callback's `self.log` / `self.log_dict` inside its hooks log for the running module, as in Lightning."""
import pytest

from statetrainer.errors import MisconfigurationError
from tests.callbacks.twins import QUIET, api, build, loader


def _logging_callback(lib: str):
    class Logging(api(lib)[0].Callback):
        def on_train_start(self, trainer, pl_module):
            self.log("train_start", 1.0)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.log_dict({"batch_end": float(batch_idx), "twice": 2.0 * batch_idx})

        def on_train_epoch_end(self, trainer, pl_module):
            self.log("epoch_end", 5.0)

        def on_validation_epoch_end(self, trainer, pl_module):
            self.log("val_end", 3.0)
    return Logging()


def _metrics(lib: str) -> dict:
    pl = api(lib)[0]
    trainer = pl.Trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=1, callbacks=[_logging_callback(lib)],
                         **QUIET)
    trainer.fit(build(lib)(), loader(), loader())
    return {key: float(value) for key, value in trainer.callback_metrics.items() if key != "val_loss"}


def test_callback_metrics_match_lightning():
    assert _metrics("st") == _metrics("pl")


def test_logging_outside_a_call_names_the_callback():
    callback = _logging_callback("st")
    with pytest.raises(MisconfigurationError, match="Logging.log was called outside a trainer call"):
        callback.on_train_epoch_end(None, None)
