"""Mermaid text for the table (no graphviz needed)."""
from __future__ import annotations

from statetrainer.machine.table import RUNNING, STATES, TRANSITIONS

__all__ = ["mermaid", "markdown_table"]


def mermaid(current: str | None = None) -> str:
    """A `stateDiagram-v2` of every state and transition; `current` is highlighted."""
    lines = ["stateDiagram-v2", "    [*] --> idle"]
    for trigger, source, dest, guards in TRANSITIONS:
        label = trigger + (f" [{' & '.join(guards)}]" if guards else "")
        if isinstance(source, list) and set(source) >= set(RUNNING):
            lines.append(f"    running --> {dest}: {label}")
            continue
        for src in (source if isinstance(source, list) else [source]):
            lines.append(f"    {src} --> {dest}: {label}")
    lines.append('    note right of running: "running" = any state from setup to teardown')
    for terminal in ("finished", "interrupted", "failed"):
        lines.append(f"    {terminal} --> [*]")
    if current:
        lines.append("    classDef current fill:#f96")
        lines.append(f"    class {current} current")
    return "\n".join(lines)


def markdown_table() -> str:
    """The states with their signals, and the transitions with their guards, as Markdown tables."""
    out = ["| state | stage | signals emitted by its action | meaning |", "|---|---|---|---|"]
    for s in STATES:
        out.append(f"| `{s.name}` | {s.stage or '(fn)'} | {', '.join(s.signals) or '-'} | {s.doc} |")
    out += ["", "| trigger | from | to | guards |", "|---|---|---|---|"]
    for trigger, source, dest, guards in TRANSITIONS:
        src = "any running state" if isinstance(source, list) and set(source) >= set(RUNNING) else (
            ", ".join(source) if isinstance(source, list) else source)
        out.append(f"| `{trigger}` | {src} | `{dest}` | {', '.join(guards) or '-'} |")
    return "\n".join(out)
