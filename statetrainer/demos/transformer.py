"""Train the demo Transformer language model: ``python -m statetrainer.demos.transformer``.

Every Trainer flag is accepted on the command line (``--max_epochs 3``, ``--accelerator cpu``,
``--limit_train_batches 0.5`` ...), next to the model's and the data's own arguments. The
defaults train for about a minute on two CPU cores (600 steps); ``--help`` lists everything.

Starting with a subcommand runs the same demo through StateCLI instead (config files, dotted
options; needs ``pip install "statetrainer[cli]"``): ``python -m statetrainer.demos.transformer
fit --config demo.yaml --trainer.max_epochs=2``; ``fit --help`` lists those options.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import statetrainer as st
from statetrainer.demos.data import CorpusDataModule
from statetrainer.demos.history import ValidationLossHistory
from statetrainer.demos.model import TransformerLanguageModel
from statetrainer.demos.reporting import TRAINER_DEFAULTS, describe_setup, first_value, report, sample


DATA_ARGS = ("seq_len", "batch_size", "train_stride")
MODEL_ARGS = ("d_model", "n_heads", "n_layers", "d_ff", "dropout", "lr", "weight_decay", "warmup_steps")
SUBCOMMANDS = ("fit", "validate", "test", "predict")


def build_parser() -> argparse.ArgumentParser:
    """The demo's own arguments plus every Trainer flag, with the demo's defaults."""
    parser = argparse.ArgumentParser(
        prog="python -m statetrainer.demos.transformer",
        description="Train a small Transformer language model on the shipped machines corpus.",
        epilog="The same demo with config files: python -m statetrainer.demos.transformer fit --help",
    )
    group = parser.add_argument_group("demo")
    group.add_argument("--seed", type=int, default=42, help="seed for every random generator")
    group.add_argument("--seq_len", type=int, default=32, help="tokens per training window")
    group.add_argument("--batch_size", type=int, default=32)
    group.add_argument("--train_stride", type=int, default=4, help="tokens between window starts")
    group.add_argument("--d_model", type=int, default=64, help="embedding width")
    group.add_argument("--n_heads", type=int, default=4, help="attention heads per layer")
    group.add_argument("--n_layers", type=int, default=2, help="Transformer encoder layers")
    group.add_argument("--d_ff", type=int, default=128, help="feed-forward width")
    group.add_argument("--dropout", type=float, default=0.1)
    group.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate")
    group.add_argument("--weight_decay", type=float, default=0.01)
    group.add_argument("--warmup_steps", type=int, default=30, help="linear learning-rate warm-up")
    group.add_argument("--sample_words", type=int, default=40, help="words to generate at the end")
    group.add_argument("--record", default=None, metavar="FILE",
                       help="write what the run printed and how long fit took to this JSON file "
                       "(make demo: docs/figures/demo.json, which the docs quote)")
    group.add_argument(
        "--num_threads", type=int, default=1,
        help="torch CPU threads; 0 keeps torch's own choice (a model this small gains little from "
        "more threads, and loses a lot when other jobs share the cores)",
    )
    st.Trainer.add_argparse_args(parser)
    parser.set_defaults(**TRAINER_DEFAULTS)
    show_actual_defaults(parser)
    return parser


def show_actual_defaults(parser: argparse.ArgumentParser) -> None:
    """Make each option's "(default: ...)" show the parser's default, not the Trainer's."""
    for action in parser._actions:
        if action.help and "(default: " in action.help:
            text = action.help[: action.help.rindex("(default: ")].replace("%", "%%")
            action.help = text + "(default: %(default)r)"


def build(args: argparse.Namespace):
    """The data module, the model, the trainer and the loss-history callback for ``args``."""
    datamodule = CorpusDataModule(**{name: getattr(args, name) for name in DATA_ARGS})
    model = TransformerLanguageModel(
        vocab_size=datamodule.vocab_size,
        seq_len=args.seq_len,
        **{name: getattr(args, name) for name in MODEL_ARGS},
    )
    history = ValidationLossHistory("val_loss")
    callbacks = list(getattr(args, "callbacks", None) or []) + [history]
    trainer = st.Trainer.from_argparse_args(args, callbacks=callbacks)
    return datamodule, model, trainer, history


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        from statetrainer.demos.cli import main as cli_main
        return cli_main(argv)
    args = build_parser().parse_args(argv)
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    st.seed_everything(args.seed)
    datamodule, model, trainer, history = build(args)
    setup = describe_setup(datamodule, model)
    print(setup)
    start = first_value(trainer.validate(model, datamodule=datamodule, verbose=False), "val_loss")
    history.values.clear()  # keep only the runs inside fit
    began = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    seconds = time.perf_counter() - began
    test = first_value(trainer.test(model, datamodule=datamodule, verbose=False), "test_loss")
    summary = "\n".join([f"fit: {trainer.global_step} optimizer steps in {seconds:.1f} s",
                         report(trainer, history.values, start, test), sample(model, datamodule, args.sample_words)])
    print(summary)
    if args.record:
        from statetrainer.demos.record import write_record
        write_record(args.record, argv, [setup, *summary.splitlines()], seconds, trainer.global_step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
