"""The state of a data source, as plain data: the random generators a DataLoader draws its order from,
and the own `state_dict()` of a stateful loader, batch sampler, sampler or dataset.

A `torch.utils.data.DataLoader(shuffle=True, generator=g)` draws its order (and its workers' seeds)
from `g`; a sampler built with `generator=` does the same. Putting those generators back where they
were at the start of an epoch and iterating again yields the same batches in the same order, which
is how a resume replays an epoch up to the saved batch. An object with both `state_dict()` and
`load_state_dict()` (a stateful dataset, sampler or loader) is asked for its state instead, which
lets a resume continue it without replaying.

A CombinedLoader (several train loaders) is captured loader by loader. It always resumes by replay:
its loaders are put back to their epoch-start state (generators and own states) and the combined
batches are read again up to the saved one, which holds whatever mix of stateful and plain loaders
it combines (a stateful loader alone could continue, its plain neighbours could not).
"""
from __future__ import annotations

from typing import Any, Iterator

import torch

from statetrainer.utilities.combined_loader import CombinedLoader

__all__ = ["capture", "restore", "is_stateful"]


def _parts(loader: Any) -> Iterator[tuple[str, Any]]:
    """(role, object) for the loader and what it draws from, each object once."""
    seen: set[int] = set()
    batch_sampler = getattr(loader, "batch_sampler", None)
    candidates = (("loader", loader), ("batch_sampler", batch_sampler), ("sampler", getattr(loader, "sampler", None)),
                  ("batch_sampler.sampler", getattr(batch_sampler, "sampler", None)),
                  ("dataset", getattr(loader, "dataset", None)))
    for role, obj in candidates:
        if obj is not None and id(obj) not in seen:
            seen.add(id(obj))
            yield role, obj


def _has_state(obj: Any) -> bool:
    return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None)) \
        and not isinstance(obj, torch.nn.Module)


def is_stateful(loader: Any) -> bool:
    """Some part of `loader` keeps its own position (it has state_dict and load_state_dict), so a resume
    can continue it without replaying (never for a CombinedLoader: see the module doc)."""
    if isinstance(loader, CombinedLoader):
        return False
    return any(_has_state(obj) for _, obj in _parts(loader))


def capture(loader: Any) -> dict[str, Any]:
    """{"generators": {role: ByteTensor}, "states": {role: state_dict}} for `loader`; for a
    CombinedLoader {"loaders": [that, for each of its loaders in order]}."""
    if isinstance(loader, CombinedLoader):
        return {"loaders": [capture(part) for part in loader.flattened]}
    generators: dict[str, torch.Tensor] = {}
    states: dict[str, Any] = {}
    seen: set[int] = set()
    for role, obj in _parts(loader):
        generator = getattr(obj, "generator", None)
        if isinstance(generator, torch.Generator) and id(generator) not in seen:
            seen.add(id(generator))
            generators[role] = generator.get_state()
        if _has_state(obj):
            states[role] = obj.state_dict()
    return {"generators": generators, "states": states}


def restore(loader: Any, state: dict[str, Any] | None, stateful: bool = True) -> None:
    """Put `state` (from `capture`) back into `loader`; `stateful=False` restores the generators only."""
    if not state:
        return
    if isinstance(loader, CombinedLoader):
        for part, part_state in zip(loader.flattened, state.get("loaders", ())):
            restore(part, part_state, stateful)
        return
    parts = dict(_parts(loader))
    for role, generator_state in state.get("generators", {}).items():
        generator = getattr(parts.get(role), "generator", None)
        if isinstance(generator, torch.Generator):
            generator.set_state(generator_state)
    if stateful:
        for role, own_state in state.get("states", {}).items():
            if role in parts and _has_state(parts[role]):
                parts[role].load_state_dict(own_state)
