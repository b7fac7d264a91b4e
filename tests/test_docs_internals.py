"""docs/internals.md names only what exists: its signature list is generated from the code, and
every ``trainer.<name>`` it says other parts may read is an attribute of a Trainer.

``python tests/test_docs_internals.py --write`` regenerates the signature list after a change.
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "internals.md"
BLOCK = re.compile(r"(<!-- signatures -->\n)(.*?)(<!-- /signatures -->)", re.S)

# the contracts docs/internals.md describes, in the order it describes them
CONTRACTS = [
    "statetrainer.loop.position.Position.state_dict", "statetrainer.loop.position.Position.load_state_dict",
    "statetrainer.loop.stopping.StopRules.request", "statetrainer.loop.stopping.StopRules.explain",
    "statetrainer.metrics.book.MetricBook", "statetrainer.metrics.book.MetricBook.log",
    "statetrainer.metrics.book.MetricBook.begin_run", "statetrainer.metrics.book.MetricBook.begin_batch",
    "statetrainer.metrics.book.MetricBook.end_batch", "statetrainer.metrics.book.MetricBook.epoch_end_reached",
    "statetrainer.metrics.book.MetricBook.end_epoch", "statetrainer.metrics.book.MetricBook.end_run",
    "statetrainer.loggers.logger.Logger.log_metrics", "statetrainer.loggers.logger.Logger.log_hyperparams",
    "statetrainer.loggers.logger.Logger.log_graph", "statetrainer.loggers.logger.Logger.save",
    "statetrainer.loggers.logger.Logger.finalize", "statetrainer.loggers.logger.Logger.after_save_checkpoint",
    "statetrainer.loggers.lifecycle.start", "statetrainer.loggers.lifecycle.finish",
    "statetrainer.profilers.profiler.Profiler.start", "statetrainer.profilers.profiler.Profiler.stop",
    "statetrainer.profilers.profiler.Profiler.profile", "statetrainer.profilers.profiler.Profiler.describe",
    "statetrainer.profilers.profiler.Profiler.setup", "statetrainer.profilers.profiler.Profiler.teardown",
    "statetrainer.checkpoint.io.save", "statetrainer.checkpoint.io.load",
    "statetrainer.checkpoint.content.save", "statetrainer.checkpoint.content.dump",
    "statetrainer.checkpoint.content.restore_modules_and_callbacks",
    "statetrainer.checkpoint.content.restore_training_state",
    "statetrainer.console.Console.show", "statetrainer.console.Console.hide", "statetrainer.console.Console.print",
]


def resolve(dotted: str):
    """The object at `dotted`: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def signature(dotted: str) -> str:
    """``name(parameters)`` with names and defaults (no annotations), ``self`` left out."""
    obj = resolve(dotted)
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = []
    for param in inspect.signature(target).parameters.values():
        if param.name == "self":
            continue
        text = {param.VAR_POSITIONAL: f"*{param.name}", param.VAR_KEYWORD: f"**{param.name}"}.get(param.kind, param.name)
        if param.default is not param.empty:
            text += f"={param.default!r}"
        params.append(text)
    return f"{dotted}({', '.join(params)})"


def render() -> str:
    return "".join(f"- `{signature(name)}`\n" for name in CONTRACTS)


def test_the_signature_list_is_generated_from_the_code():
    match = BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert match, "docs/internals.md lost its <!-- signatures --> block"
    assert match.group(2) == render(), "docs/internals.md is stale: run `python tests/test_docs_internals.py --write`"


def test_the_trainer_attributes_it_names_exist():
    import statetrainer as st

    trainer = st.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Trainer attributes"):text.index("\n## ", text.index("## Trainer attributes") + 1)]
    names = set(re.findall(r"`trainer\.(\w+)", section))
    assert len(names) > 30
    missing = sorted(name for name in names if not hasattr(type(trainer), name) and name not in vars(trainer))
    assert not missing, f"docs/internals.md names trainer attributes that do not exist: {missing}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_docs_internals.py --write")
    sys.path.insert(0, str(ROOT))
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(BLOCK.sub(lambda m: m.group(1) + render() + m.group(3), text), encoding="utf-8")
    print("rewrote the signature list of docs/internals.md")
