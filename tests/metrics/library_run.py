"""Run a Scenario on a real Trainer: Lightning's (`lightning.pytorch`) or statetrainer's.

Both libraries get the same module (built on `LightningModule` or `StateModule`), the same
recording callback and the same recording logger, so their traces compare one to one.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from .scripted import CALLBACK_HOOKS, Ctx, Scenario, loaders, plain_dict, run_logs, snapshot


def _module_class(base: type, scenario: Scenario) -> type:
    calls = scenario.logs

    class ScriptedModule(base):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)
            self._batch, self._dl = 0, 0
            self.automatic_optimization = not scenario.manual
            for name in scenario.metric_attributes:
                import torchmetrics
                setattr(self, name, torchmetrics.SumMetric())

        def _logs(self, hook: str, batch: int | None = None, dl: int | None = None) -> None:
            if batch is not None:
                self._batch = batch
            if dl is not None:
                self._dl = dl
            run_logs(self, hook, calls, Ctx(self.current_epoch, self._batch, self._dl))

        def _epoch_logs(self, hook: str) -> None:
            self._batch, self._dl = 0, 0
            self._logs(hook)

        def forward(self, x):
            return self.layer(x)

        def configure_optimizers(self):
            self._logs("configure_optimizers")
            if scenario.manual:
                return [torch.optim.SGD(self.parameters(), lr=0.01), torch.optim.SGD(self.parameters(), lr=0.01)]
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def training_step(self, batch, batch_idx):
            self._logs("training_step", batch_idx, 0)
            loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
            if not scenario.manual:
                return loss
            self.manual_backward(loss)
            for optimizer in self.optimizers():
                if batch_idx % 2 == 0:
                    optimizer.step()
                optimizer.zero_grad()

        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self._logs("validation_step", batch_idx, dataloader_idx)

        def test_step(self, batch, batch_idx, dataloader_idx=0):
            self._logs("test_step", batch_idx, dataloader_idx)

        def on_train_batch_start(self, batch, batch_idx):
            self._logs("on_train_batch_start", batch_idx, 0)

        def on_train_batch_end(self, outputs, batch, batch_idx):
            self._logs("on_train_batch_end", batch_idx, 0)

        def on_before_backward(self, loss):
            self._logs("on_before_backward")

        def on_after_backward(self):
            self._logs("on_after_backward")

        def on_before_optimizer_step(self, optimizer):
            self._logs("on_before_optimizer_step")

        def on_validation_batch_start(self, batch, batch_idx, dataloader_idx=0):
            self._logs("on_validation_batch_start", batch_idx, dataloader_idx)

        def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            self._logs("on_validation_batch_end", batch_idx, dataloader_idx)

        def on_test_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            self._logs("on_test_batch_end", batch_idx, dataloader_idx)

    for hook in ("on_train_start", "on_train_epoch_start", "on_train_epoch_end", "on_validation_start",
                 "on_validation_epoch_start", "on_validation_epoch_end", "on_test_start", "on_test_epoch_start",
                 "on_test_epoch_end", "on_fit_start", "on_validation_end"):
        setattr(ScriptedModule, hook, lambda self, _hook=hook: self._epoch_logs(_hook))
    return ScriptedModule


def snapshot_label(hook: str, epoch: int, args: tuple) -> tuple:
    return (hook, epoch, *[a for a in args if isinstance(a, int) and not isinstance(a, bool)])


def _callback_class(base: type, scenario: Scenario, trace: list) -> type:
    class Recorder(base):
        pass

    def make(hook: str):
        def record(self, trainer, module, *args):
            if hook in scenario.snapshots:
                trace.append(("snap", *snapshot_label(hook, trainer.current_epoch, args), snapshot(trainer)))
            ints = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
            ctx = Ctx(trainer.current_epoch, *ints[:2])
            run_logs(module, hook, scenario.logs, ctx, from_callback=True)
        return record

    logged_from_here = {call.hook for call in scenario.logs if call.from_callback}
    for hook in CALLBACK_HOOKS:
        if hook in scenario.snapshots or hook in logged_from_here:
            setattr(Recorder, hook, make(hook))
    if scenario.stop_at is not None:
        record_batch_end = getattr(Recorder, "on_train_batch_end", None)

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if record_batch_end is not None:
                record_batch_end(self, trainer, module, outputs, batch, batch_idx)
            if (trainer.current_epoch, batch_idx) == scenario.stop_at:
                trainer.should_stop = True

        Recorder.on_train_batch_end = on_train_batch_end
    return Recorder


def _logger_class(base: type, trace: list) -> type:
    class RecordingLogger(base):
        @property
        def name(self):
            return "recording"

        @property
        def version(self):
            return 0

        def log_metrics(self, metrics, step=None):
            trace.append(("log_metrics", step, plain_dict(metrics)))

        def log_hyperparams(self, params, *args, **kwargs):
            pass

        def save(self):
            pass

    return RecordingLogger


def run(namespace: Any, scenario: Scenario, root: str) -> list:
    """The trace of `scenario` under `namespace` (lightning.pytorch or statetrainer)."""
    module_base = getattr(namespace, "StateModule", None) or namespace.LightningModule
    trace: list = []
    namespace.seed_everything(0, verbose=False) if _takes_verbose(namespace) else namespace.seed_everything(0)
    model = _module_class(module_base, scenario)()
    logger = _logger_class(namespace.loggers.Logger, trace)()
    trainer = namespace.Trainer(logger=logger, callbacks=[_callback_class(namespace.Callback, scenario, trace)()],
                                enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                                default_root_dir=root, **scenario.trainer_kwargs())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in scenario.runs:
            _one_run(trainer, model, scenario, fn, trace)
    return trace


def _one_run(trainer, model, scenario: Scenario, fn: str, trace: list) -> None:
    if fn == "fit":
        trainer.fit(model, loaders((scenario.train,), 0), loaders(scenario.val, 100))
    else:
        sizes = scenario.val if fn == "validate" else scenario.test
        results = getattr(trainer, fn)(model, loaders(sizes, 100 if fn == "validate" else 200), verbose=False)
        trace.append(("results", fn, [plain_dict(result) for result in results]))
    trace.append(("final", fn, snapshot(trainer)))


def _takes_verbose(namespace: Any) -> bool:
    import inspect
    try:
        return "verbose" in inspect.signature(namespace.seed_everything).parameters
    except (TypeError, ValueError):
        return False
