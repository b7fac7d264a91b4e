"""Generate docs/fsm.md (from statetrainer/machine), docs/signals.md (from the signal catalogue) and
docs/flags.md (from the Trainer's flag table and the CLI's types for it).

    .venv/bin/python tests/core/gen_docs.py          # rewrite the files
    .venv/bin/python tests/core/gen_docs.py --check  # exit 1 if any is stale

tests/core/test_docs_current.py fails when a committed file differs from what this prints.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from statetrainer.machine.diagram import markdown_table, mermaid  # noqa: E402
from statetrainer.machine.table import STATES, TRANSITIONS  # noqa: E402
from statetrainer.signals import CATALOGUE  # noqa: E402
from statetrainer.trainer.flags import FLAG_HELP  # noqa: E402

COMMAND = "`.venv/bin/python tests/core/gen_docs.py`"
TARGETS = {"cb": "Callback", "mod": "StateModule", "dm": "DataModule"}


def fsm_md() -> str:
    return "\n".join([
        "# The loop machine",
        "",
        f"Generated from `statetrainer/machine/table.py` by {COMMAND}; do not edit by hand",
        "(tests/core/test_docs_current.py fails when this file is stale).",
        "",
        f"{len(STATES)} states, {len(TRANSITIONS)} transition rows. Read a row as: when the action of the",
        "source state returns the trigger, the machine goes to the destination if every guard holds;",
        "rows with the same trigger and source are tried in order and the first whose guards hold fires.",
        "`trainer.state.current` is the state name, `trainer.state.history` the recent transitions and",
        "`trainer.state.diagram()` this diagram with the current state highlighted.",
        "",
        "```mermaid",
        mermaid(),
        "```",
        "",
        markdown_table(),
        "",
    ])


def _payload(signal) -> str:
    if not signal.fields:
        return "-"
    # a `|` inside a table cell must be escaped, even in a code span
    return ", ".join(f"`{name}: {signal.field_types[name]}`".replace("|", "\\|") for name in signal.fields)


def signals_md() -> str:
    lines = [
        "# Signals",
        "",
        f"Generated from `statetrainer/signals.py` by {COMMAND}; do not edit by hand",
        "(tests/core/test_docs_current.py fails when this file is stale).",
        "",
        "One blinker signal per hook name, `statetrainer.signals.<name>`. A receiver is called as",
        "`receiver(trainer, **payload)`: the sender is the trainer, the payload fields are the hook's",
        "arguments without `trainer`/`module` (for the `*_step` signals, plus the step's `outputs`).",
        "",
        "- `signal.connect(fn)` receives from every trainer; `signal.connect(fn, sender=trainer)` from one.",
        "  blinker holds these receivers by weak reference: keep the function alive or pass `weak=False`.",
        "- `@trainer.on(signal, every=N, once=False)` connects strongly for one trainer and filters",
        "  firings (every N-th, or only the first); the decorated function gets `.disconnect()`.",
        "- A receiver that cannot be called as `fn(sender, **payload)` is refused when it connects",
        "  (MisconfigurationError naming the signal and the fields).",
        "- A signal fires after the callbacks and the module have run the hook of the same name (for",
        "  setup/teardown/on_exception also the datamodule). It is built and sent only when it has",
        "  receivers. The batch-transfer hooks run on the CPU only when the module or datamodule",
        "  overrides them, so `transfer_batch_to_device` fires there only with an override.",
        "- A receiver controls the loop only as a hook can: `trainer.should_stop = True` (subject to",
        "  min_steps/min_epochs) or raising (the run ends in `failed`, on_exception and teardown run, the",
        "  exception is re-raised; KeyboardInterrupt/SIGTERM end it in `interrupted` and fit returns).",
        "",
        "Targets: which user objects implement the hook (Callback method `hook(trainer, module, ...)`,",
        "StateModule hook, DataModule hook).",
        "",
        "| signal | payload | targets | description |",
        "|---|---|---|---|",
    ]
    for name, signal in CATALOGUE.items():
        targets = ", ".join(TARGETS[t] for t in ("cb", "mod", "dm") if t in signal.targets)
        lines.append(f"| `{name}` | {_payload(signal)} | {targets} | {signal.__doc__} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _flag_rows() -> list[str]:
    from statetrainer.cli.trainer_types import FLAG_TYPES
    from statetrainer.cli.type_words import describe_type
    rows = ["| flag | default | accepted | what it does |", "|---|---|---|---|"]
    for name, (default, help_text) in FLAG_HELP.items():
        rows.append(f"| `{name}` | `{default!r}` | {_cell(describe_type(FLAG_TYPES[name]))} | {_cell(help_text)} |")
    return rows


def _subcommand_rows() -> list[str]:
    from statetrainer.cli.trainer_arguments import SUBCOMMAND_ARGUMENTS
    from statetrainer.cli.type_words import describe_type
    rows = ["| subcommand | option | default | accepted | what it does |", "|---|---|---|---|---|"]
    for subcommand, arguments in SUBCOMMAND_ARGUMENTS.items():
        for name, annotation, default, help_text in arguments:
            rows.append(f"| `{subcommand}` | `--{name}` | `{default!r}` | {_cell(describe_type(annotation))} | "
                        f"{_cell(help_text)} |")
    return rows


def flags_md() -> str:
    return "\n".join([
        "# Trainer flags",
        "",
        f"Generated from `statetrainer/trainer/flags.py` (defaults, help) and `statetrainer/cli/trainer_types.py`",
        f"(accepted values) by {COMMAND}; do not edit by hand (tests/core/test_docs_current.py fails",
        "when this file is stale).",
        "",
        f"The {len(FLAG_HELP)} keyword arguments of `Trainer(...)`. The same names work as `--name value` with",
        "`Trainer.add_argparse_args`, and as `--trainer.name=value` or under `trainer:` in a config file",
        "with `StateCLI` (docs/cli.md). A default of `None` means \"the Trainer decides\"; the text says what",
        "it decides. A value outside the accepted ones is refused when the Trainer is built, with an error",
        "naming the flag, the value and what is accepted. Classes (`Callback`, `Logger`, ...) are given in",
        "a config file as `class_path` (and `init_args`).",
        "",
        *_flag_rows(),
        "",
        "## Subcommand options (StateCLI)",
        "",
        "The arguments of `trainer.fit/validate/test/predict` that the command line sets; the model and the",
        "data module come from the config.",
        "",
        *_subcommand_rows(),
        "",
    ])


DOCS = {"docs/fsm.md": fsm_md, "docs/signals.md": signals_md, "docs/flags.md": flags_md}


def stale() -> list[str]:
    """The generated files whose committed text differs from what the code generates now."""
    out = []
    for rel, make in DOCS.items():
        path = ROOT / rel
        if not path.exists() or path.read_text() != make():
            out.append(rel)
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        for rel in bad:
            print(f"{rel} is stale: run {COMMAND}")
        return 1 if bad else 0
    for rel, make in DOCS.items():
        (ROOT / rel).write_text(make())
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
