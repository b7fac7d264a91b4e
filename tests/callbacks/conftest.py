"""Every test here leaves the console as it found it: no progress bar registered after a run."""
import pytest

from statetrainer.console import CONSOLE


@pytest.fixture(autouse=True)
def _no_bar_left_on_the_console():
    before = CONSOLE.bars
    yield
    assert CONSOLE.bars == before, "a progress bar stayed registered with the console after its run"
