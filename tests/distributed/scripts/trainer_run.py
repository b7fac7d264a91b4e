"""A Trainer fit on several processes, however they were started; every rank reports what it saw.

    --strategy ddp|ddp_spawn|ddp_fork|subclass (a DDPStrategy subclass instance)  --devices N  --num-nodes N
    --env auto|custom (a ClusterEnvironment plugin)  --accelerator cpu|gpu
    --dropout P           the model drops inputs with probability P (random draws on every rank)
    --fault raise|kill|term  rank 1 raises in training_step / SIGKILLs / SIGTERMs itself when global_step
                          reaches --at
    --stop                rank 1 alone returns -1 from on_train_batch_start (epoch 0, batch 1), then sets
                          trainer.should_stop (epoch 1, batch 0); max_epochs=3
    --resume              fit(ckpt_path="last")
    --manual 1            manual optimization (the same SGD steps, through self.manual_backward)
    --accumulate K        accumulate_grad_batches=K

Every rank writes rank<global rank>.json at teardown (what it measured inside the run) and
after<global rank>.json once fit (then predict and validate, except with ddp_spawn or a fault) returned
(in ddp_spawn only the launching process, as rank 0);
exception<rank>.json from on_exception; dying<rank>.json right before a fault.
"""
import os
import signal
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

import statetrainer as st
from common import parse, write
from user_strategy import RecordingDDP
from statetrainer.callbacks import ModelCheckpoint
from statetrainer.loggers import CSVLogger
from statetrainer.plugins import ClusterEnvironment, TorchCheckpointIO

SAMPLES, FEATURES = 16, 3


class Indexed(Dataset):
    """(index, x, y): the index tells which samples each rank trained on."""

    def __init__(self, count, seed):
        gen = torch.Generator().manual_seed(seed)
        self.x, self.y = torch.randn(count, FEATURES, generator=gen), torch.randn(count, 1, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return i, self.x[i], self.y[i]


class JobEnvironment(ClusterEnvironment):
    """A user's plugin for a made-up scheduler exporting JOB_RANK, JOB_SIZE, JOB_HOST and JOB_PORT."""

    creates_processes_externally = property(lambda self: True)
    main_address = property(lambda self: os.environ["JOB_HOST"])
    main_port = property(lambda self: int(os.environ["JOB_PORT"]))

    def world_size(self):
        return int(os.environ["JOB_SIZE"])

    def global_rank(self):
        return int(os.environ["JOB_RANK"])

    def local_rank(self):
        return int(os.environ["JOB_RANK"])

    def node_rank(self):
        return 0


class CountingIO(TorchCheckpointIO):
    """Counts the checkpoint writes of this process."""

    def __init__(self):
        self.saves = 0

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        self.saves += 1
        super().save_checkpoint(checkpoint, path, storage_options)


class Regressor(st.StateModule):
    def __init__(self, out, dropout=0.0, stop=False, fault="", at=-1, manual=False):
        super().__init__()
        self.automatic_optimization = not manual
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(FEATURES, 1)
        self.drop = torch.nn.Dropout(dropout)
        self.out, self.stop, self.fault, self.at = out, stop, fault, at
        self.seen = []

    def prepare_data(self):
        Path(self.out, f"prepared-{os.getpid()}").touch()

    def setup(self, stage):
        torch.manual_seed(100 + self.global_rank)  # every rank draws its own dropout masks

    def on_train_batch_start(self, batch, batch_idx):
        rank = self.global_rank
        if self.fault in ("kill", "term") and rank == 1 and self.trainer.global_step == self.at:
            write(self.out, "dying1", {"at": time.time()})
            os.kill(os.getpid(), signal.SIGKILL if self.fault == "kill" else signal.SIGTERM)
        if self.stop and rank == 1 and (self.current_epoch, batch_idx) == (0, 1):
            return -1
        if self.stop and rank == 1 and (self.current_epoch, batch_idx) == (1, 0):
            self.trainer.should_stop = True
        return None

    def training_step(self, batch, batch_idx):
        idx, x, y = batch
        if self.fault == "raise" and self.global_rank == 1 and self.trainer.global_step == self.at:
            write(self.out, "dying1", {"at": time.time()})
            raise RuntimeError("boom on rank 1")
        self.seen.append([self.current_epoch, idx.tolist()])
        loss = torch.nn.functional.mse_loss(self.layer(self.drop(x)), y)
        self.log("loss", loss, sync_dist=True)
        for fx in ("mean", "sum", "max", "min"):
            self.log(f"rank_{fx}", float(self.global_rank + 1), on_step=False, on_epoch=True, sync_dist=True,
                     reduce_fx=fx)
        if not self.automatic_optimization:
            optimizer = self.optimizers()
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
        return loss

    def validation_step(self, batch, batch_idx):
        idx, x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y), sync_dist=True)

    def predict_step(self, batch, batch_idx):
        idx, x, y = batch
        return idx

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Recorder(st.Callback):
    def __init__(self, out):
        self.out = out
        self.seen = {}

    def on_train_start(self, trainer, module):
        self.seen["estimated_stepping_batches"] = trainer.estimated_stepping_batches
        self.seen["initial"] = weights(module)

    def on_train_epoch_end(self, trainer, module):
        gathered = module.all_gather({"rank": torch.tensor([trainer.global_rank]), "pair": [2.0 * trainer.global_rank]})
        self.seen.setdefault("gathered", []).append([gathered["rank"].tolist(), gathered["pair"][0].tolist()])
        self.seen["broadcast"] = trainer.strategy.broadcast({"from": trainer.global_rank}, src=1)

    def on_exception(self, trainer, module, exception):
        write(self.out, f"exception{trainer.global_rank}", {"type": type(exception).__name__, "at": time.time()})

    def teardown(self, trainer, module, stage):
        if stage != "fit":
            return
        strategy = trainer.strategy
        write(self.out, f"rank{trainer.global_rank}", {
            **self.seen, "ranks": [trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.world_size],
            "module_ranks": [module.global_rank, module.local_rank], "num_devices": trainer.num_devices,
            "is_global_zero": trainer.is_global_zero, "strategy": type(strategy).__name__,
            "environment": type(strategy.cluster_environment).__name__,
            "children": len(getattr(strategy.launcher, "procs", [])), "seen": module.seen,
            "metrics": {k: v.item() for k, v in trainer.callback_metrics.items()},
            "saves": trainer.checkpoint_io.saves, "weights": weights(module), "global_step": trainer.global_step,
            "configured": getattr(strategy, "configured", None), "device": str(module.device),
            "epoch": trainer.current_epoch, "stop_reason": trainer.state.stop_reason})


