"""SaveConfigCallback: config.yaml beside the logs, never silently overwritten."""
from __future__ import annotations

import pytest
import yaml

pytest.importorskip("jsonargparse")

from statetrainer.cli import SaveConfigCallback, StateCLI  # noqa: E402
from tests.cli.models import QUIET, RandomData, Regressor  # noqa: E402


def fit(root, *args, **kwargs):
    return StateCLI(Regressor, RandomData, args=["fit", "--trainer.max_epochs=1", *QUIET,
                                                 f"--trainer.default_root_dir={root}", *args], **kwargs)


def test_config_is_written_in_the_loggers_folder_and_reruns_the_same(tmp_path):
    run = fit(tmp_path, "--model.hidden=5", "--trainer.logger+=CSVLogger", f"--trainer.logger.save_dir={tmp_path}")
    folder = tmp_path / "lightning_logs" / "version_0"
    assert run.trainer.log_dir == str(folder)
    assert sorted(path.name for path in folder.iterdir()) == ["checkpoints", "config.yaml", "hparams.yaml",
                                                              "metrics.csv"]
    text = (folder / "config.yaml").read_text()
    assert text.startswith("# statetrainer==")
    saved = yaml.safe_load(text)
    assert saved["model"] == {"hidden": 5, "lr": 0.1, "in_features": 4}
    assert saved["seed_everything"] == 0 and saved["trainer"]["max_epochs"] == 1
    assert saved["trainer"]["gradient_clip_val"] is None  # None values are kept: the file is the whole config
    again = StateCLI(Regressor, RandomData, save_config_callback=None,
                     args=["fit", "--config", str(folder / "config.yaml")])
    for key, value in run.model.state_dict().items():
        assert again.model.state_dict()[key].equal(value)


def test_without_a_logger_the_config_goes_to_default_root_dir(tmp_path):
    fit(tmp_path, "--trainer.logger=false")
    assert (tmp_path / "config.yaml").is_file()


def test_an_existing_config_is_not_overwritten_unless_asked(tmp_path):
    fit(tmp_path, "--trainer.logger=false")
    with pytest.raises(RuntimeError, match=r"will not overwrite .*config\.yaml"):
        fit(tmp_path, "--trainer.logger=false")
    fit(tmp_path, "--trainer.logger=false", "--model.hidden=3", save_config_kwargs={"overwrite": True})
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]["hidden"] == 3


def test_no_config_file_with_save_config_callback_none_or_fast_dev_run(tmp_path):
    fit(tmp_path / "none", "--trainer.logger=false", save_config_callback=None)
    fit(tmp_path / "fdr", "--trainer.logger=false", "--trainer.fast_dev_run=true")
    assert not (tmp_path / "none" / "config.yaml").exists() and not (tmp_path / "fdr" / "config.yaml").exists()


class LogsConfig(SaveConfigCallback):
    """Stores the config in the logger's hyper-parameters instead of a file."""

    stored: list = []

    def save_config(self, trainer, pl_module, stage):
        LogsConfig.stored.append((stage, self.parser.dump(self.config)))


def test_save_config_override_and_save_to_log_dir_false(tmp_path):
    LogsConfig.stored = []
    fit(tmp_path, "--trainer.logger=false", "--model.hidden=6", save_config_callback=LogsConfig,
        save_config_kwargs={"save_to_log_dir": False})
    assert not (tmp_path / "config.yaml").exists()
    assert len(LogsConfig.stored) == 1 and LogsConfig.stored[0][0] == "fit"
    assert "hidden: 6" in LogsConfig.stored[0][1]
    with pytest.raises(ValueError, match="save_to_log_dir=False"):
        SaveConfigCallback(None, None, save_to_log_dir=False)


def test_config_file_name_and_the_subcommands_config_only(tmp_path):
    fit(tmp_path, "--trainer.logger=false", save_config_kwargs={"config_filename": "run.yaml"})
    saved = yaml.safe_load((tmp_path / "run.yaml").read_text())
    assert "ckpt_path" in saved and "fit" not in saved and "subcommand" not in saved
