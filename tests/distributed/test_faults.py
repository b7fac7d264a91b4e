"""A rank that dies or raises ends the whole run within seconds; the collective timeout is honoured.
(A Trainer rank that raises or is killed: test_trainer_ddp.py.)

The surviving rank is made busy in plain Python (a sleep of 60 s), where no collective can notice
the loss: only the launcher's watchers can end it. Each run has a hard limit that kills its group.
"""
import sys
import time

import pytest

from tests.distributed.runner import HARD_LIMIT_S, SCRIPTS, Started, clean_env, pid_alive, results, run_script

pytestmark = [pytest.mark.ddp, pytest.mark.slow]  # each starts processes: seconds each

WITHIN_S = 20  # "seconds, not the 30-minute collective timeout"; generous for a loaded 2-core machine


def test_a_killed_launching_process_takes_its_children_down(tmp_path):
    started = Started([sys.executable, str(SCRIPTS / "faults.py"), "--out", str(tmp_path),
                       "--mode", "kill_parent"], tmp_path, clean_env())
    try:
        finished = started.wait(HARD_LIMIT_S)
        assert finished.returncode == -9
        (busy,) = results(tmp_path, "busy1")
        deadline = time.monotonic() + WITHIN_S
        while pid_alive(busy["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(busy["pid"]), "local rank 1 outlived its killed launcher"
        assert "the launching process" in started.text("stderr") and "is gone; ending this rank" in started.text("stderr")
    finally:
        started.close()
    assert not (tmp_path / "survived1.json").exists()


def test_a_failed_launching_process_ends_its_children_after_the_grace(tmp_path):
    finished = run_script("faults.py", tmp_path, "--mode", "raise_parent")
    dying, busy = results(tmp_path, "dying0", "busy1")
    assert finished.returncode == 1 and "RuntimeError: boom on rank 0" in finished.stderr
    assert time.time() - dying["at"] < WITHIN_S and not pid_alive(busy["pid"])
    assert not (tmp_path / "survived1.json").exists()


def test_the_collective_timeout_is_honoured(tmp_path):
    finished = run_script("faults.py", tmp_path, "--mode", "timeout")
    assert finished.returncode == 0, finished.stderr[-3000:]
    (rank0,) = results(tmp_path, "rank0")
    assert rank0["error"], "the barrier returned although rank 1 never joined it"
    assert 2.5 <= rank0["waited_s"] < WITHIN_S  # DDPStrategy(timeout=timedelta(seconds=3)), not 30 minutes


def test_started_workers_a_dead_or_failed_worker_ends_the_launch(tmp_path):
    # ddp_spawn and ddp_fork share the launcher and its fault handling; fork is used here because it
    # starts in a fraction of spawn's time (no re-import per worker)
    finished = run_script("spawn_faults.py", tmp_path, "--strategy", "ddp_fork")
    assert finished.returncode == 0, finished.stderr[-3000:]
    main, killed, raised = results(tmp_path, "main", "dying-kill", "dying-raise")
    assert main["kill"][0] == "ProcessExitedException" and main["kill"][1] - killed["at"] < WITHIN_S
    assert "terminated with signal SIGKILL" in main["kill"][2]
    assert main["raise"][0] == "ProcessRaisedException" and main["raise"][1] - raised["at"] < WITHIN_S
    assert "RuntimeError: boom in worker 1" in main["raise"][2]
