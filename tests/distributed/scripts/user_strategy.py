"""A user's DDPStrategy subclass, for the scripts that check a subclass is used as written."""
from statetrainer.strategies import DDPStrategy


class RecordingDDP(DDPStrategy):
    """A user's subclass: wraps through DDP with one changed option and counts the calls."""

    def __init__(self):
        super().__init__(bucket_cap_mb=1)
        self.configured = 0

    def configure_ddp(self, model):
        self.configured += 1
        return super().configure_ddp(model)
