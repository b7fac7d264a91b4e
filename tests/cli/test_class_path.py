"""class_path/init_args for the model, the data, callbacks, loggers, optimizers and schedulers;
link_arguments and add_arguments_to_parser."""
from __future__ import annotations

import csv

import pytest
import torch

pytest.importorskip("jsonargparse")

from statetrainer.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint  # noqa: E402
from statetrainer.cli import ReduceLROnPlateau, StateCLI, instantiate_class  # noqa: E402
from statetrainer.loggers import CSVLogger  # noqa: E402
from tests.cli.models import QUIET, NoOptimizerRegressor, OtherData, RandomData, Regressor, WideRegressor  # noqa


def write(path, text):
    path.write_text(text)
    return str(path)


def test_subclass_mode_model_and_data_take_class_path_and_init_args(tmp_path):
    config = write(tmp_path / "c.yaml", """
model:
  class_path: tests.cli.models.WideRegressor
  init_args:
    depth: 3
data:
  class_path: tests.cli.models.OtherData
""")
    run = StateCLI(Regressor, RandomData, subclass_mode_model=True, subclass_mode_data=True, run=False,
                   args=["--config", config, "--model.hidden=6"])
    assert type(run.model) is WideRegressor and run.model.hparams.hidden == 6 and len(run.model.net) == 7
    assert type(run.datamodule) is OtherData and run.datamodule.hparams.rows == 32


def test_short_class_names_and_no_model_class_at_all():
    run = StateCLI(run=False, args=["--model=tests.cli.models.Regressor", "--model.hidden=3",
                                    "--data=tests.cli.models.RandomData"])
    assert type(run.model) is Regressor and run.model.hparams.hidden == 3 and type(run.datamodule) is RandomData


def test_a_class_outside_subclass_mode_is_refused_with_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        StateCLI(Regressor, RandomData, run=False, args=["--model=tests.cli.models.WideRegressor"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_callbacks_and_logger_from_a_config_file(tmp_path):
    config = write(tmp_path / "c.yaml", f"""
trainer:
  max_epochs: 2
  logger:
    class_path: CSVLogger
    init_args:
      save_dir: {tmp_path}
      name: csv
  callbacks:
    - class_path: statetrainer.callbacks.ModelCheckpoint
      init_args:
        monitor: val_loss
        save_top_k: 2
        filename: "{{epoch}}-{{val_loss:.3f}}"
    - class_path: EarlyStopping
      init_args:
        monitor: val_loss
        patience: 7
""")
    run = StateCLI(Regressor, RandomData, args=["fit", "--config", config, *QUIET])
    logger = run.trainer.logger
    assert isinstance(logger, CSVLogger) and logger.log_dir == str(tmp_path / "csv" / "version_0")
    with open(tmp_path / "csv" / "version_0" / "metrics.csv") as handle:
        assert len([row for row in csv.DictReader(handle) if row["val_loss"]]) == 2
    checkpoint = run.trainer.checkpoint_callback
    assert isinstance(checkpoint, ModelCheckpoint) and checkpoint.save_top_k == 2
    assert len(checkpoint.best_k_models) == 2
    assert [cb.patience for cb in run.trainer.callbacks if isinstance(cb, EarlyStopping)] == [7]


def test_callbacks_appended_on_the_command_line():
    run = StateCLI(Regressor, RandomData, run=False, args=[
        "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val_loss",
        "--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks.logging_interval=step"])
    early, monitor = [cb for cb in run.trainer.callbacks if isinstance(cb, (EarlyStopping, LearningRateMonitor))]
    assert early.monitor == "val_loss" and monitor.logging_interval == "step"


def fit(tmp_path, model, *args):
    return StateCLI(model, RandomData, save_config_callback=None, args=[
        "fit", "--trainer.max_epochs=3", "--trainer.logger=false", "--trainer.enable_checkpointing=false", *QUIET,
        f"--trainer.default_root_dir={tmp_path}", *args])


def test_optimizer_and_scheduler_options_replace_configure_optimizers(tmp_path):
    run = fit(tmp_path, NoOptimizerRegressor, "--optimizer=Adam", "--optimizer.lr=0.02",
              "--optimizer.weight_decay=0.001", "--lr_scheduler=StepLR", "--lr_scheduler.step_size=1",
              "--lr_scheduler.gamma=0.5")
    optimizer = run.trainer.optimizers[0]
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["weight_decay"] == 0.001
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5 ** 3)  # stepped after each of 3 epochs
    assert isinstance(run.trainer.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.StepLR)


def test_optimizer_option_warns_when_it_replaces_the_models_own(tmp_path):
    with pytest.warns(UserWarning, match="Regressor.configure_optimizers` is replaced"):
        run = fit(tmp_path, Regressor, "--optimizer=SGD", "--optimizer.lr=0.3")
    assert run.trainer.optimizers[0].param_groups[0]["lr"] == 0.3


def test_reduce_lr_on_plateau_monitors_the_named_metric(tmp_path):
    run = fit(tmp_path, NoOptimizerRegressor, "--optimizer=SGD", "--optimizer.lr=0.1",
              "--lr_scheduler=ReduceLROnPlateau", "--lr_scheduler.monitor=val_loss", "--lr_scheduler.patience=0",
              "--lr_scheduler.factor=0.5", "--lr_scheduler.threshold=10")
    config = run.trainer.lr_scheduler_configs[0]
    assert isinstance(config.scheduler, ReduceLROnPlateau) and config.monitor == "val_loss"
    assert run.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)


