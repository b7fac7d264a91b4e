"""TensorBoardLogger without a Trainer: folders, scalars, hparams and graph read back from the event files."""
from __future__ import annotations

import os
import pickle

import pytest
import torch
import yaml

from statetrainer.loggers import TensorBoardLogger

from .events import event_files, graphs, hparams_plugin, scalars


def test_versions_count_up_and_explicit_versions_are_used_as_given(tmp_path):
    first = TensorBoardLogger(tmp_path)
    first.log_metrics({"a": 1.0}, step=0)
    second = TensorBoardLogger(tmp_path)
    assert (first.version, second.version) == (0, 1)
    assert second.log_dir == os.path.join(tmp_path, "lightning_logs", "version_1")
    assert TensorBoardLogger(tmp_path, version=7).log_dir == os.path.join(tmp_path, "lightning_logs", "version_7")
    assert TensorBoardLogger(tmp_path, name="exp", version="run_a").log_dir == os.path.join(tmp_path, "exp", "run_a")
    assert TensorBoardLogger(tmp_path, name="").log_dir == os.path.join(tmp_path, "version_0")
    assert TensorBoardLogger(tmp_path, version=2, sub_dir="fold1").log_dir == os.path.join(
        tmp_path, "lightning_logs", "version_2", "fold1")


def test_next_version_skips_files_and_odd_names(tmp_path):
    root = tmp_path / "lightning_logs"
    (root / "version_3").mkdir(parents=True)
    (root / "version_x").mkdir()
    (root / "version_9").write_text("a file, not a run folder")
    assert TensorBoardLogger(tmp_path).version == 4


def test_scalars_are_read_back_with_their_steps(tmp_path):
    logger = TensorBoardLogger(tmp_path, name="exp")
    logger.log_metrics({"loss": 0.5, "acc": torch.tensor(0.25)}, step=3)
    logger.log_metrics({"loss": 1.75}, step=4)
    logger.log_metrics({"epoch": 1}, step=4)
    logger.finalize("success")
    assert scalars(logger.log_dir) == {"loss": [(3, 0.5), (4, 1.75)], "acc": [(3, 0.25)], "epoch": [(4, 1.0)]}


def test_prefix_and_dict_metrics(tmp_path):
    logger = TensorBoardLogger(tmp_path, prefix="train")
    logger.log_metrics({"loss": 2.0}, step=1)
    logger.log_metrics({"pair": {"a": 1.0, "b": 2.0}}, step=2)
    logger.finalize("success")
    found = scalars(logger.log_dir)
    assert found["train-loss"] == [(1, 2.0)]
    # add_scalars writes one run folder per key (log_dir/main_tag/key), one chart in TensorBoard
    assert scalars(os.path.join(logger.log_dir, "train-pair", "a")) == {"train-pair": [(2, 1.0)]}
    assert scalars(os.path.join(logger.log_dir, "train-pair", "b")) == {"train-pair": [(2, 2.0)]}


