"""StateCLI's subcommands, their trainer-method options, the hooks around them, run=False and args forms."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("jsonargparse")

from statetrainer.cli import StateCLI  # noqa: E402
from tests.cli.models import QUIET, RandomData, Regressor  # noqa: E402


def cli(*args, root, **kwargs):
    return StateCLI(Regressor, RandomData, args=[*args, *QUIET, f"--trainer.default_root_dir={root}"], **kwargs)


def test_fit_trains_with_the_options_given(tmp_path):
    run = cli("fit", "--trainer.max_epochs=2", "--trainer.logger=false", root=tmp_path)
    assert run.subcommand == "fit"
    assert run.trainer.state.fn == "fit" and run.trainer.state.status == "finished"
    assert run.trainer.global_step == 8 and run.trainer.current_epoch == 2
    assert "val_loss" in run.trainer.callback_metrics


@pytest.mark.parametrize("subcommand, metric", [("validate", "val_loss"), ("test", "test_loss")])
def test_validate_and_test_run_one_pass_without_training(tmp_path, subcommand, metric):
    run = cli(subcommand, "--trainer.logger=false", root=tmp_path)
    assert run.trainer.state.fn == subcommand and run.trainer.global_step == 0
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(run.model(run.datamodule.dataset.tensors[0][:16]),
                                                run.datamodule.dataset.tensors[1][:16])
    assert float(run.trainer.callback_metrics[metric]) == pytest.approx(float(expected), rel=1e-5)


def test_predict_runs_predict_step_over_the_predict_data(tmp_path):
    run = cli("predict", "--trainer.logger=false", "--trainer.limit_predict_batches=3", "--return_predictions=false",
              root=tmp_path)
    assert run.trainer.state.fn == "predict" and run.model.predicted == 3


def test_ckpt_path_restores_the_weights_fit_wrote(tmp_path):
    fitted = cli("fit", "--trainer.max_epochs=1", "--trainer.logger=false", root=tmp_path / "fit")
    ckpt = fitted.trainer.checkpoint_callback.best_model_path
    checked = cli("validate", f"--ckpt_path={ckpt}", "--trainer.logger=false", "--seed_everything=99",
                  root=tmp_path / "val")
    assert float(checked.trainer.callback_metrics["val_loss"]) == pytest.approx(
        float(fitted.trainer.callback_metrics["val_loss"]), rel=1e-6)


def test_checkpoint_hyperparameters_decide_how_the_model_is_built(tmp_path):
    fitted = cli("fit", "--trainer.max_epochs=1", "--trainer.logger=false", "--model.hidden=5", root=tmp_path / "a")
    ckpt = fitted.trainer.checkpoint_callback.best_model_path
    resumed = cli("test", f"--ckpt_path={ckpt}", "--model.hidden=12", "--trainer.logger=false", root=tmp_path / "b")
    assert resumed.model.hparams.hidden == 5 and resumed.model.net[0].out_features == 5


class RecordingCLI(StateCLI):
    """Records the order of the hooks StateCLI calls around building and running."""

    calls: list = []

    def before_instantiate_classes(self):
        self.calls.append(("before_instantiate_classes", self.model is None))

    def after_instantiate_classes(self):
        self.calls.append(("after_instantiate_classes", self.trainer is not None))

    def before_fit(self):
        self.calls.append(("before_fit", self.trainer.global_step))

    def after_fit(self):
        self.calls.append(("after_fit", self.trainer.global_step))

    def before_test(self):
        self.calls.append(("before_test", self.trainer.state.fn))


def test_hooks_run_around_building_and_the_subcommand(tmp_path):
    RecordingCLI.calls = []
    RecordingCLI(Regressor, RandomData, args=["fit", "--trainer.max_epochs=1", "--trainer.logger=false", *QUIET,
                                              f"--trainer.default_root_dir={tmp_path}"])
    assert RecordingCLI.calls == [("before_instantiate_classes", True), ("after_instantiate_classes", True),
                                  ("before_fit", 0), ("after_fit", 4)]


class OwnFitCLI(StateCLI):
    """A CLI whose own `fit` replaces the trainer's (it receives the same arguments)."""

    received: dict = {}

    def fit(self, model, datamodule=None, ckpt_path=None, weights_only=None):
        OwnFitCLI.received = {"model": model, "datamodule": datamodule, "ckpt_path": ckpt_path}


def test_a_cli_method_named_after_the_subcommand_runs_instead_of_the_trainer(tmp_path):
    run = OwnFitCLI(Regressor, RandomData, args=["fit", "--ckpt_path=last", f"--trainer.default_root_dir={tmp_path}"])
    assert OwnFitCLI.received == {"model": run.model, "datamodule": run.datamodule, "ckpt_path": "last"}
    assert run.trainer.global_step == 0


def test_run_false_only_builds(tmp_path):
    run = StateCLI(Regressor, RandomData, run=False,
                   args=["--trainer.max_epochs=3", "--model.hidden=6", f"--trainer.default_root_dir={tmp_path}"])
    assert run.subcommand is None
    assert isinstance(run.model, Regressor) and run.model.hparams.hidden == 6
    assert isinstance(run.datamodule, RandomData)
    assert run.trainer.max_epochs == 3 and run.trainer.global_step == 0
    run.trainer.fit(run.model, datamodule=run.datamodule)  # the objects are ready to use
    assert run.trainer.current_epoch == 3


def test_args_as_a_dict_per_subcommand_or_flat_with_run_false(tmp_path):
    options = {"trainer": {"max_epochs": 1, "logger": False, "default_root_dir": str(tmp_path),
                           "enable_progress_bar": False, "limit_train_batches": 2, "limit_val_batches": 1},
               "model": {"hidden": 3}}
    fitted = StateCLI(Regressor, RandomData, args={"fit": options})
    assert fitted.trainer.global_step == 2 and fitted.model.hparams.hidden == 3
    built = StateCLI(Regressor, RandomData, args=options, run=False)
    assert built.model.hparams.hidden == 3 and built.trainer.global_step == 0


def test_datamodule_is_optional_without_a_datamodule_class(tmp_path):
    run = StateCLI(Regressor, run=False, args=[f"--trainer.default_root_dir={tmp_path}"])
    assert run.datamodule is None and isinstance(run.model, Regressor)


def test_statetrainer_cli_is_reachable_from_the_top_package():
    import statetrainer as st
    assert st.cli.StateCLI is StateCLI and "cli" in st.__all__
