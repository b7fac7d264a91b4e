"""configure_callbacks may return one callback instead of a list; it joins the trainer's once per call."""
from tests.callbacks.twins import QUIET, api, build, loader


def _callback_names(lib: str) -> list:
    pl = api(lib)[0]

    class Counting(pl.Callback):
        def __init__(self):
            self.fit_starts = 0

        def on_fit_start(self, trainer, pl_module):
            self.fit_starts += 1

    counting = Counting()

    class Model(build(lib)):
        def configure_callbacks(self):
            return counting

    trainer = pl.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, **QUIET)
    model = Model()
    trainer.fit(model, loader(), loader())
    trainer.validate(model, loader())
    trainer.fit(model, loader(), loader())
    names = [type(cb).__name__ for cb in trainer.callbacks]
    return names, counting.fit_starts


def test_a_single_callback_joins_once_as_in_lightning():
    names, fit_starts = _callback_names("st")
    assert names.count("Counting") == 1 and fit_starts == 2
    assert (names, fit_starts) == _callback_names("pl")