def weights(module):
    return [v for p in module.parameters() for v in p.detach().flatten().tolist()]


def main():
    args = parse(["--dropout", "--fault", "--at", "--stop", "--resume", "--manual", "--accumulate"])
    out = args.out
    plugins = [CountingIO()] + ([JobEnvironment()] if args.env == "custom" else [])
    strategy = RecordingDDP() if args.strategy == "subclass" else args.strategy
    trainer = st.Trainer(strategy=strategy, accelerator=args.accelerator, devices=args.devices, num_nodes=args.num_nodes,
                         plugins=plugins, max_epochs=3 if args.stop else 2, default_root_dir=out,
                         accumulate_grad_batches=int(args.accumulate or 1),
                         logger=CSVLogger(out), enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, callbacks=[
                             Recorder(out), ModelCheckpoint(dirpath=os.path.join(out, "ckpts"), every_n_train_steps=1,
                                                            save_last=True)])
    model = Regressor(out, float(args.dropout or 0.0), bool(args.stop), args.fault or "", int(args.at or -1),
                      bool(args.manual))
    trainer.fit(model, DataLoader(Indexed(SAMPLES, 1), batch_size=4, shuffle=True),
                DataLoader(Indexed(8, 2), batch_size=4), ckpt_path="last" if args.resume else None)
    callback = trainer.checkpoint_callback
    extra = {}
    if args.strategy != "ddp_spawn" and not args.fault:  # later calls in the same processes (spawn: new ones)
        predicted = trainer.predict(model, DataLoader(Indexed(9, 3), batch_size=4))  # rank 0: 2 batches, 1: 1
        validated = trainer.validate(model, DataLoader(Indexed(8, 2), batch_size=4), verbose=False)
        extra = {"predicted": [i for batch in predicted for i in batch.tolist()], "validated": validated}
    write(out, f"after{trainer.global_rank}", {**extra,
        "weights": weights(model), "global_step": trainer.global_step, "finished": trainer.state.finished,
        "metrics": sorted(trainer.callback_metrics), "best": callback.best_model_path,
        "last": callback.last_model_path, "stop_reason": trainer.state.stop_reason, "interrupted": trainer.interrupted})


if __name__ == "__main__":
    main()