def test_without_optimizer_options_the_models_configure_optimizers_is_kept(tmp_path):
    run = fit(tmp_path, Regressor, "--model.lr=0.7")
    assert isinstance(run.trainer.optimizers[0], torch.optim.SGD)
    assert run.trainer.optimizers[0].param_groups[0]["lr"] == 0.7


class LinkedCLI(StateCLI):
    """Links the data's feature count into the model (at build time) and its batch size (at parse time)."""

    def add_arguments_to_parser(self, parser):
        parser.add_argument("--notes", type=str, default="none", help="free text kept in the config")
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val_loss"})
        parser.link_arguments("data.num_features", "model.in_features", apply_on="instantiate",
                              compute_fn=lambda features: features)
        parser.link_arguments("data.batch_size", "model.hidden", compute_fn=lambda size: 2 * size)


def test_link_arguments_and_add_arguments_to_parser(tmp_path):
    run = LinkedCLI(Regressor, RandomData, save_config_callback=None, args=[
        "fit", "--data.num_features=6", "--data.batch_size=5", "--notes=first try", "--early_stopping.patience=4",
        "--trainer.max_epochs=1", "--trainer.logger=false", *QUIET, f"--trainer.default_root_dir={tmp_path}"])
    assert run.model.hparams.in_features == 6 and run.model.net[0].in_features == 6
    assert run.model.hparams.hidden == 10
    assert run.config["fit"]["notes"] == "first try"
    stoppers = [cb for cb in run.trainer.callbacks if isinstance(cb, EarlyStopping)]
    assert len(stoppers) == 1 and stoppers[0].patience == 4 and stoppers[0].monitor == "val_loss"
    assert run.trainer.global_step == 4


def test_a_linked_target_cannot_be_given_as_well(capsys):
    with pytest.raises(SystemExit):
        LinkedCLI(Regressor, RandomData, run=False, args=["--model.hidden=3"])
    err = capsys.readouterr().err
    assert "model.hidden" in err and "data.batch_size" in err and err.count("\n") == 1


class TwoOptimizersCLI(StateCLI):
    """Optimizer groups linked into the model's own arguments instead of replacing configure_optimizers."""

    def add_arguments_to_parser(self, parser):
        parser.add_optimizer_args(torch.optim.SGD, nested_key="gen_optimizer", link_to="model.gen_opt")
        parser.add_optimizer_args((torch.optim.Optimizer,), nested_key="dis_optimizer", link_to="model.dis_opt")


class TwoOptimizerModel(Regressor):
    def __init__(self, gen_opt: dict = None, dis_opt: dict = None, hidden: int = 8):
        super().__init__(hidden=hidden)
        self.gen_opt, self.dis_opt = gen_opt, dis_opt


def test_add_optimizer_args_with_link_to_gives_the_model_class_path_dicts():
    run = TwoOptimizersCLI(TwoOptimizerModel, RandomData, run=False, args=[
        "--gen_optimizer.lr=0.5", "--dis_optimizer=Adam", "--dis_optimizer.lr=0.01"])
    assert run.model.gen_opt["class_path"] == "torch.optim.sgd.SGD" and run.model.gen_opt["init_args"]["lr"] == 0.5
    optimizer = instantiate_class(run.model.parameters(), run.model.dis_opt)
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == 0.01
