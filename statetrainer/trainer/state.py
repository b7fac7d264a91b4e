"""trainer.state: Lightning's fn / status / stage, plus the machine's view."""
from __future__ import annotations

from typing import Optional

from statetrainer.machine.diagram import mermaid
from statetrainer.machine.table import STATES
from statetrainer.states import RunningStage, TrainerFn, TrainerStatus

__all__ = ["TrainerState"]

_STAGE = {s.name: s.stage for s in STATES}
_EVAL_STAGE = {"validate": "validate", "test": "test"}
_STAGES = {member.value: member for member in RunningStage}  # a dict read is ~30x cheaper than RunningStage(name)
_STATUS = {"idle": TrainerStatus.INITIALIZING, "finished": TrainerStatus.FINISHED,
           "interrupted": TrainerStatus.INTERRUPTED, "failed": TrainerStatus.INTERRUPTED}


class TrainerState:
    """Read-only view of where the trainer is.

    - fn: TrainerFn "fit" / "validate" / "test" / "predict" / "tune" or None
    - status: TrainerStatus "initializing" / "running" / "finished" / "interrupted"
    - stage: RunningStage "train" / "sanity_check" / "validate" / "test" / "predict" / None
    - finished: status is "finished"; stopped: status is "finished" or "interrupted"
    - current: the machine's state name; history: recent transitions; stop_reason: why fit ended.
    The enum members are str and compare equal to the plain names (statetrainer/states.py).
    """

    def __init__(self, machine_ref):
        self._machine = machine_ref
        self._fn: Optional[TrainerFn] = None
        self.stop_reason: Optional[str] = None
        self.failing_state: Optional[str] = None  # while on_exception/teardown run after a failure

    @property
    def fn(self) -> Optional[TrainerFn]:
        return self._fn

    @fn.setter
    def fn(self, value) -> None:
        self._fn = None if value is None else TrainerFn(value)

    @property
    def finished(self) -> bool:
        return self.status == TrainerStatus.FINISHED

    @property
    def stopped(self) -> bool:
        return self.status.stopped

    @property
    def current(self) -> str:
        return self._machine().current

    @property
    def history(self):
        return list(self._machine().history)

    @property
    def status(self) -> TrainerStatus:
        return _STATUS.get(self.current, TrainerStatus.RUNNING)

    @property
    def stage(self) -> Optional[RunningStage]:
        name = self._stage_name()
        return None if name is None else _STAGES[name]

    def _stage_name(self) -> Optional[str]:
        current = self.current
        if current in ("interrupted", "failed") and self.failing_state is not None:
            current = self.failing_state  # on_exception and teardown see the stage that failed
        if current in ("idle", "finished", "interrupted", "failed"):
            return None
        if current in ("setup", "teardown"):  # Lightning keeps the fn's stage through setup and teardown
            return {"fit": "train"}.get(self.fn, self.fn)
        stage = _STAGE[current]
        if stage is None:
            return _EVAL_STAGE.get(self.fn, self.fn)
        return stage

    def diagram(self) -> str:
        """Mermaid text of the whole machine with the current state highlighted."""
        return mermaid(self.current)

    def __repr__(self) -> str:
        return (f"TrainerState(fn={self.fn!r}, status={self.status!r}, stage={self.stage!r}, "
                f"current={self.current!r}, stop_reason={self.stop_reason!r})")
