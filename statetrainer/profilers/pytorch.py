"""PyTorchProfiler: torch.profiler over a run, one labelled range per action, chrome traces and an operator table."""
from __future__ import annotations

import os
import warnings
from typing import Any, Callable

import torch
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerAction, tensorboard_trace_handler

from statetrainer.profilers import pytorch_args as args
from statetrainer.profilers.actions import STEP_HOOKS
from statetrainer.profilers.module_ranges import ModuleRanges
from statetrainer.profilers.profiler import Profiler
from statetrainer.profilers.step_schedule import StepSchedule

__all__ = ["PyTorchProfiler", "PROFILE_PREFIX"]

#: the prefix of the torch.profiler range of every action (``[st][profile][State]train_batch``)
PROFILE_PREFIX = "[st][profile]"
_FEWEST_STEPS = 5  # what the default schedule (wait=1, warmup=1, active=3) needs to save a window


class PyTorchProfiler(Profiler):
    """Profile the run with ``torch.profiler``: operators on the CPU (and CUDA when available), with
    a range around every action the other profilers time (states, hooks, signals, the loop's own
    work), named ``[st][profile]<action>``.

    Steps are the ends of ``training_step`` / ``validation_step`` / ``test_step`` / ``predict_step``;
    the `schedule` is applied to each kind of step on its own. When a kind's window is complete its
    chrome trace is written to ``<dirpath>/<stage>-<filename>-<step action>.<ns>.pt.trace.json``
    (open it in https://ui.perfetto.dev or chrome://tracing). When the run ends, ``describe()``
    reports the operator table (``key_averages().table``) like the other profilers' reports.

    Args:
        dirpath, filename: where the report and the traces go (see ``Profiler``); traces need a
            dirpath, which defaults to the trainer's log_dir.
        group_by_input_shapes: one table row per operator and input shapes (needs ``record_shapes=True``).
        emit_nvtx: emit NVTX ranges for NVIDIA's tools instead of recording (needs CUDA; no table).
        export_to_chrome: write the chrome traces (default True).
        row_limit: rows in the table (-1: all).
        sort_by_key: the table's order, one of ``AVAILABLE_SORT_KEYS`` (default: ``cuda_time_total``
            when CUDA is profiled, else ``cpu_time_total``).
        record_module_names: a range around each submodule's forward (``[st][module]<class>: <name>``).
        table_kwargs: more arguments of ``EventList.table`` (``max_name_column_width``...).
        **profiler_kwargs: ``torch.profiler.profile`` arguments, passed through: ``schedule`` (default
            ``torch.profiler.schedule(wait=1, warmup=1, active=3)``; None records every step),
            ``activities``, ``record_shapes``, ``profile_memory``, ``with_stack``, ``with_flops``,
            ``on_trace_ready`` (replaces the chrome export), ``acc_events`` (default True here, so the
            table covers every window)...; and ``export_to_flame_graph`` / ``metric`` (a ``.stack``
            file per window, for flamegraph tools).
    """

    AVAILABLE_SORT_KEYS = args.SORT_KEYS

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None,
                 group_by_input_shapes: bool = False, emit_nvtx: bool = False, export_to_chrome: bool = True,
                 row_limit: int = 20, sort_by_key: str | None = None, record_module_names: bool = True,
                 table_kwargs: dict[str, Any] | None = None, **profiler_kwargs: Any) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        settings = args.resolve(profiler_kwargs, emit_nvtx=emit_nvtx, row_limit=row_limit,
                                sort_by_key=sort_by_key, table_kwargs=table_kwargs,
                                group_by_input_shapes=group_by_input_shapes)
        self._profiler_kwargs: dict[str, Any] = settings.torch_kwargs
        self._schedule_fn: Callable[[int], ProfilerAction] | None = settings.schedule
        self._default_schedule = settings.default_schedule
        self._own_trace_handler = settings.own_trace_handler
        self._export_to_flame_graph = settings.flame_graph
        self._metric = settings.metric
        self._sort_by_key = settings.sort_by_key
        self._table_kwargs = settings.table_kwargs
        self._group_by_input_shapes = settings.group_by_input_shapes
        self._emit_nvtx = emit_nvtx
        self._export_to_chrome = export_to_chrome
        self._row_limit = row_limit
        self._record_module_names = record_module_names
        #: the running torch profiler (``torch.profiler.profile``, or ``emit_nvtx``), None between runs
        self.profiler: Any = None
        #: the events of the last run, once it ended (``function_events.key_averages()``...)
        self.function_events: Any = None
        self._nvtx_session: Any = None
        self._schedule: StepSchedule | None = None
        self._ranges: dict[str, list[record_function]] = {}
        self._module_ranges: ModuleRanges | None = None
        self._last_step_action: str | None = None

    # ------------------------------------------------------------------ actions
    def start(self, action_name: str) -> None:
        if self.profiler is None:
            self._open()
        if self._module_ranges is None and self._record_module_names and self.module is not None:
            self._module_ranges = ModuleRanges(self.module).__enter__()
        scope = record_function(PROFILE_PREFIX + action_name)
        scope.__enter__()
        self._ranges.setdefault(action_name, []).append(scope)

    def stop(self, action_name: str) -> None:
        ranges = self._ranges.get(action_name)
        if not ranges:
            raise ValueError(f"profiler action {action_name!r} was stopped but never started.")
        ranges.pop().__exit__(None, None, None)
        if self.profiler is not None and not self._emit_nvtx:
            kind = next((hook for hook in STEP_HOOKS if action_name.endswith(hook)), None)
            if kind is not None:
                self._step(kind, action_name)

    def _step(self, kind: str, action_name: str) -> None:
        self._last_step_action = action_name
        schedule = self._schedule
        if schedule is not None:
            schedule.begin(kind, action_name)
            if self._default_schedule and self._too_few_steps(kind):
                warnings.warn(f"PyTorchProfiler: this run has fewer than {_FEWEST_STEPS} steps of {kind}, too few "
                              "for the default schedule (wait=1, warmup=1, active=3), so every step is recorded "
                              "instead; pass `schedule=` to choose.", UserWarning, stacklevel=2)
                self._schedule = schedule = None
                self.profiler.schedule = _record_every_step
            else:
                self.profiler.step_num = schedule.count(kind)
        self.profiler.step()

    def _too_few_steps(self, kind: str) -> bool:
        total = _steps_in_run(self.module, kind, self._stage)
        return total is not None and total < _FEWEST_STEPS

    # ------------------------------------------------------------------ run
    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        super().setup(stage, local_rank, log_dir)
        self._close()  # a run that failed before describe() may have left one open
        self.function_events = None

    def summary(self) -> str:
        self._close()
        if self._emit_nvtx or not self.function_events:
            return ""
        averages = self.function_events.key_averages(group_by_input_shapes=self._group_by_input_shapes)
        table = averages.table(sort_by=self._sort_by_key, row_limit=self._row_limit, **self._table_kwargs)
        rank = f" rank: {self._local_rank}" if self._local_rank is not None else ""
        return os.linesep.join([self._stage_title(), f"Profile stats for: records{rank}", table])

    def teardown(self, stage: str | None) -> None:
        self._close()
        for ranges in self._ranges.values():
            while ranges:
                ranges.pop().__exit__(None, None, None)
        self._ranges.clear()
        super().teardown(stage)

    def _open(self) -> None:
        if self._emit_nvtx:
            self._nvtx_session = torch.cuda.profiler.profile()
            self._nvtx_session.__enter__()
            self.profiler = torch.autograd.profiler.emit_nvtx(
                record_shapes=self._profiler_kwargs.get("record_shapes", False))
            self.profiler.__enter__()
            return
        self._schedule = StepSchedule(self._schedule_fn) if self._schedule_fn is not None else None
        kwargs = dict(self._profiler_kwargs, schedule=self._schedule)
        if self._own_trace_handler:
            kwargs["on_trace_ready"] = self._export
        self.profiler = torch.profiler.profile(**kwargs)
        self.profiler.__enter__()

    def _close(self) -> None:
        if self._module_ranges is not None:
            self._module_ranges.__exit__(None, None, None)
            self._module_ranges = None
        if self.profiler is not None:
            running, self.profiler = self.profiler, None
            running.__exit__(None, None, None)
            if not self._emit_nvtx and getattr(running, "profiler", None) is not None:
                self.function_events = running.events()
        if self._nvtx_session is not None:
            self._nvtx_session.__exit__(None, None, None)
            self._nvtx_session = None
        self._schedule = None

    # ------------------------------------------------------------------ traces
    def _export(self, finished: torch.profiler.profile) -> None:
        """torch's on_trace_ready: write the window just completed as a chrome trace (and stacks)."""
        if not (self._export_to_chrome or self._export_to_flame_graph):
            return
        schedule = self._schedule
        action = schedule.saved_action if schedule is not None and schedule.saved_action else self._last_step_action
        if not self.dirpath:
            warnings.warn("PyTorchProfiler could not write its trace: `dirpath` is None and no trainer log_dir "
                          "was given; pass `dirpath=` to keep the traces.", UserWarning, stacklevel=2)
            return
        if self._export_to_chrome:
            tensorboard_trace_handler(os.fspath(self.dirpath), worker_name=self.report_name(action, ""))(finished)
        if self._export_to_flame_graph:
            finished.export_stacks(self.report_path(action, ".stack"), metric=self._metric)


def _record_every_step(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def _steps_in_run(module: Any, kind: str, stage: str | None) -> float | None:
    """How many steps of `kind` the current run takes (None when there is no trainer to ask); in fit,
    the validation steps include the sanity check's."""
    try:
        trainer = module.trainer
    except (AttributeError, RuntimeError):  # no module, or one not attached to a trainer
        return None
    if kind == "training_step":
        return trainer.num_training_batches
    if kind == "validation_step":
        sanity = sum(trainer.num_sanity_val_batches) if stage == "fit" else 0
        return sum(trainer.num_val_batches) + sanity
    counts = trainer.num_test_batches if kind == "test_step" else trainer.num_predict_batches
    return sum(counts)
