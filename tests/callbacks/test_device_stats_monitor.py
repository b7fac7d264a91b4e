"""DeviceStatsMonitor: the same statistic names and steps as Lightning on the CPU (psutil), the cpu_stats
switch, CUDA statistics when a GPU is there, and the errors."""
from __future__ import annotations

import sys

import pytest
import torch

import statetrainer as st
from statetrainer.callbacks import DeviceStatsMonitor
from statetrainer.errors import MisconfigurationError
from tests.callbacks import twins

pytest.importorskip("psutil")


def _session(lib: str, cpu_stats=None) -> list:
    logger = twins.recording_logger(lib)
    monitor = twins.api(lib)[1].DeviceStatsMonitor(cpu_stats=cpu_stats)
    trainer, model, _ = twins.fit(lib, twins.build(lib), [monitor], max_epochs=2, val=twins.loader(16, 4),
                                  logger=logger, log_every_n_steps=3, limit_val_batches=3)
    trainer.test(model, twins.loader(16, 4), verbose=False)
    return [(step, sorted(metrics)) for step, metrics in logger.calls if any("DeviceStats" in k for k in metrics)]


def test_same_names_and_steps_as_lightning_on_the_cpu():
    pytest.importorskip("lightning")
    ours, theirs = _session("st"), _session("pl")
    assert ours == theirs
    assert ours[0] == (2, ["DeviceStatsMonitor.on_train_batch_start/cpu_percent",
                           "DeviceStatsMonitor.on_train_batch_start/cpu_swap_percent",
                           "DeviceStatsMonitor.on_train_batch_start/cpu_vm_percent"])
    hooks = {name.split("/")[0].split(".")[1] for _, names in ours for name in names}
    assert hooks == {"on_train_batch_start", "on_train_batch_end", "on_validation_batch_start",
                     "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end"}


def test_cpu_stats_false_on_the_cpu_logs_nothing():
    assert _session("st", cpu_stats=False) == []


def test_values_are_percentages():
    logger = twins.recording_logger("st")
    twins.fit("st", twins.build("st"), [DeviceStatsMonitor()], max_epochs=1, logger=logger, log_every_n_steps=1)
    values = [v for _, metrics in logger.calls for k, v in metrics.items() if k.startswith("DeviceStatsMonitor.")]
    assert values and all(0.0 <= v <= 100.0 for v in values)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_memory_statistics_with_cpu_stats_on_request():
    logger = twins.recording_logger("st")
    twins.fit("st", twins.build("st"), [DeviceStatsMonitor(cpu_stats=True)], max_epochs=1, logger=logger,
              log_every_n_steps=1, accelerator="cuda", devices=1)
    names = {k.split("/", 1)[1] for _, metrics in logger.calls for k in metrics if k.startswith("DeviceStatsMonitor.")}
    assert {"allocated_bytes.all.current", "reserved_bytes.all.peak", "cpu_percent"} <= names


def test_a_trainer_without_logger_is_refused(tmp_path):
    trainer = st.Trainer(default_root_dir=tmp_path, callbacks=[DeviceStatsMonitor()], max_epochs=1, **twins.QUIET)
    with pytest.raises(MisconfigurationError, match=r"^DeviceStatsMonitor needs a logger to write to; the Trainer has "
                                                    r"logger=False"):
        trainer.fit(twins.build("st")(), twins.loader())


def test_missing_psutil_is_named_when_cpu_stats_are_wanted(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # what an environment without psutil looks like to import
    trainer = st.Trainer(default_root_dir=tmp_path, callbacks=[DeviceStatsMonitor()], max_epochs=1,
                         **dict(twins.QUIET, logger=twins.recording_logger("st")))
    with pytest.raises(ModuleNotFoundError, match=r"^DeviceStatsMonitor reads CPU statistics with psutil, which is "
                                                  r"not installed: pip install 'statetrainer\[devicestats\]'"):
        trainer.fit(twins.build("st")(), twins.loader())
    quiet = st.Trainer(default_root_dir=tmp_path, callbacks=[DeviceStatsMonitor(cpu_stats=False)], max_epochs=1,
                       **dict(twins.QUIET, logger=twins.recording_logger("st")))
    quiet.fit(twins.build("st")(), twins.loader())  # nothing to read: no psutil needed
