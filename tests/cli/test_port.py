"""Lightning programs that use LightningCLI run under statetrainer with only the imports changed.

Each program in lightning_programs/ is run under the real lightning and, ported by renaming the
imported names (LightningCLI -> StateCLI, LightningModule -> StateModule, ...), under
statetrainer, with the same command line; the final weights, step counts and metrics must agree.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("lightning")
pytest.importorskip("jsonargparse")

PROGRAMS = Path(__file__).parent / "lightning_programs"

# the whole port: module paths and the names that differ
RENAMES = (
    (r"\blightning\.pytorch\.cli\b", "statetrainer.cli"),
    (r"\blightning\.pytorch\.callbacks\b", "statetrainer.callbacks"),
    (r"\blightning\.pytorch\b", "statetrainer"),
    (r"\bLightningCLI\b", "StateCLI"),
    (r"\bLightningArgumentParser\b", "StateArgumentParser"),
    (r"\bLightningDataModule\b", "DataModule"),
    (r"\bLightningModule\b", "StateModule"),
)

QUIET = """
seed_everything: 7
trainer:
  max_epochs: 2
  enable_progress_bar: false
  enable_model_summary: false
  logger: false
"""


def port(source: str) -> str:
    for pattern, replacement in RENAMES:
        source = re.sub(pattern, replacement, source)
    return source


def load(name: str, source: str, folder: Path):
    """Import `source` as module `name` (registered, so jsonargparse can name its classes)."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def both(tmp_path, request):
    """(lightning module, statetrainer module) for a program file name."""
    loaded = []

    def make(program: str):
        source = (PROGRAMS / program).read_text()
        stem = f"{Path(program).stem}_{request.node.name}".replace("[", "_").replace("]", "")
        pair = (load(f"{stem}_lightning", source, tmp_path), load(f"{stem}_statetrainer", port(source), tmp_path))
        loaded.extend(module.__name__ for module in pair)
        return pair

    yield make
    for name in loaded:
        sys.modules.pop(name, None)


def run_both(pair, tmp_path, args):
    """Run each program's cli_main with `args` in its own root folder; the two CLIs."""
    config = tmp_path / "quiet.yaml"
    config.write_text(QUIET)
    clis = []
    for module, root in zip(pair, ("lightning", "statetrainer")):
        clis.append(module.cli_main(["fit", "--config", str(config), "--trainer.default_root_dir",
                                     str(tmp_path / root), *args]))
    return clis


def assert_same_training(reference, ported):
    assert ported.trainer.global_step == reference.trainer.global_step
    assert ported.trainer.current_epoch == reference.trainer.current_epoch
    expected, got = reference.model.state_dict(), ported.model.state_dict()
    assert list(got) == list(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6, msg=key)
    for key, value in reference.trainer.callback_metrics.items():
        torch.testing.assert_close(ported.trainer.callback_metrics[key], value, rtol=1e-5, atol=1e-6)


def test_port_renames_only_imports_and_names():
    source = (PROGRAMS / "linked_cli.py").read_text()
    changed = [(a, b) for a, b in zip(source.splitlines(), port(source).splitlines()) if a != b]
    assert all(re.search(r"import|Lightning", a) for a, _ in changed)
    assert not re.search(r"^\s*(from|import) lightning", port(source), re.M)


@pytest.mark.slow
def test_plain_program_trains_the_same_and_resumes_the_same(both, tmp_path):
    pair = both("plain_cli.py")
    reference, ported = run_both(pair, tmp_path, ["--model.hidden=6", "--data.batch_size=8"])
    assert_same_training(reference, ported)
    assert ported.trainer.global_step == 16 and ported.model.hparams.hidden == 6
    for root in ("lightning", "statetrainer"):
        assert (tmp_path / root / "config.yaml").is_file()
    tested = []
    for module, cli, root in zip(pair, (reference, ported), ("lightning", "statetrainer")):
        ckpt = cli.trainer.checkpoint_callback.best_model_path
        again = module.cli_main(["test", "--config", str(tmp_path / "quiet.yaml"), "--ckpt_path", ckpt,
                                 "--trainer.default_root_dir", str(tmp_path / root / "test"),
                                 "--model.hidden=99"])  # the checkpoint's hparams win, as in Lightning
        assert again.model.hparams.hidden == 6
        tested.append(float(again.trainer.callback_metrics["test_loss"]))
    assert tested[1] == pytest.approx(tested[0], rel=1e-5)


@pytest.mark.slow
def test_subclassed_program_with_links_and_optimizer_option_trains_the_same(both, tmp_path):
    pair = both("linked_cli.py")
    args = ["--data.batch_size=6", "--data.dims=7", "--optimizer=Adam", "--optimizer.lr=0.02",
            "--lr_scheduler=StepLR", "--lr_scheduler.step_size=1", "--early_stopping.patience=5"]
    reference, ported = run_both(pair, tmp_path, args)
    assert_same_training(reference, ported)
    assert ported.model.hparams.in_features == 7 and ported.model.hparams.batch_size == 6
    stopper = [cb for cb in ported.trainer.callbacks if type(cb).__name__ == "EarlyStopping"]
    assert len(stopper) == 1 and stopper[0].patience == 5
    assert ported.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(
        reference.trainer.optimizers[0].param_groups[0]["lr"])
