"""A fit that the fault tests interrupt for real and resume, in a subprocess of its own.

    python resume_run.py ROOT --data {loader_generator,sampler_generator,stateful} [--resume]
                         [--at POINT:N] [--signal {kill,int,term,int2}]

The run: a Dropout network, Adam with a ReduceLROnPlateau on val_loss, EarlyStopping(val_loss),
ModelCheckpoint(monitor=val_loss, save_top_k=2, save_last=True), validation every 5 of the 10
batches of an epoch, 3 epochs, deterministic CPU ops. The data order comes from a user-seeded
DataLoader generator, from a sampler with its own generator, or from a stateful iterable dataset.

`--at` picks where the signal is sent (N counts in this process): `epoch_start:E` (on_train_epoch_start
of epoch E), `batch:S` (on_before_backward at global_step S), `val:S` (the second validation batch at
global_step S), `after_save:N` (right after the N-th checkpoint file was written), `write:N` (half-way
through writing the N-th checkpoint file). `--signal`: `kill` (SIGKILL), `int` (SIGINT), `term`
(SIGTERM), `int2` (SIGINT, then SIGINT again while the interrupt is being handled).

Lines in ROOT/progress.txt: `val_end S` for every completed validation, `status ...` at the end. The
final weights go to ROOT/final.pt when fit finished.
"""
from __future__ import annotations

import argparse
import io as pyio
import os
import signal
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset, RandomSampler  # noqa: E402

import statetrainer as st  # noqa: E402
from statetrainer.plugins import TorchCheckpointIO  # noqa: E402
from tests.checkpoint.helpers import QUIET, Net, dataset  # noqa: E402

SIGNALS = {"kill": signal.SIGKILL, "int": signal.SIGINT, "term": signal.SIGTERM, "int2": signal.SIGINT}


class PlateauNet(Net):
    """Net with a ReduceLROnPlateau that watches val_loss (stepped after each epoch's validation)."""

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}


class StatefulStream(IterableDataset):
    """An iterable dataset that shuffles with its own generator and can say where it is (state_dict)."""

    def __init__(self, n: int = 40):
        self.x, self.y = dataset(n).tensors
        self.generator = torch.Generator().manual_seed(11)
        self.order: list[int] = []
        self.pos = 0

    def __iter__(self):
        if not self.order or self.pos >= len(self.order):
            self.order, self.pos = torch.randperm(len(self.x), generator=self.generator).tolist(), 0
        while self.pos < len(self.order):
            index = self.order[self.pos]
            self.pos += 1
            yield self.x[index], self.y[index]

    def state_dict(self) -> dict:
        return {"order": list(self.order), "pos": self.pos, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.order, self.pos = list(state["order"]), int(state["pos"])
        self.generator.set_state(state["generator"])


def train_loader(kind: str) -> DataLoader:
    if kind == "loader_generator":
        return DataLoader(dataset(), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(123))
    if kind == "sampler_generator":
        data = dataset()
        return DataLoader(data, batch_size=4, sampler=RandomSampler(data, generator=torch.Generator().manual_seed(5)))
    return DataLoader(StatefulStream(), batch_size=4)


def _note(root: str, line: str) -> None:
    with open(os.path.join(root, "progress.txt"), "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


class Signaller:
    """Sends the signal once, when `point` is reached; `int2` sends a second one during the shutdown."""

    def __init__(self, point: str, at: int, how: str):
        self.point, self.at, self.how, self.sent = point, at, how, False

    def maybe(self, point: str, value: int) -> None:
        if self.sent or point != self.point or value != self.at:
            return
        self.sent = True
        os.kill(os.getpid(), SIGNALS[self.how])

    def during_shutdown(self) -> None:
        if self.how == "int2":
            os.kill(os.getpid(), signal.SIGINT)


class Watcher(st.Callback):
    def __init__(self, root: str, signaller: Signaller):
        self.root, self.signaller, self.val_batches = root, signaller, 0

    def on_train_epoch_start(self, trainer, module):
        self.signaller.maybe("epoch_start", trainer.current_epoch)

    def on_before_backward(self, trainer, module, loss):
        self.signaller.maybe("batch", trainer.global_step)

    def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking and batch_idx == 1:
            self.signaller.maybe("val", trainer.global_step)

    def on_validation_end(self, trainer, module):
        if not trainer.sanity_checking:
            _note(self.root, f"val_end {trainer.global_step}")

    def on_exception(self, trainer, module, exception):
        self.signaller.during_shutdown()


class SignallingIO(TorchCheckpointIO):
    """The atomic checkpoint writer, with a signal after (or half-way through) the N-th write."""

    def __init__(self, signaller: Signaller):
        super().__init__()
        self.signaller, self.writes = signaller, 0

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        self.writes += 1
        if self.signaller.point == "write" and self.writes == self.signaller.at and not self.signaller.sent:
            self._write_half_then_signal(checkpoint, path)
        else:
            super().save_checkpoint(checkpoint, path, storage_options)
        self.signaller.maybe("after_save", self.writes)

    def _write_half_then_signal(self, checkpoint, path):
        real_save, signaller = torch.save, self.signaller

        def half_then_signal(obj, stream, *args, **kwargs):
            buffer = pyio.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            data = buffer.getvalue()
            stream.write(data[: len(data) // 2])
            stream.flush()
            signaller.maybe("write", signaller.at)  # a SIGKILL ends here; other signals wait for the write
            stream.write(data[len(data) // 2:])
        torch.save = half_then_signal
        try:
            super().save_checkpoint(checkpoint, path)
        finally:
            torch.save = real_save


def run(root: str, data: str, resume: bool = False, at: str = "none:0", how: str = "kill") -> st.Trainer:
    """One attempt; the final weights go to ROOT/final.pt when fit finished."""
    point, _, value = at.partition(":")
    signaller = Signaller(point, int(value), how)
    st.seed_everything(7)
    model = PlateauNet()
    callbacks = [Watcher(root, signaller), st.callbacks.EarlyStopping(monitor="val_loss", patience=3),
                 st.callbacks.ModelCheckpoint(dirpath=os.path.join(root, "ck"), monitor="val_loss",
                                              save_top_k=2, save_last=True, filename="{epoch}-{step}")]
    trainer = st.Trainer(default_root_dir=root, callbacks=callbacks, max_epochs=3, deterministic=True,
                         val_check_interval=5, plugins=[SignallingIO(signaller)], **QUIET)
    trainer.fit(model, train_loader(data), DataLoader(dataset(), batch_size=20),
                ckpt_path="last" if resume else None)
    _note(root, f"status {trainer.state.status} interrupted={trainer.interrupted} step {trainer.global_step}")
    if not trainer.interrupted:
        torch.save(model.state_dict(), os.path.join(root, "final.pt"))
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--data", default="loader_generator")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--at", default="none:0")
    parser.add_argument("--signal", default="kill")
    args = parser.parse_args()
    run(args.root, args.data, args.resume, args.at, args.signal)


if __name__ == "__main__":
    main()
