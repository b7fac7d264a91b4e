"""One model, dataset and recorder written once and built on either library, for differential tests.

`build(lib, ...)` returns a module class subclassing Lightning's LightningModule ("pl") or
statetrainer's StateModule ("st"); `fit(lib, ...)` seeds, builds, trains and returns
(trainer, model, recorder). The class bodies are the same code for both, which is the point: a
port is a change of imports.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, enable_checkpointing=False)


def api(lib: str):
    """(package, callbacks package) of a library: "pl" for Lightning, "st" for statetrainer."""
    if lib == "pl":
        import lightning.pytorch as pl
        import lightning.pytorch.callbacks as callbacks
        return pl, callbacks
    import statetrainer as st
    import statetrainer.callbacks as callbacks
    return st, callbacks


def dataset(n: int = 32, seed: int = 7) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True) + 0.1 * torch.randn(n, 1, generator=g))


def loader(n: int = 32, batch_size: int = 8) -> DataLoader:
    return DataLoader(dataset(n), batch_size=batch_size, shuffle=False)


def build(lib: str, batch_norm: bool = True, lr: float = 0.1, scheduler: str | None = "step",
          optimizer: str = "sgd", trainable_only: bool = True):
    """A backbone (Linear, optional BatchNorm, ReLU) and a head; SGD or Adam over the trainable parameters."""
    base = api(lib)[0].LightningModule if lib == "pl" else api(lib)[0].StateModule

    class Twin(base):
        def __init__(self):
            super().__init__()
            layers = [nn.Linear(4, 8)] + ([nn.BatchNorm1d(8)] if batch_norm else []) + [nn.ReLU()]
            self.backbone = nn.Sequential(*layers)
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.backbone(x))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", nn.functional.mse_loss(self(x), y))

        def test_step(self, batch, batch_idx):
            x, y = batch
            self.log("test_loss", nn.functional.mse_loss(self(x), y))

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return self(batch[0])

        def configure_optimizers(self):
            params = [p for p in self.parameters() if p.requires_grad] if trainable_only else self.parameters()
            opt = torch.optim.SGD(params, lr=lr) if optimizer == "sgd" else torch.optim.Adam(params, lr=lr)
            if scheduler == "step":
                return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)]
            return opt

    return Twin


def recorder(lib: str):
    """A callback that records, at the end of every training epoch, each param group's lr and the
    names of the parameters that require grad."""
    base = api(lib)[1].Callback

    class Recorder(base):
        def __init__(self):
            self.lrs: list[list[float]] = []
            self.trainable: list[list[str]] = []

        def on_train_epoch_end(self, trainer, pl_module):
            self.lrs.append([group["lr"] for group in trainer.optimizers[0].param_groups])
            self.trainable.append([n for n, p in pl_module.named_parameters() if p.requires_grad])

    return Recorder()


def fit(lib: str, model_factory: Callable, callbacks: list, seed: int = 5, data: Any = None,
        val: Any = None, ckpt_path: str | None = None, model: Any = None, **flags: Any):
    """Seed, build the model (unless given), train; returns (trainer, model, recorder)."""
    package = api(lib)[0]
    package.seed_everything(seed, **({"verbose": False} if lib == "pl" else {}))
    model = model if model is not None else model_factory()
    rec = recorder(lib)
    options = {**QUIET, **flags}
    if lib == "pl":
        options.update(accelerator="cpu", devices=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = package.Trainer(callbacks=[*callbacks, rec], **options)
        trainer.fit(model, data if data is not None else loader(), val, ckpt_path=ckpt_path)
    return trainer, model, rec


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers, detached, on the CPU."""
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


def assert_same_weights(ours: nn.Module, theirs: nn.Module, atol: float = 1e-6) -> None:
    a, b = weights(ours), weights(theirs)
    assert sorted(a) == sorted(b)
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=atol), name


def recording_logger(lib: str):
    """A logger keeping every log_metrics call as (step, {name: value})."""
    if lib == "pl":
        from lightning.pytorch.loggers import Logger as base
    else:
        from statetrainer.loggers import Logger as base

    class Recording(base):
        def __init__(self):
            super().__init__()
            self.calls: list = []

        @property
        def name(self):
            return "recording"

        @property
        def version(self):
            return 0

        def log_metrics(self, metrics, step=None):
            self.calls.append((step, {k: float(v) for k, v in metrics.items()}))

        def log_hyperparams(self, params, *args, **kwargs):
            pass

    return Recording()
