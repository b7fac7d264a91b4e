"""The demo through StateCLI: ``python -m statetrainer.demos.transformer fit --config demo.yaml``.

The same model, data and report as the plain command line, with LightningCLI's surface: the
subcommands, config files, ``--print_config`` and dotted options (``--model.d_model=128``,
``--data.batch_size=64``, ``--trainer.max_epochs=2``). The model's vocabulary size and window
length come from the data module through ``link_arguments``.
"""
from __future__ import annotations

import time
from typing import Any, Optional

import torch

from statetrainer.cli import StateCLI
from statetrainer.demos.data import CorpusDataModule
from statetrainer.demos.history import ValidationLossHistory
from statetrainer.demos.model import TransformerLanguageModel
from statetrainer.demos.reporting import TRAINER_DEFAULTS, describe_setup, first_value, report, sample

__all__ = ["DemoCLI", "main"]


class DemoCLI(StateCLI):
    """StateCLI for the demo: fit also validates first, tests after, and prints the closing report."""

    def __init__(self, args: Optional[list[str]] = None, **kwargs: Any) -> None:
        self.history = ValidationLossHistory("val_loss")
        self.fit_started = 0.0
        self.start_loss: Optional[float] = None
        defaults = {**TRAINER_DEFAULTS, "callbacks": [self.history]}
        kwargs.setdefault("parser_kwargs", {"prog": "python -m statetrainer.demos.transformer"})
        super().__init__(TransformerLanguageModel, CorpusDataModule, trainer_defaults=defaults,
                         seed_everything_default=42, args=args, **kwargs)

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--sample_words", type=int, default=40, help="words to generate at the end of fit")
        parser.add_argument("--num_threads", type=int, default=1,
                            help="torch CPU threads; 0 keeps torch's own choice")
        parser.link_arguments("data.seq_len", "model.seq_len")
        parser.link_arguments("data.vocab_size", "model.vocab_size", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        threads = self._get(self.config, "num_threads")
        if threads and threads > 0:
            torch.set_num_threads(threads)

    def before_fit(self) -> None:
        print(describe_setup(self.datamodule, self.model))
        results = self.trainer.validate(self.model, datamodule=self.datamodule, verbose=False)
        self.start_loss = first_value(results, "val_loss")
        self.history.values.clear()  # keep only the runs inside fit
        self.fit_started = time.perf_counter()

    def after_fit(self) -> None:
        seconds = time.perf_counter() - self.fit_started
        test = first_value(self.trainer.test(self.model, datamodule=self.datamodule, verbose=False), "test_loss")
        print(f"fit: {self.trainer.global_step} optimizer steps in {seconds:.1f} s")
        print(report(self.trainer, self.history.values, self.start_loss, test))
        print(sample(self.model, self.datamodule, self._get(self.config, "sample_words")))


def main(argv: Optional[list[str]] = None) -> int:
    DemoCLI(args=argv)
    return 0