def test_a_non_scalar_metric_is_refused_by_name(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    with pytest.raises(ValueError, match=r"metric 'weights'.* got tensor\(\[1\., 2\.\]\); accepted: a number"):
        logger.log_metrics({"weights": torch.tensor([1.0, 2.0])}, step=0)


def test_log_hyperparams_writes_yaml_and_the_hparams_plugin(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    logger.log_hyperparams({"lr": 0.1, "name": "adam", "layers": [4, 8], "opt": {"betas": (0.9, 0.99), "wd": 0}})
    logger.finalize("success")
    with open(os.path.join(logger.log_dir, "hparams.yaml")) as handle:
        assert yaml.safe_load(handle) == {"lr": 0.1, "name": "adam", "layers": [4, 8],
                                          "opt": {"betas": [0.9, 0.99], "wd": 0}}
    plugin = hparams_plugin(logger.log_dir)
    assert set(plugin) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin["_hparams_/session_start_info"].session_start_info.hparams
    assert start["lr"].number_value == pytest.approx(0.1)
    assert start["name"].string_value == "adam"
    assert start["layers"].string_value == "[4, 8]"
    assert start["opt/betas"].string_value == "[0.9, 0.99]"
    assert start["opt/wd"].number_value == 0
    assert [m.name.tag for m in plugin["_hparams_/experiment"].experiment.metric_infos] == ["hp_metric"]
    assert scalars(logger.log_dir)["hp_metric"] == [(0, -1.0)]


def test_hparams_with_metrics_and_without_default_metric(tmp_path):
    with_metric = TensorBoardLogger(tmp_path, name="a")
    with_metric.log_hyperparams({"lr": 0.5}, metrics={"val_acc": 0.75}, step=2)
    with_metric.finalize("success")
    assert scalars(with_metric.log_dir) == {"val_acc": [(2, 0.75)]}
    silent = TensorBoardLogger(tmp_path, name="b", default_hp_metric=False)
    silent.log_hyperparams({"lr": 0.5})
    silent.finalize("success")
    assert hparams_plugin(silent.log_dir) == {}
    assert (open(os.path.join(silent.log_dir, "hparams.yaml")).read()) == "lr: 0.5\n"


def test_save_opens_the_run_folder_with_an_event_file_and_empty_hparams(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    logger.save()  # as Lightning's: a run that logs nothing still gets its folder, event file and hparams.yaml
    assert open(os.path.join(logger.log_dir, "hparams.yaml")).read() == "{}\n"
    assert [name for name in os.listdir(logger.log_dir) if name.startswith("events.out.tfevents.")]
    logger.log_metrics({"a": 1.0}, step=0)
    logger.save()
    assert open(os.path.join(logger.log_dir, "hparams.yaml")).read() == "{}\n"


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
        self.head = torch.nn.Linear(4, 1)
        self.example_input_array = torch.zeros(2, 3)

    def forward(self, x):
        return self.head(self.encoder(x))


def test_log_graph_writes_a_graph_tensorboard_can_draw(tmp_path):
    logger = TensorBoardLogger(tmp_path, log_graph=True)
    model = _Net()
    model.train()
    logger.log_graph(model)
    logger.finalize("success")
    assert model.training  # tracing put it back in train mode
    (graph,) = graphs(logger.log_dir)
    by_name = {node.name: node for node in graph.node}
    assert by_name["input/x"].op == "IO Node"
    linear = [node for node in graph.node if node.op == "aten::linear"]
    assert [node.name.rsplit("/", 1)[0] for node in linear] == ["_Net/encoder/0", "_Net/head"]
    assert list(linear[0].input) == ["input/x", "_Net/encoder/0/weight", "_Net/encoder/0/bias"]
    assert by_name["_Net/encoder/0/weight"].op == "Parameter"
    shape = [dim.size for dim in linear[1].attr["_output_shapes"].list.shape[0].dim]
    assert shape == [2, 1]
    assert graph.node[-1].name == "output/output.0" and list(graph.node[-1].input) == [linear[1].name]


def test_log_graph_is_off_by_default_and_warns_without_an_input(tmp_path):
    quiet = TensorBoardLogger(tmp_path, name="off")
    quiet.log_graph(_Net())
    assert not os.path.exists(quiet.log_dir)
    logger = TensorBoardLogger(tmp_path, name="on", log_graph=True)
    model = _Net()
    model.example_input_array = None
    with pytest.warns(UserWarning, match="input_array=None; accepted: a tensor or a tuple"):
        logger.log_graph(model)
    logger.log_graph(model, input_array=torch.ones(1, 3))
    logger.finalize("success")
    assert len(graphs(logger.log_dir)) == 1


def test_finalize_closes_and_a_later_run_appends_a_new_event_file(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    logger.log_metrics({"a": 1.0}, step=0)
    logger.finalize("success")
    assert logger._experiment is None
    logger.log_metrics({"a": 2.0}, step=1)
    logger.finalize("failed")
    assert scalars(logger.log_dir) == {"a": [(0, 1.0), (1, 2.0)]}


def test_other_ranks_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    logger = TensorBoardLogger(tmp_path)
    logger.log_hyperparams({"lr": 1})
    logger.log_metrics({"a": 1.0}, step=0)
    logger.experiment.add_text("t", "x")  # a do-nothing experiment
    logger.save()
    logger.finalize("success")
    assert os.listdir(tmp_path) == []


def test_logger_pickles_without_its_writer(tmp_path):
    logger = TensorBoardLogger(tmp_path, version=3)
    logger.log_metrics({"a": 1.0}, step=0)
    copy = pickle.loads(pickle.dumps(logger))
    assert copy._experiment is None and copy.log_dir == logger.log_dir
    logger.finalize("success")


def test_bad_version_is_refused():
    with pytest.raises(ValueError, match=r"`version` got 1.5; accepted: None, an int or a str\."):
        TensorBoardLogger("x", version=1.5)


def test_tensorboards_own_reader_sees_the_scalars(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    logger = TensorBoardLogger(tmp_path)
    logger.log_metrics({"loss": 0.5}, step=3)
    logger.log_metrics({"loss": 0.25}, step=5)
    logger.finalize("success")
    acc = event_accumulator.EventAccumulator(logger.log_dir)
    acc.Reload()
    assert [(s.step, s.value) for s in acc.Scalars("loss")] == [(3, 0.5), (5, 0.25)]
    assert len(event_files(logger.log_dir)) == 1


def _renamed(base: type) -> type:
    class Renamed(base):
        @property
        def name(self):
            return "name"

        @property
        def version(self):
            return "version"
    return Renamed


@pytest.mark.parametrize("sub_dir", [None, "sub_dir"])
def test_a_subclass_that_overrides_name_and_version_moves_the_folders_as_in_lightning(tmp_path, sub_dir):
    pl_loggers = pytest.importorskip("lightning.pytorch.loggers")
    ours = _renamed(TensorBoardLogger)(tmp_path / "ours", sub_dir=sub_dir)
    theirs = _renamed(pl_loggers.TensorBoardLogger)(tmp_path / "theirs", sub_dir=sub_dir)
    assert os.path.relpath(ours.log_dir, tmp_path / "ours") == os.path.relpath(theirs.log_dir, tmp_path / "theirs")
    assert ours.log_dir == os.path.join(tmp_path, "ours", "name", "version", *([sub_dir] if sub_dir else []))
    ours.log_metrics({"a": 1.0}, step=0)
    ours.finalize("success")
    assert event_files(ours.log_dir)


def test_csv_logger_subclass_names_its_folders_too(tmp_path):
    from statetrainer.loggers import CSVLogger
    pl_loggers = pytest.importorskip("lightning.pytorch.loggers")
    ours, theirs = _renamed(CSVLogger)(tmp_path / "ours"), _renamed(pl_loggers.CSVLogger)(tmp_path / "theirs")
    assert os.path.relpath(ours.log_dir, tmp_path / "ours") == os.path.relpath(theirs.log_dir, tmp_path / "theirs") \
        == os.path.join("name", "version")


def test_save_flushes_the_event_file_at_most_every_flush_interval_and_closing_writes_the_rest(tmp_path, monkeypatch):
    from statetrainer.loggers import tensorboard as tb_module

    clock = [100.0]
    monkeypatch.setattr(tb_module.time, "monotonic", lambda: clock[0])
    logger = TensorBoardLogger(tmp_path)
    flushes = []
    real_flush = logger.experiment.flush  # tensorboardX's flush ends in an fsync
    monkeypatch.setattr(logger.experiment, "flush", lambda: (flushes.append(clock[0]), real_flush()))
    for step in range(50):  # a save after every write, as the trainer does at each log_every_n_steps
        logger.log_metrics({"loss": float(step)}, step=step)
        logger.save()
    assert flushes == [100.0]  # the first save; the next 49 fall inside the interval
    clock[0] += tb_module.SAVE_FLUSH_SECONDS
    logger.save()
    assert flushes == [100.0, 100.0 + tb_module.SAVE_FLUSH_SECONDS]
    logger.log_metrics({"loss": 50.0}, step=50)
    logger.finalize("success")  # closing writes what the interval held back
    assert [step for step, _ in scalars(logger.log_dir)["loss"]] == list(range(51))
