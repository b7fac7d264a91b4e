"""statetrainer.utilities: rank-zero helpers, seeding, is_overridden, grad_norm, enums, hparams YAML helpers."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import warnings
from argparse import Namespace
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

import statetrainer as st
from statetrainer.core.saving import load_hparams_from_yaml, save_hparams_to_yaml
from statetrainer.utilities import (AttributeDict, GradClipAlgorithmType, grad_norm, is_overridden, is_picklable,
                                    isolate_rng, rank_zero_only, reset_seed, seed_everything)
from statetrainer.utilities import rank_zero
from tests.core.helpers import QUIET, Tiny, loader, tiny_class

ROOT = Path(__file__).resolve().parents[2]


def _in_subprocess(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "SLURM_PROCID")}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT, capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


RANK_PROBE = ("import warnings; warnings.simplefilter('always')\n"
              "from statetrainer.utilities.rank_zero import rank_zero_only, rank_zero_warn\n"
              "f = rank_zero_only(lambda: 'ran', default='skipped')\n"
              "with warnings.catch_warnings(record=True) as w:\n"
              "    rank_zero_warn('hello')\n"
              "print(rank_zero_only.rank, f(), len(w))")


@pytest.mark.parametrize("env,expected", [({}, None), ({"RANK": "2", "LOCAL_RANK": "0"}, 2),
                                          ({"LOCAL_RANK": "1", "SLURM_PROCID": "0"}, 1), ({"SLURM_PROCID": "3"}, 3),
                                          ({"JSM_NAMESPACE_RANK": "4"}, 4)])
def test_rank_variables_are_read_in_lightning_order(monkeypatch, env, expected):
    for name in rank_zero._RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert rank_zero._rank_from_environment() == expected


@pytest.mark.slow
def test_a_process_started_with_a_rank_skips_rank_zero_code():
    assert _in_subprocess(RANK_PROBE, RANK="2") == "2 skipped 0"


def test_rank_zero_only_rank_is_settable():
    calls = []
    fn = rank_zero_only(lambda x: calls.append(x) or x)
    with mock.patch.object(rank_zero_only, "rank", 3):
        assert fn(1) is None
    assert fn(2) == 2 and calls == [2]
    with mock.patch.object(rank_zero_only, "rank", None), pytest.raises(RuntimeError, match="rank_zero_only.rank"):
        fn(3)


def test_rank_zero_messages():
    with pytest.warns(UserWarning, match="careful"):
        rank_zero.rank_zero_warn("careful")
    with pytest.warns(rank_zero.LightningDeprecationWarning, match="old"):
        rank_zero.rank_zero_deprecation("old")
    cache = rank_zero.WarningCache()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cache.warn("once")
        cache.warn("once")
    assert len(seen) == 1 and rank_zero.rank_prefixed_message("m", 1) == "[rank: 1] m"


def test_rank_zero_info_logs(caplog):
    with caplog.at_level("INFO", logger="statetrainer.utilities.rank_zero"):
        rank_zero.rank_zero_info("visible")
        with mock.patch.object(rank_zero_only, "rank", 1):
            rank_zero.rank_zero_info("hidden")
    assert "visible" in caplog.text and "hidden" not in caplog.text


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seeding_matches_lightning():
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.fabric.utilities.seed import reset_seed as pl_reset_seed
    from lightning.pytorch.utilities.seed import isolate_rng as pl_isolate
    runs = []
    for seed_fn, reset, isolate in ((seed_everything, reset_seed, isolate_rng),
                                    (pl.seed_everything, pl_reset_seed, pl_isolate)):
        seed_fn(123, verbose=False)
        first = _draws()
        reset()
        again = _draws()
        with isolate():
            _draws()
        after = _draws()
        runs.append((first, again, after))
    assert runs[0] == runs[1] and runs[0][0] == runs[0][1]


def test_seed_everything_without_a_seed(monkeypatch):
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    with pytest.warns(UserWarning, match="no seed"):
        assert seed_everything() == 0
    monkeypatch.setenv("PL_GLOBAL_SEED", "nope")
    with pytest.raises(ValueError, match="PL_GLOBAL_SEED"):
        seed_everything()
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    assert seed_everything(verbose=False) == 7


def test_is_overridden_agrees_with_lightning():
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.utilities.model_helpers import is_overridden as pl_is_overridden
    for base, cb, dm, check in ((st.StateModule, st.Callback, st.DataModule, is_overridden),
                                (pl.LightningModule, pl.Callback, pl.LightningDataModule, pl_is_overridden)):
        model = tiny_class(base)()
        results = [check(name, model) for name in ("training_step", "on_fit_start", "on_fit_end", "test_step")]

        class CB(cb):
            def on_train_start(self, trainer, module):
                pass
        results += [check("on_train_start", CB()), check("on_train_end", CB()), check("setup", dm()),
                    check("x", None)]
        mocked = CB()
        mocked.on_train_end = mock.Mock(wraps=CB.on_train_start)
        results.append(check("on_train_end", mocked))
        if check is is_overridden:
            ours = results
    assert ours == results == [True, True, False, True, True, False, False, False, True]
    with pytest.raises(ValueError, match="parent"):
        is_overridden("x", object())


def test_grad_norm_matches_lightning():
    pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.utilities import grad_norm as pl_grad_norm
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1, bias=False))
    net(torch.randn(4, 3)).sum().backward()
    net[0].bias.grad = None
    for p in (2, 1, "inf"):
        ours, theirs = grad_norm(net, p), pl_grad_norm(net, p)
        assert list(ours) == list(theirs)
        for key in ours:
            torch.testing.assert_close(ours[key], theirs[key].to(ours[key].dtype))
    with pytest.raises(ValueError, match="norm_type"):
        grad_norm(net, 0)


def test_grad_clip_algorithm_enum_is_accepted_by_the_trainer():
    assert GradClipAlgorithmType.supported_types() == ["value", "norm"]
    assert GradClipAlgorithmType.supported_type("norm") and not GradClipAlgorithmType.supported_type("x")
    trainer = st.Trainer(max_steps=1, gradient_clip_val=0.1, gradient_clip_algorithm=GradClipAlgorithmType.VALUE,
                         **QUIET)
    trainer.fit(Tiny(), loader())
    assert trainer.global_step == 1


def test_hparams_yaml_round_trip_and_lightning_reads_it(tmp_path):
    path = tmp_path / "hparams.yaml"
    save_hparams_to_yaml(path, Namespace(lr=0.1, layers=[2, 3], name="x"))
    assert load_hparams_from_yaml(path) == {"lr": 0.1, "layers": [2, 3], "name": "x"}
    save_hparams_to_yaml(str(path), AttributeDict(a=1))
    assert load_hparams_from_yaml(str(path)) == {"a": 1}
    with pytest.warns(RuntimeWarning, match="does not exist"):
        assert load_hparams_from_yaml(tmp_path / "missing.yaml") == {}
    with pytest.raises(RuntimeError, match="folder"):
        save_hparams_to_yaml(tmp_path / "no" / "h.yaml", {"a": 1})
    saving = pytest.importorskip("lightning.pytorch.core.saving")
    assert dict(saving.load_hparams_from_yaml(str(path), use_omegaconf=False)) == {"a": 1}


def test_is_picklable():
    assert is_picklable({"a": [1, 2]}) and not is_picklable(lambda: 0)
