"""The PyTorchProfiler's arguments: checked once, when it is built, each bad one refused in one sentence."""
from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.autograd.profiler_util import EventList
from torch.profiler import ProfilerAction, ProfilerActivity

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["SORT_KEYS", "Settings", "resolve", "default_activities"]

#: the table orders accepted by ``sort_by_key``: Lightning's nine and torch's other totals
SORT_KEYS = frozenset({
    "cpu_time", "cuda_time", "cpu_time_total", "cuda_time_total", "cpu_memory_usage", "cuda_memory_usage",
    "self_cpu_memory_usage", "self_cuda_memory_usage", "count",
    "self_cpu_time_total", "self_cuda_time_total", "device_time", "device_time_total", "self_device_time_total",
    "device_memory_usage", "self_device_memory_usage", "flops",
})
_OWN_KEYS = ("export_to_flame_graph", "metric")  # read by the PyTorchProfiler, not passed to torch


@dataclass
class Settings:
    torch_kwargs: dict[str, Any]          # for torch.profiler.profile, less the schedule
    schedule: Callable[[int], ProfilerAction] | None
    default_schedule: bool                # the user gave no schedule
    own_trace_handler: bool               # the user gave no on_trace_ready: the profiler exports
    flame_graph: bool
    metric: str
    sort_by_key: str
    table_kwargs: dict[str, Any]
    group_by_input_shapes: bool


def default_activities() -> list[ProfilerActivity]:
    """The CPU, and CUDA when this machine has it."""
    return [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])


def resolve(kwargs: dict[str, Any], *, emit_nvtx: bool, row_limit: Any, sort_by_key: str | None,
            table_kwargs: dict[str, Any] | None, group_by_input_shapes: bool) -> Settings:
    _check_names(kwargs)
    kwargs = dict(kwargs)
    flame_graph = bool(kwargs.pop("export_to_flame_graph", False))
    metric = kwargs.pop("metric", "self_cpu_time_total")
    default_schedule = "schedule" not in kwargs
    schedule = kwargs.pop("schedule") if not default_schedule else torch.profiler.schedule(wait=1, warmup=1, active=3)
    _check_schedule(schedule)
    given = kwargs.get("activities")
    kwargs["activities"] = _check_activities(given) if given is not None else default_activities()
    kwargs["with_stack"] = bool(kwargs.get("with_stack", False)) or flame_graph
    kwargs.setdefault("acc_events", True)
    if emit_nvtx and not torch.cuda.is_available():
        raise flag_error("emit_nvtx", emit_nvtx, "False on a machine without CUDA (NVTX ranges are for NVIDIA's tools)")
    if isinstance(row_limit, bool) or not isinstance(row_limit, int):
        raise flag_error("row_limit", row_limit, "an int number of table rows (-1: all of them)")
    if group_by_input_shapes and not kwargs.get("record_shapes", False):
        warnings.warn("PyTorchProfiler(group_by_input_shapes=True) needs record_shapes=True to know the shapes; "
                      "the table is grouped by operator only.", UserWarning, stacklevel=3)
    return Settings(torch_kwargs=kwargs, schedule=schedule, default_schedule=default_schedule,
                    own_trace_handler="on_trace_ready" not in kwargs, flame_graph=flame_graph, metric=metric,
                    sort_by_key=_check_sort_key(sort_by_key, kwargs["activities"]),
                    table_kwargs=_check_table_kwargs(table_kwargs),
                    group_by_input_shapes=group_by_input_shapes and bool(kwargs.get("record_shapes", False)))


def _check_names(kwargs: dict[str, Any]) -> None:
    accepted = sorted(set(inspect.signature(torch.profiler.profile.__init__).parameters) - {"self"}) + list(_OWN_KEYS)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise MisconfigurationError(
            f"PyTorchProfiler got the unknown argument(s) {', '.join(unknown)}; accepted besides its own: "
            f"torch.profiler.profile's {', '.join(accepted[:-len(_OWN_KEYS)])}, and {', '.join(_OWN_KEYS)}.")


def _check_schedule(schedule: Any) -> None:
    if schedule is None:
        return
    if not callable(schedule):
        raise flag_error("schedule", schedule, "a callable such as torch.profiler.schedule(wait=1, warmup=1, "
                                               "active=3), or None to record every step")
    first = schedule(0)
    if not isinstance(first, ProfilerAction):
        raise MisconfigurationError(f"`schedule` returned {first!r} for step 0; accepted: a schedule that returns "
                                    "a torch.profiler.ProfilerAction for every step.")


def _check_activities(activities: Any) -> list[ProfilerActivity]:
    try:
        chosen = list(activities)
    except TypeError:
        chosen = None
    if not chosen or not all(isinstance(item, ProfilerActivity) for item in chosen):
        raise flag_error("activities", activities, "a non-empty list of torch.profiler.ProfilerActivity members "
                                                   "(CPU, CUDA...), or None for the CPU plus CUDA when available")
    return chosen


def _check_sort_key(sort_by_key: str | None, activities: list[ProfilerActivity]) -> str:
    if sort_by_key is None:
        return "cuda_time_total" if ProfilerActivity.CUDA in activities else "cpu_time_total"
    if sort_by_key not in SORT_KEYS:
        raise flag_error("sort_by_key", sort_by_key, "one of " + ", ".join(sorted(SORT_KEYS)))
    return sort_by_key


def _check_table_kwargs(table_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    if table_kwargs is None:
        return {}
    accepted = sorted(set(inspect.signature(EventList.table).parameters) - {"self", "sort_by", "row_limit"})
    for key in table_kwargs:
        if key in ("sort_by", "row_limit"):
            own = "sort_by_key" if key == "sort_by" else "row_limit"
            raise MisconfigurationError(f"`table_kwargs` got the key {key!r}, which PyTorchProfiler sets from its "
                                        f"`{own}` argument; accepted keys: {', '.join(accepted)}.")
        if key not in accepted:
            raise MisconfigurationError(f"`table_kwargs` got the key {key!r}; accepted keys: {', '.join(accepted)}.")
    return dict(table_kwargs)
