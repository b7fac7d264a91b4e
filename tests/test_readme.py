"""The README's examples run as printed (and print what the README says they print)."""
import re
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    example, _, signals_block, inspect_block = _blocks()[:4]
    namespace: dict = {}
    exec(compile(example, "README:example", "exec"), namespace)
    out = capsys.readouterr().out
    assert "max_epochs=5 reached: 5 epochs completed, global_step=40." in out
    closing = [line.replace(f"{tmp_path}/", "") for line in out.splitlines() if line.startswith("Fit ended:")]
    assert closing == [line for line in README.read_text().splitlines() if line.startswith("Fit ended:")]
    exec(compile(signals_block, "README:signals", "exec"), namespace)
    trainer = namespace["trainer"]
    data = TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
    try:
        trainer.fit(namespace["Regressor"](), DataLoader(data, batch_size=8), DataLoader(data, batch_size=32))
    finally:
        st.signals.on_train_batch_end.disconnect(namespace["show"])
    out = capsys.readouterr().out
    assert "validated at" in out and "max_steps=100 reached" in out
    assert out.count("validated at") == len([t for t in trainer.state.history if t.dest == "val_end"]) // 2

    namespace.update(model=namespace["Regressor"](), train_loader=DataLoader(data, batch_size=8),
                     val_loader=DataLoader(data, batch_size=32))
    exec(compile(inspect_block, "README:inspect", "exec"), namespace)
    out = capsys.readouterr().out
    assert "fit running train train_batch" in out
    assert "state=epoch_start signal=on_train_epoch_start epoch=1 step=" in out  # trainer.trace(...)
    assert "stateDiagram-v2" in out and "max_epochs=2 reached" in out


@pytest.mark.ddp
@pytest.mark.slow
def test_readme_multi_process_example_runs_as_a_script_on_two_processes(tmp_path):
    from tests.distributed.runner import Started, clean_env
    script = tmp_path / "ddp_example.py"
    script.write_text(_blocks()[1])
    started = Started([sys.executable, str(script)], tmp_path, clean_env(), name="ddp_example", cwd=tmp_path)
    try:
        finished = started.wait(240)
    finally:
        started.close()
    assert finished.returncode == 0, finished.stderr[-3000:]
    printed = "max_epochs=3 reached: 3 epochs completed, global_step=24."
    assert finished.stdout.splitlines().count(printed) == 1 and printed in README.read_text()  # rank 0 only
    assert [p.name for p in (tmp_path / "lightning_logs").iterdir()] == ["version_0"]
