"""A StateCLI program for the tests that run the command line in a subprocess:
``python -m tests.cli.program fit --trainer.max_epochs=1 ...``."""
from statetrainer.cli import StateCLI
from tests.cli.models import RandomData, Regressor

if __name__ == "__main__":
    StateCLI(Regressor, RandomData)
