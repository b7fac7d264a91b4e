"""Interrupted for real, resumed with ckpt_path="last": bit-identical to the uninterrupted run.

Every scenario runs tests/faults/resume_run.py (Dropout, Adam + ReduceLROnPlateau on val_loss,
EarlyStopping, ModelCheckpoint(monitor, save_top_k=2, save_last) and validation twice per epoch)
until a run finishes, with a signal at one or two points on the way, and compares with the
uninterrupted run of the same data: the final weights bit for bit, the validations that completed
(in order; a SIGKILL may make one run again, a graceful stop never does), and the checkpoint files.
SIGKILL attempts run in a subprocess (nothing survives them); SIGINT / SIGTERM attempts run in this
process, where the trainer's own handler catches the signal.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from tests.faults import resume_run

SCRIPT = resume_run.__file__
pytestmark = pytest.mark.slow
DATA = ("loader_generator", "sampler_generator", "stateful")

KILLS = [  # (data, [(point, signal) per interrupted attempt]); a last attempt then runs to the end
    ("loader_generator", [("epoch_start:1", "kill")]),
    ("sampler_generator", [("after_save:2", "kill")]),
    ("stateful", [("val:15", "kill")]),
    ("loader_generator", [("write:3", "kill")]),
    ("stateful", [("batch:13", "kill"), ("val:20", "kill")]),
    ("sampler_generator", [("epoch_start:2", "kill"), ("write:1", "kill")]),
]
GRACEFUL = [
    ("loader_generator", [("epoch_start:1", "int")]),
    ("sampler_generator", [("epoch_start:2", "term")]),
    ("stateful", [("after_save:2", "int")]),
    ("loader_generator", [("after_save:3", "term")]),
    ("sampler_generator", [("val:10", "int")]),
    ("stateful", [("val:25", "term")]),
    ("loader_generator", [("write:2", "int")]),
    ("stateful", [("write:4", "term")]),
    ("sampler_generator", [("batch:7", "int")]),
    ("stateful", [("batch:22", "term")]),
    ("loader_generator", [("val:20", "int2")]),                          # Ctrl-C twice
    ("stateful", [("batch:4", "int2"), ("after_save:1", "term")]),       # two stops in one run
]


def _progress(root) -> list[str]:
    path = os.path.join(root, "progress.txt")
    return open(path, encoding="utf-8").read().split("\n")[:-1] if os.path.exists(path) else []


def _validations(root) -> list[int]:
    return [int(line.split()[1]) for line in _progress(root) if line.startswith("val_end")]


def _outcome(root) -> tuple[dict, list[int], list[str]]:
    weights = torch.load(os.path.join(root, "final.pt"), weights_only=True)
    files = sorted(name for name in os.listdir(os.path.join(root, "ck")) if not name.startswith("."))
    return weights, _validations(root), files


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    outcomes = {}
    for data in DATA:
        root = tmp_path_factory.mktemp(data)
        resume_run.run(str(root), data)
        outcomes[data] = _outcome(root)
    return outcomes


def _same(left: dict, right: dict) -> bool:
    return left.keys() == right.keys() and all(torch.equal(left[key], right[key]) for key in left)


def _killed_attempt(root, data: str, at: str, resume: bool) -> None:
    command = [sys.executable, SCRIPT, str(root), "--data", data, "--at", at, "--signal", "kill"]
    done = subprocess.run(command + (["--resume"] if resume else []), capture_output=True, text=True,
                          timeout=240, start_new_session=True)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]


def _id(case) -> str:
    data, attempts = case
    return f"{data}-" + "+".join(f"{how}@{at}" for at, how in attempts)


@pytest.mark.parametrize("case", KILLS, ids=[_id(case) for case in KILLS])
def test_sigkill_then_resume_is_exact(tmp_path, references, case):
    data, attempts = case
    for number, (at, _) in enumerate(attempts):
        _killed_attempt(tmp_path, data, at, resume=number > 0)
    resume_run.run(str(tmp_path), data, resume=True)
    weights, validations, files = _outcome(tmp_path)
    ref_weights, ref_validations, ref_files = references[data]
    assert _same(weights, ref_weights)
    assert list(dict.fromkeys(validations)) == ref_validations  # a killed run may complete one twice, none lost
    assert files == ref_files


@pytest.mark.parametrize("case", GRACEFUL, ids=[_id(case) for case in GRACEFUL])
def test_graceful_interrupt_then_resume_is_exact(tmp_path, references, capsys, case):
    data, attempts = case
    for number, (at, how) in enumerate(attempts):
        trainer = resume_run.run(str(tmp_path), data, resume=number > 0, at=at, how=how)
        assert trainer.interrupted and trainer.state.status == "interrupted"
        line = [text for text in capsys.readouterr().out.splitlines() if text.startswith("Interrupted by")]
        assert len(line) == 1 and "last.ckpt" in line[0] and "trainer.interrupted is True" in line[0], line
    trainer = resume_run.run(str(tmp_path), data, resume=True)
    assert capsys.readouterr().out.count("Restored from ") == 1
    weights, validations, files = _outcome(tmp_path)
    ref_weights, ref_validations, ref_files = references[data]
    assert _same(weights, ref_weights)
    assert validations == ref_validations  # not one validation lost, none repeated
    assert files == ref_files
