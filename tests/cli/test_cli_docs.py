"""docs/cli.md's examples run as printed and print what the page says they print."""
from __future__ import annotations

import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("jsonargparse")

from statetrainer.cli import StateCLI  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)


def commands() -> list[list[str]]:
    """The `python train.py ...` lines of the page's bash blocks, in page order."""
    lines = [line for block in blocks("bash") for line in block.splitlines() if line.startswith("python train.py")]
    return [shlex.split(line)[2:] for line in lines]


def run_program(argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py", *argv])
    runpy.run_path("train.py", run_name="__main__")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder holding the page's train.py and config.yaml, as the working directory."""
    program = next(block for block in blocks("python") if block.startswith("# train.py"))
    (tmp_path / "train.py").write_text(program)
    (tmp_path / "config.yaml").write_text(blocks("yaml")[0])
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def is_subsequence(lines: list[str], text: str) -> bool:
    remaining = iter(text.splitlines())
    return all(any(line == candidate for candidate in remaining) for line in lines)


@pytest.mark.slow
def test_worked_example_runs_as_printed(project, monkeypatch, capsys):
    fit, show, override, validate = commands()
    run_program(fit, monkeypatch)
    first = project / "lightning_logs" / "version_0"
    assert (first / "config.yaml").is_file() and (first / "checkpoints" / "epoch=1-step=16.ckpt").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_program(show, monkeypatch)
    assert stop.value.code == 0
    printed = capsys.readouterr().out
    shown = blocks("text")[0].strip().splitlines()
    assert is_subsequence(shown, printed), printed
    run_program(override, monkeypatch)
    again = (project / "lightning_logs" / "version_1" / "config.yaml").read_text()
    assert "max_epochs: 3" in again and "lr: 0.1" in again and "batch_size: 32" in again
    run_program(validate, monkeypatch)
    assert (project / "lightning_logs" / "version_2" / "config.yaml").is_file()


@pytest.mark.slow
def test_printed_config_reruns_to_the_same_weights(project, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run_program(commands()[1], monkeypatch)
    (project / "printed.yaml").write_text(capsys.readouterr().out)
    namespace = runpy.run_path("train.py")
    runs = [StateCLI(namespace["Regressor"], namespace["Points"], args=["fit", "--config", name],
                     save_config_callback=None) for name in ("config.yaml", "printed.yaml")]
    for key, value in runs[0].model.state_dict().items():
        assert torch.equal(runs[1].model.state_dict()[key], value), key


def test_error_lines_are_what_the_program_prints(project, monkeypatch, capsys):
    shown = [line for line in blocks("text")[1].splitlines() if line]
    for line in shown:
        given = re.search(r"(--trainer\.max_epochs?)(?:=| got )'?([\w-]+)'?", line)
        with pytest.raises(SystemExit) as stop:
            run_program(["fit", f"{given.group(1)}={given.group(2)}"], monkeypatch)
        assert stop.value.code == 2
        assert capsys.readouterr().err == line + "\n"


def test_class_path_yaml_builds_the_logger_and_callbacks(project):
    from statetrainer.callbacks import EarlyStopping
    from statetrainer.loggers import CSVLogger
    (project / "classes.yaml").write_text(blocks("yaml")[1])
    namespace = runpy.run_path("train.py")
    cli = StateCLI(namespace["Regressor"], namespace["Points"], run=False, args=["--config", "classes.yaml"])
    assert isinstance(cli.trainer.logger, CSVLogger) and cli.trainer.logger.save_dir == "logs"
    assert [cb.patience for cb in cli.trainer.callbacks if isinstance(cb, EarlyStopping)] == [3]


def test_subclass_and_run_false_examples_run(project):
    namespace = runpy.run_path("train.py")
    subclass, run_false = [block for block in blocks("python") if not block.startswith("# train.py")]
    exec(compile(run_false, "cli.md:run_false", "exec"), namespace)
    assert namespace["cli"].trainer.current_epoch == 1 and namespace["cli"].model.hparams.hidden == 4

    exec(compile(subclass, "cli.md:subclass", "exec"), namespace)

    class Classifier(namespace["Regressor"]):
        def __init__(self, batch_size: int = 1, num_classes: int = 1, hidden: int = 8):
            super().__init__(hidden=hidden)

    class Labelled(namespace["Points"]):
        num_classes = 5

    cli = namespace["MyCLI"](Classifier, Labelled, save_config_callback=None, args=[
        "fit", "--data.batch_size=32", "--early_stopping.patience=1", "--trainer.max_epochs=1",
        "--trainer.logger=false", "--trainer.enable_progress_bar=false"])
    assert cli.model.hparams.batch_size == 32 and cli.model.hparams.num_classes == 5
    assert any(type(cb).__name__ == "EarlyStopping" and cb.patience == 1 for cb in cli.trainer.callbacks)
