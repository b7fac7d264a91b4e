"""Session: the parts one fit/validate/test/predict call works with, handed to the state actions.

A frozen record: each part owns its own state (position, feed, optimization, metric book, stop
rules) and saves it itself; `run` is the one small mutable record of this call's outcome. Nothing
here refers to the Trainer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["Session", "RunRecord"]


@dataclass
class RunRecord:
    """What this call produced or picked up on the way."""

    model: Any = None                     # the module as the strategy wrapped it (the module itself in one process)
    evaluation: Any = None                # the running EvalRun, if any
    results: Any = None                   # validate/test metrics, predict outputs
    restore: Any = None                   # loop.resume.Restore: ckpt_path, read and put back in two steps
    plan: Any = None                      # loop.batch_plan.TrainingPlan, made when training starts
    written: list = field(default_factory=list)   # checkpoint files this call wrote, oldest first
    return_predictions: bool = True
    failing_state: Optional[str] = None   # the machine state an exception or interrupt arrived in


@dataclass(frozen=True)
class Session:
    fn: str
    module: Any
    datamodule: Any
    callbacks: list
    dispatch: Any          # loop.dispatch.Dispatcher
    position: Any          # loop.position.Position (the trainer's: it outlives the call)
    stop: Any              # loop.stopping.StopRules (the trainer's)
    feed: Any              # loop.feed.Feed
    optim: Any             # loop.optim_step.Optimization
    metrics: Any           # metrics.MetricBook (the trainer's)
    precision: Any
    strategy: Any
    config: Any            # trainer.flags.TrainerConfig
    ctx: Any               # loop.context.LoopContext (what guards read)
    state: Any             # trainer.state.TrainerState (stop_reason is written at the end of fit)
    loggers: list
    run: RunRecord = field(default_factory=RunRecord)

    @property
    def device(self):
        return self.strategy.root_device
