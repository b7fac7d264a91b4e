"""Config files, --print_config, dotted overrides, environment defaults and the CLI's default settings."""
from __future__ import annotations

import pytest
import torch
import yaml

pytest.importorskip("jsonargparse")

from statetrainer.cli import StateCLI  # noqa: E402
from tests.cli.models import QUIET, RandomData, Regressor  # noqa: E402


def write(path, text):
    path.write_text(text)
    return str(path)


def built(*args, **kwargs):
    return StateCLI(Regressor, RandomData, args=list(args), run=False, **kwargs)


def test_several_config_files_merge_in_the_order_given(tmp_path):
    first = write(tmp_path / "a.yaml", "trainer:\n  max_epochs: 3\nmodel:\n  hidden: 5\n  lr: 0.5\n")
    second = write(tmp_path / "b.yaml", "trainer:\n  max_epochs: 1\nmodel:\n  lr: 0.25\n")
    run = built("--config", first, "--config", second)
    assert (run.trainer.max_epochs, run.model.hparams.hidden, run.model.hparams.lr) == (1, 5, 0.25)
    run = built("--config", second, "--config", first)
    assert (run.trainer.max_epochs, run.model.hparams.lr) == (3, 0.5)


def test_options_apply_in_command_line_order_around_config_files(tmp_path):
    config = write(tmp_path / "a.yaml", "trainer:\n  max_epochs: 3\n")
    assert built("--config", config, "--trainer.max_epochs=7").trainer.max_epochs == 7
    assert built("--trainer.max_epochs=7", "--config", config).trainer.max_epochs == 3


def test_dotted_overrides_reach_trainer_model_and_data():
    run = built("--trainer.max_epochs=2", "--trainer.limit_train_batches=0.5", "--trainer.precision=64",
                "--model.hidden=16", "--data.batch_size=4")
    assert run.trainer.max_epochs == 2 and run.trainer.precision == "64-true"
    assert run.trainer.limit_train_batches == 0.5
    assert run.model.net[0].out_features == 16 and run.datamodule.hparams.batch_size == 4


def test_a_group_config_file_sets_one_group(tmp_path):
    trainer_file = write(tmp_path / "trainer.yaml", "max_epochs: 4\naccumulate_grad_batches: {0: 2, 1: 1}\n")
    run = built("--trainer", trainer_file)
    assert run.trainer.max_epochs == 4 and run.config["trainer"]["accumulate_grad_batches"] == {0: 2, 1: 1}
    assert run.trainer.accumulate_grad_batches == 2  # the factor for epoch 0


def fit(tmp_path, name, *args, **kwargs):
    return StateCLI(Regressor, RandomData, save_config_callback=None, **kwargs, args=[
        "fit", *args, *QUIET, "--trainer.logger=false", "--trainer.enable_checkpointing=false",
        f"--trainer.default_root_dir={tmp_path / name}"])


def test_print_config_output_reruns_to_the_same_config_and_weights(tmp_path, capsys):
    options = ["--trainer.max_epochs=2", "--model.hidden=5", "--optimizer=Adam", "--optimizer.lr=0.01",
               "--seed_everything=3", "--trainer.logger=false", "--trainer.enable_checkpointing=false", *QUIET,
               f"--trainer.default_root_dir={tmp_path / 'printed'}"]
    with pytest.raises(SystemExit) as stop:
        StateCLI(Regressor, RandomData, args=["fit", *options, "--print_config"])
    assert stop.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# statetrainer==")
    assert yaml.safe_load(printed)["model"] == {"hidden": 5, "lr": 0.1, "in_features": 4}
    config = write(tmp_path / "printed.yaml", printed)
    with pytest.warns(UserWarning, match="configure_optimizers"):
        direct = StateCLI(Regressor, RandomData, save_config_callback=None, args=["fit", *options])
        again = StateCLI(Regressor, RandomData, save_config_callback=None, args=["fit", "--config", config])
    assert again.parser.dump(again.config) == direct.parser.dump(direct.config)
    assert again.trainer.global_step == direct.trainer.global_step == 8
    for key, value in direct.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value), key


def test_environment_variables_give_defaults_when_default_env_is_on(tmp_path, monkeypatch):
    monkeypatch.setenv("PL_FIT__TRAINER__MAX_EPOCHS", "1")
    monkeypatch.setenv("PL_FIT__MODEL__HIDDEN", "3")
    run = fit(tmp_path, "env", parser_kwargs={"default_env": True})
    assert run.trainer.max_epochs == 1 and run.model.hparams.hidden == 3 and run.trainer.global_step == 4
    monkeypatch.setenv("PL_TRAINER__MAX_EPOCHS", "6")
    assert built(parser_kwargs={"default_env": True}).trainer.max_epochs == 6
    assert built().trainer.max_epochs is None  # off unless asked for: the Trainer's own default (settled at fit)


def test_environment_config_variable_is_read_with_default_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PL_CONFIG", "model:\n  hidden: 7\n")
    assert built(parser_kwargs={"default_env": True}).model.hparams.hidden == 7


def test_trainer_defaults_are_defaults_and_their_callbacks_always_added(tmp_path, capsys):
    from statetrainer.callbacks import Timer
    timer = Timer(duration="00:00:10:00")
    run = built(trainer_defaults={"max_epochs": 9, "callbacks": timer})
    assert run.trainer.max_epochs == 9 and timer in run.trainer.callbacks
    assert built("--trainer.max_epochs=2", trainer_defaults={"max_epochs": 9}).trainer.max_epochs == 2
    with pytest.raises(SystemExit):
        built("--print_config", trainer_defaults={"max_epochs": 9})
    assert "max_epochs: 9" in capsys.readouterr().out


def test_seed_everything_default_seeds_and_is_written_back(monkeypatch):
    run = built(seed_everything_default=123)
    assert run.config["seed_everything"] == 123
    first = torch.rand(1)
    built(seed_everything_default=123)
    assert torch.equal(torch.rand(1), first)
    assert built().config["seed_everything"] == 123  # True: PL_GLOBAL_SEED (set by the last seeding) or 0
    monkeypatch.delenv("PL_GLOBAL_SEED")
    assert built().config["seed_everything"] == 0
    assert built("--seed_everything=false").config["seed_everything"] is False


def test_parser_kwargs_per_subcommand_and_for_the_main_parser(tmp_path):
    defaults = write(tmp_path / "defaults.yaml", "trainer:\n  max_epochs: 1\nmodel:\n  hidden: 2\n")
    run = StateCLI(Regressor, RandomData, save_config_callback=None,
                   parser_kwargs={"fit": {"default_config_files": [defaults]}, "prog": "train.py"},
                   args=["fit", *QUIET, "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}"])
    assert run.trainer.max_epochs == 1 and run.model.hparams.hidden == 2
    assert run.parser.prog == "train.py"
