"""A training process killed with SIGKILL resumes with ckpt_path="last" and ends with the uninterrupted weights.

Each run is a real subprocess (tests/faults/fault_script.py). The kills are real SIGKILLs: no
handler, no cleanup, no flush. The script kills itself at an exact point (mid-epoch, inside
validation, half-way through writing a checkpoint file), or the test kills it from outside at an
arbitrary moment. (A kill inside the validation that directly follows a checkpoint is covered in
process by tests/checkpoint/test_resume.py.)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from statetrainer.checkpoint import io

SCRIPT = os.path.join(os.path.dirname(__file__), "fault_script.py")
pytestmark = pytest.mark.slow


def _run(root, *args: str, expect_kill: bool = False) -> None:
    done = subprocess.run([sys.executable, SCRIPT, str(root), *args], capture_output=True, text=True, timeout=300)
    if expect_kill:
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    else:
        assert done.returncode == 0, done.stderr[-3000:]


def _progress(root) -> list[str]:
    path = os.path.join(root, "progress.txt")
    return open(path, encoding="utf-8").read().split("\n")[:-1] if os.path.exists(path) else []


def _final(root) -> dict:
    return torch.load(os.path.join(root, "final.pt"), weights_only=True)


def _same(left: dict, right: dict) -> bool:
    return left.keys() == right.keys() and all(torch.equal(left[key], right[key]) for key in left)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: the script's own main(), in this process (the code path is the same)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    from tests.faults import fault_script
    argv = sys.argv
    sys.argv = [SCRIPT, str(root)]
    try:
        fault_script.main()
    finally:
        sys.argv = argv
    assert _progress(root)[-1] == "status finished interrupted=False step 30"
    return _final(root)


def test_killed_mid_epoch_in_validation_and_mid_write_then_resumed(tmp_path, reference):
    ck = tmp_path / "ck"
    _run(tmp_path, "--kill", "batch:14", expect_kill=True)  # mid-epoch 1, last.ckpt holds step 12
    assert _progress(tmp_path)[-1] == "step 14" and io.load(ck / "last.ckpt")["global_step"] == 12

    _run(tmp_path, "--resume", "--kill", "val:20", expect_kill=True)  # inside the epoch-1 validation
    assert _progress(tmp_path)[-2:] == ["step 19", "val 20"] and io.load(ck / "last.ckpt")["global_step"] == 18

    # writes of this process: step=21.ckpt, last.ckpt, step=24.ckpt, then last.ckpt (the 4th) dies half-way
    _run(tmp_path, "--resume", "--kill", "write:4", expect_kill=True)
    leftovers = [name for name in os.listdir(ck) if name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".last.ckpt.")
    assert io.load(ck / "last.ckpt")["global_step"] == 21  # the previous last file is intact

    _run(tmp_path, "--resume")
    assert _progress(tmp_path)[-1] == "status finished interrupted=False step 30"
    assert _same(_final(tmp_path), reference)
    assert not [name for name in os.listdir(ck) if name.endswith(".tmp")]  # the dead writer's temporary is gone


def test_killed_from_outside_at_an_arbitrary_moment(tmp_path, reference):
    process = subprocess.Popen([sys.executable, SCRIPT, str(tmp_path), "--sleep", "0.02"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while "step 16" not in _progress(tmp_path) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not os.path.exists(tmp_path / "final.pt")
    _run(tmp_path, "--resume")
    assert _same(_final(tmp_path), reference)
