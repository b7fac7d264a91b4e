"""A training run the fault tests start as a subprocess and kill.

    python fault_script.py ROOT [--resume] [--kill KIND:N] [--sleep SECONDS]

It fits the shared Net for 3 epochs with a ModelCheckpoint (every 3 steps, last.ckpt) in
ROOT/ck and writes the final weights to ROOT/final.pt. ``--resume`` passes ``ckpt_path="last"``.
``--kill`` makes the process SIGKILL itself: ``batch:N`` when training batch N starts (global_step
N), ``val:N`` inside validation_step at global_step N, ``write:N`` half-way through writing the
N-th checkpoint file of this process. ``--every K`` changes the checkpoint interval.
Progress lines ("step N", "val N", "status S") go to ROOT/progress.txt.
"""
from __future__ import annotations

import argparse
import io as pyio
import os
import signal
import sys
import time

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import torch  # noqa: E402

import statetrainer as st  # noqa: E402
from tests.checkpoint.helpers import fit  # noqa: E402


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _note(root: str, line: str) -> None:
    with open(os.path.join(root, "progress.txt"), "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()


class Killer(st.Callback):
    def __init__(self, root: str, kind: str | None, at: int, sleep: float):
        self.root, self.kind, self.at, self.sleep = root, kind, at, sleep

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        _note(self.root, f"step {trainer.global_step}")
        if self.kind == "batch" and trainer.global_step == self.at:
            _die()
        if self.sleep:
            time.sleep(self.sleep)

    def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking:
            _note(self.root, f"val {trainer.global_step}")
            if self.kind == "val" and trainer.global_step == self.at:
                _die()

    def on_exception(self, trainer, module, exception):
        _note(self.root, f"exception {type(exception).__name__}")


def _kill_during_write(nth: int) -> None:
    real_save, calls = torch.save, {"n": 0}

    def half_then_die(obj, stream, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] != nth:
            return real_save(obj, stream, *args, **kwargs)
        buffer = pyio.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        stream.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        stream.flush()
        os.fsync(stream.fileno())
        _die()
    torch.save = half_then_die


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill", default="")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    kind, _, at = args.kill.partition(":")
    if kind == "write":
        _kill_during_write(int(at))
    saver = st.callbacks.ModelCheckpoint(dirpath=os.path.join(args.root, "ck"), every_n_train_steps=args.every,
                                         save_last=True, filename="{step}")
    killer = Killer(args.root, kind or None, int(at or -1), args.sleep)
    model, trainer = fit(args.root, callbacks=[killer, saver],
                         ckpt_path="last" if args.resume else None)
    _note(args.root, f"status {trainer.state.status} interrupted={trainer.interrupted} step {trainer.global_step}")
    if not trainer.interrupted:
        torch.save(model.state_dict(), os.path.join(args.root, "final.pt"))


if __name__ == "__main__":
    main()
