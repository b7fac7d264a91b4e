"""The CLI seeds (as LightningCLI does), which sets PL_GLOBAL_SEED / PL_SEED_WORKERS in the
environment; each test starts without them and leaves them as it found them."""
import pytest


@pytest.fixture(autouse=True)
def _clean_seed_environment(monkeypatch):
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    monkeypatch.delenv("PL_SEED_WORKERS", raising=False)
