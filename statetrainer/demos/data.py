"""The demo's DataModule: the shipped corpus cut into train / val / test token windows."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.demos.corpus import CORPUS_FILE, read_corpus
from statetrainer.demos.tokenizer import Vocabulary
from statetrainer.demos.windows import TokenWindows


class CorpusDataModule(st.DataModule):
    """Next-token windows over ``corpus.txt``, split by paragraph.

    The last ``test_fraction`` of the paragraphs is the test set, the ``val_fraction`` before
    it the validation set, the rest the training set. Training windows overlap (they start
    every ``train_stride`` tokens) and are shuffled; validation and test windows do not
    overlap and keep their order. The vocabulary is built from the whole corpus when the
    module is created, so a model can be sized from ``vocab_size`` before ``fit``.
    """

    def __init__(
        self,
        seq_len: int = 32,
        batch_size: int = 32,
        train_stride: int = 4,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        num_workers: int = 0,
        corpus_path: str | None = None,
    ) -> None:
        """
        Args:
            seq_len: tokens per window
            batch_size: windows per batch
            train_stride: tokens between the starts of two training windows
            val_fraction: share of the paragraphs used for validation
            test_fraction: share of the paragraphs used for testing
            num_workers: DataLoader worker processes
            corpus_path: a text file to train on instead of the shipped corpus
        """
        super().__init__()
        self.save_hyperparameters()
        self.text = read_corpus(Path(corpus_path) if corpus_path else CORPUS_FILE)
        self.vocab = Vocabulary.from_text(self.text)
        self.splits: dict[str, TokenWindows] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split_text(self) -> dict[str, str]:
        """The corpus's paragraphs divided into train / val / test text."""
        lines = self.text.splitlines()
        n_test = max(1, int(len(lines) * self.hparams.test_fraction))
        n_val = max(1, int(len(lines) * self.hparams.val_fraction))
        n_train = len(lines) - n_val - n_test
        parts = {
            "train": lines[:n_train],
            "val": lines[n_train : n_train + n_val],
            "test": lines[n_train + n_val :],
        }
        return {name: "\n".join(part) for name, part in parts.items()}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        seq_len = self.hparams.seq_len
        for name, text in self.split_text().items():
            tokens = torch.tensor(self.vocab.encode(text), dtype=torch.long)
            stride = self.hparams.train_stride if name == "train" else seq_len
            self.splits[name] = TokenWindows(tokens, seq_len, stride)

    def loader(self, name: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.splits[name],
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)
