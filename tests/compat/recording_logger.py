"""A recording Logger: every call it receives is appended to ``calls`` as plain JSON data."""
from __future__ import annotations

from .serialise import to_plain


def make_logger_class(base: type) -> type:
    class RecordingLogger(base):
        def __init__(self, calls: list):
            super().__init__()
            self.calls = calls

        @property
        def name(self):
            return "recording"

        @property
        def version(self):
            return 0

        def log_metrics(self, metrics, step=None):
            self.calls.append(["log_metrics", step, {k: to_plain(v) for k, v in sorted(metrics.items())}])

        def log_hyperparams(self, params, *args, **kwargs):
            self.calls.append(["log_hyperparams"])

        def save(self):
            self.calls.append(["save"])

        def finalize(self, status):
            self.calls.append(["finalize", status])

    return RecordingLogger
