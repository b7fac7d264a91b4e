"""The typed Trainer flags cannot drift from FLAG_HELP, and every built-in callback and logger
can be built from a class_path/init_args config."""
from __future__ import annotations

import inspect

import pytest

pytest.importorskip("jsonargparse")

import statetrainer.callbacks as callbacks  # noqa: E402
import statetrainer.loggers as loggers  # noqa: E402
from statetrainer.cli import StateArgumentParser, StateCLI  # noqa: E402
from statetrainer.cli.trainer_arguments import SUBCOMMAND_ARGUMENTS, trainer_flags_class  # noqa: E402
from statetrainer.cli.trainer_types import FLAG_TYPES, PRECISION_VALUES  # noqa: E402
from statetrainer.trainer.flags import FLAG_HELP  # noqa: E402
from statetrainer.trainer.trainer import Trainer  # noqa: E402


def test_every_flag_has_a_type_and_every_type_a_flag():
    assert sorted(set(FLAG_HELP) - set(FLAG_TYPES)) == [], "flags without a type in statetrainer/cli/trainer_types.py"
    assert sorted(set(FLAG_TYPES) - set(FLAG_HELP)) == [], "types for flags the Trainer no longer has"


def trainer_parser():
    parser = StateArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(Trainer, "trainer")
    return parser


def test_every_flags_default_is_accepted_by_its_type_and_builds_the_trainer(tmp_path):
    parser = trainer_parser()
    config = parser.parse_args([f"--trainer.default_root_dir={tmp_path}"])
    flags = vars(config.trainer)
    assert list(flags) == list(FLAG_HELP)
    assert {name: value for name, value in flags.items() if name != "default_root_dir"} == {
        name: default for name, (default, _) in FLAG_HELP.items() if name != "default_root_dir"}
    Trainer(**flags)


@pytest.mark.parametrize("value", PRECISION_VALUES)
def test_each_precision_the_cli_accepts_the_trainer_accepts(value):
    parsed = trainer_parser().parse_object({"trainer": {"precision": value}}).trainer.precision
    assert parsed == value
    if "16" not in str(value) or str(value) in ("16-mixed", "16"):  # half precisions need a device that has them
        Trainer(precision=parsed, logger=False)


def test_the_subcommand_options_are_the_trainer_methods_arguments():
    for subcommand, arguments in SUBCOMMAND_ARGUMENTS.items():
        method = inspect.signature(getattr(Trainer, subcommand)).parameters
        skipped = StateCLI.subcommands()[subcommand]
        expected = [name for name in method if name != "self" and name not in skipped]
        assert [name for name, *_ in arguments] == expected, subcommand
        for name, _, default, _ in arguments:
            assert method[name].default == default, (subcommand, name)


def test_a_trainer_subclass_adds_its_own_typed_arguments():
    class MyTrainer(Trainer):
        def __init__(self, note: str = "x", max_epochs: int = 5, **flags):
            """Args:
                note: a remark kept on the trainer
            """
            super().__init__(max_epochs=max_epochs, **flags)
            self.note = note

    params = inspect.signature(trainer_flags_class(MyTrainer).__init__).parameters
    assert list(params)[1:3] == ["note", "max_epochs"] and params["max_epochs"].default == 5
    assert set(FLAG_HELP) <= set(params)
    run = StateCLI(run=False, trainer_class=MyTrainer, model_class=None,
                   args=["--model=tests.cli.models.Regressor", "--trainer.note=hello"])
    assert isinstance(run.trainer, MyTrainer) and run.trainer.note == "hello" and run.trainer.max_epochs == 5


# init_args for the built-in classes whose __init__ has required arguments
REQUIRED = {
    "EarlyStopping": {"monitor": "val_loss", "patience": 5},
    "GradientAccumulationScheduler": {"scheduling": {0: 2, 4: 1}},
    "CSVLogger": {"save_dir": "{tmp}", "name": "csv"},
    "TensorBoardLogger": {"save_dir": "{tmp}", "name": "tb", "version": 3},
    "ModelPruning": {"pruning_fn": "l1_unstructured", "amount": 0.5},
    "OnExceptionCheckpoint": {"dirpath": "{tmp}"},
    "StochasticWeightAveraging": {"swa_lrs": 0.01},
    "ThroughputMonitor": {"batch_size_fn": "builtins.len"},
}
SOME = {  # a few more, to see non-default values arrive
    "ModelCheckpoint": {"dirpath": "{tmp}", "monitor": "val_loss", "save_last": "link", "save_top_k": -1,
                        "train_time_interval": "0:10:00", "filename": "{epoch}"},
    "Timer": {"duration": "00:01:00:00", "interval": "epoch"},
    "ModelSummary": {"max_depth": 2},
    "LearningRateMonitor": {"logging_interval": "step", "log_momentum": True},
}


def concrete(module):
    """The callback and logger classes a config can name: not abstract, and callbacks or loggers (not
    EarlyStoppingReason, an enum, nor RichProgressBarTheme, a bar's argument)."""
    kinds = (callbacks.Callback, loggers.Logger)
    return sorted(name for name in module.__all__ if isinstance(getattr(module, name), type)
                  and not inspect.isabstract(getattr(module, name)) and issubclass(getattr(module, name), kinds))


@pytest.mark.parametrize("name", concrete(callbacks) + concrete(loggers))
def test_every_builtin_callback_and_logger_builds_from_class_path_and_init_args(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a logger that writes by default writes here
    cls = getattr(callbacks, name, None) or getattr(loggers, name)
    key = "callbacks" if issubclass(cls, callbacks.Callback) else "logger"
    init = {arg: value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value
            for arg, value in {**REQUIRED, **SOME}.get(name, {}).items()}
    required = [p.name for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
                if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    assert set(required) <= set(init), f"add init_args for {name} to REQUIRED"
    parser = trainer_parser()
    config = parser.parse_object({"trainer": {key: [{"class_path": f"{cls.__module__}.{name}", "init_args": init}]}})
    built = getattr(parser.instantiate(config).trainer, key)[0]
    assert type(built) is cls
    again = parser.parse_string(parser.dump(config))
    assert again.trainer[key][0] == config.trainer[key][0]  # the dumped YAML reads back to the same options


@pytest.mark.parametrize("name", concrete(callbacks) + concrete(loggers))
def test_every_init_argument_of_the_builtins_has_a_type_jsonargparse_resolves(name):
    """An annotation jsonargparse cannot resolve silently drops the option; none may be dropped."""
    cls = getattr(callbacks, name, None) or getattr(loggers, name)
    parser = StateArgumentParser(exit_on_error=False)
    added = parser.add_class_arguments(cls, "x", fail_untyped=False)
    wanted = [p.name for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
              if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    assert sorted(key[2:] for key in added) == sorted(wanted)


def test_a_function_that_builds_the_trainer_gives_its_own_options():
    def make_trainer(note: str = "a", max_epochs: int = 2) -> Trainer:
        trainer = Trainer(max_epochs=max_epochs, logger=False)
        trainer.note = note
        return trainer

    with pytest.warns(UserWarning, match="make_trainer takes no `callbacks`"):
        run = StateCLI(run=False, trainer_class=make_trainer, args=["--model=tests.cli.models.Regressor",
                                                                     "--trainer.note=b", "--trainer.max_epochs=3"])
    assert run.trainer.note == "b" and run.trainer.max_epochs == 3
    with pytest.raises(SystemExit):  # only the function's own arguments: it takes no **flags
        StateCLI(run=False, trainer_class=make_trainer, args=["--model=tests.cli.models.Regressor",
                                                               "--trainer.min_epochs=1"])
