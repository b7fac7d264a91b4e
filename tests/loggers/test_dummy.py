"""DummyLogger and its experiment accept every call, as Lightning's do (fast_dev_run swaps loggers for one)."""
from statetrainer.loggers import DummyLogger


def test_logging_methods_take_any_arguments():
    logger = DummyLogger()
    assert logger.log_metrics("a", 2, extra="c") is None
    assert logger.log_hyperparams({"lr": 0.1}, "x", metrics={"m": 1}) is None


def test_experiment_takes_item_assignment_and_forgets_it():
    experiment = DummyLogger().experiment
    experiment["run/lr"] = 0.1
    assert experiment["run/lr"] is experiment
    assert experiment.add_scalar("x", 1.0, step=3) is None
