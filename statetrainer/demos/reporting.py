"""What the demo prints and the defaults both of its entries share (the flags and the CLI)."""
from __future__ import annotations

import math

from statetrainer.demos.data import CorpusDataModule
from statetrainer.demos.model import TransformerLanguageModel

__all__ = ["PROMPT", "TRAINER_DEFAULTS", "first_value", "describe_setup", "report", "checkpoint_text", "sample",
           "fmt"]

PROMPT = "a new pump starts in the"
TRAINER_DEFAULTS = {"max_epochs": 4, "limit_train_batches": 150, "log_every_n_steps": 20}


def first_value(results: list, key: str) -> float | None:
    """``key`` from the first metrics dict that validate/test returned, if any."""
    for metrics in results or []:
        if key in metrics:
            return float(metrics[key])
    return None

def describe_setup(datamodule: CorpusDataModule, model: TransformerLanguageModel) -> str:
    paragraphs = datamodule.text.count("\n")
    words = len(datamodule.text.split())
    params = sum(p.numel() for p in model.parameters())
    return (
        f"corpus: {paragraphs} paragraphs, {words} words, vocabulary of {datamodule.vocab_size}; "
        f"model: {params} parameters"
    )

def report(trainer, values: list[float], start: float | None, test: float | None) -> str:
    """The closing summary: losses, why fit stopped, where logs and checkpoints went."""
    end = values[-1] if values else None
    curve = " ".join(f"{v:.3f}" for v in values) or "none recorded"
    lines = [
        f"validation loss: {fmt(start)} at the start -> {fmt(end)} at the end "
        f"(after each validation in fit: {curve})",
        f"test loss: {fmt(test)} (perplexity {fmt(math.exp(test) if test is not None else None)})",
        f"stop reason: {getattr(getattr(trainer, 'state', None), 'stop_reason', None) or 'not reported'}",
        f"logs: {getattr(trainer, 'log_dir', None) or 'none (no logger)'}",
        f"checkpoints: {checkpoint_text(getattr(trainer, 'checkpoint_callback', None))}",
    ]
    return "\n".join(lines)

def checkpoint_text(callback) -> str:
    if callback is None:
        return "none (checkpointing disabled)"
    best = getattr(callback, "best_model_path", "") or "none written"
    return f"{getattr(callback, 'dirpath', None)} (best: {best})"

def sample(model: TransformerLanguageModel, datamodule: CorpusDataModule, words: int) -> str:
    """A greedy continuation of ``PROMPT`` by the trained model."""
    vocab = datamodule.vocab
    prompt = vocab.encode(PROMPT)[:-1]
    ids = model.generate(prompt, words, stop_token=vocab.ids[vocab.EOS])
    return f'sample (greedy, prompt "{PROMPT}"):\n  {vocab.decode(ids).strip()}'


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

