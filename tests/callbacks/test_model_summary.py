"""ModelSummary: the table built from a plain nn.Module, the callback, and Lightning's numbers for the same layers."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from statetrainer.callbacks.model_summary import ModelSummary, human_count, summarize, summary_table
from statetrainer.errors import MisconfigurationError


class Net(nn.Module):
    def __init__(self, example=False):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.head = nn.Linear(4, 1)
        self.example_input_array = torch.zeros(2, 3) if example else None

    def forward(self, x):
        return self.head(self.encoder(x))


def test_table_for_a_known_model():
    assert summary_table(Net()) == "\n".join([
        "  | Name    | Type       | Params | Mode ",
        "-" * 41,
        "0 | encoder | Sequential | 16     | train",
        "1 | head    | Linear     | 5      | train",
        "-" * 41,
        "21        Trainable params",
        "0         Non-trainable params",
        "21        Total params",
        "0.000     Total estimated model params size (MB)",
        "4         Modules in train mode",
        "0         Modules in eval mode",
    ])


def test_depth_sizes_frozen_parameters_eval_mode_and_other_params():
    net = Net(example=True)
    net.scale = nn.Parameter(torch.ones(3))  # belongs to no submodule
    net.head.requires_grad_(False)
    net.encoder.eval()
    lines = summary_table(net, max_depth=-1).splitlines()
    assert lines[0] == "  | Name      | Type       | Params | Mode  | In sizes | Out sizes"
    assert lines[1] == "-" * 66
    assert lines[2:8] == [
        "0 | encoder   | Sequential | 16     | eval  | [2, 3]   | [2, 4]   ",
        "1 | encoder.0 | Linear     | 16     | eval  | [2, 3]   | [2, 4]   ",
        "2 | encoder.1 | ReLU       | 0      | eval  | [2, 4]   | [2, 4]   ",
        "3 | head      | Linear     | 5      | train | [2, 4]   | [2, 1]   ",
        "-" * 66,
        "19        Trainable params",
    ]
    assert lines[8:13] == ["5         Non-trainable params", "24        Total params",
                           "0.000     Total estimated model params size (MB)",
                           "1         Modules in train mode", "3         Modules in eval mode"]
    assert net.head.training and not net.encoder.training  # the forward pass restored every mode
    depth1 = summary_table(net).splitlines()
    assert depth1[4] == "  | other params | n/a        | 3      | n/a   | n/a      | n/a      "


def test_depth_limits_and_precision():
    deep = nn.Sequential(nn.Sequential(nn.Sequential(nn.Linear(2, 2))))
    assert [row.name for row in summarize(deep, max_depth=2)] == ["0", "0.0"]
    assert [row.name for row in summarize(deep, max_depth=-1)] == ["0", "0.0", "0.0.0"]
    assert summarize(deep, max_depth=0) == []
    big = nn.Linear(1000, 1000)
    assert "4.004     Total estimated model params size (MB)" in summary_table(big)
    assert "2.002     Total estimated model params size (MB)" in summary_table(big, precision_bits=16)
    with pytest.raises(MisconfigurationError, match=r"`max_depth` got -2; accepted: -1 \(all levels\), 0"):
        summarize(deep, max_depth=-2)


def test_human_count():
    values = [0, 5, 123, 999, 1000, 1234, 99_999, 132_000, 2_000_000, 3e9, 4e14, 5e15]
    assert [human_count(int(v)) for v in values] == [
        "0  ", "5  ", "123  ", "999  ", "1.0 K", "1.2 K", "100.0 K", "132 K", "2.0 M", "3.0 B", "400 T", "5,000 T"]
    try:
        from lightning.pytorch.utilities.model_summary import get_human_readable_count
    except ImportError:
        return
    assert [human_count(int(v)) for v in values] == [get_human_readable_count(int(v)) for v in values]


def test_callback_prints_at_fit_start_on_rank_zero_only(capsys):
    trainer = SimpleNamespace(is_global_zero=True, precision="32-true")
    ModelSummary().on_fit_start(trainer, Net())
    assert capsys.readouterr().out.startswith("  | Name    | Type       | Params | Mode \n")
    ModelSummary(max_depth=0).on_fit_start(trainer, Net())
    ModelSummary().on_fit_start(SimpleNamespace(is_global_zero=False, precision="32-true"), Net())
    assert capsys.readouterr().out == ""
    ModelSummary(max_depth=-1).on_fit_start(SimpleNamespace(is_global_zero=True, precision="64-true"), Net())
    assert "encoder.0" in capsys.readouterr().out
    with pytest.raises(MisconfigurationError, match="`max_depth` got 1.5"):
        ModelSummary(max_depth=1.5)


def test_same_names_types_and_counts_as_lightning():
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.utilities.model_summary import ModelSummary as LightningSummary

    class LitNet(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4))
            self.head = nn.Linear(4, 1)
            self.extra = nn.Parameter(torch.ones(5))
            self.example_input_array = torch.zeros(2, 3)

        def forward(self, x):
            return self.head(self.encoder(x))

    model = LitNet()
    model.head.requires_grad_(False)
    for depth in (1, 2, -1):
        theirs = LightningSummary(model, max_depth=depth)
        ours = summarize(model, max_depth=depth)
        assert [row.name for row in ours] == theirs.layer_names
        assert [row.type for row in ours] == theirs.layer_types
        assert [row.params for row in ours] == theirs.param_nums
        assert [row.in_size for row in ours] == theirs.in_sizes
        assert [row.out_size for row in ours] == theirs.out_sizes
        table = summary_table(model, max_depth=depth)
        for count, label in [(theirs.trainable_parameters, "Trainable params"),
                             (theirs.total_parameters - theirs.trainable_parameters, "Non-trainable params"),
                             (theirs.total_parameters, "Total params")]:
            assert f"{human_count(count):<10}{label}" in table
        assert f"{theirs.model_size:,.3f}     Total estimated model params size (MB)" in table


def test_a_trainer_prints_the_summary_at_fit_start_unless_disabled(capsys):
    import statetrainer as st
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(st.StateModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=4)
    for enabled in (True, False):
        trainer = st.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=enabled)
        trainer.fit(Tiny(), loader)
        out = capsys.readouterr().out
        assert ("0 | layer | Linear | 3      | train\n" in out) is enabled
        assert ("3         Total params" in out) is enabled
