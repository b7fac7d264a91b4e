"""grad_norm: the p-norm of every parameter's gradient and of all of them together (Lightning's helper),
typically logged from `on_before_optimizer_step`: `self.log_dict(grad_norm(self, norm_type=2))`."""
from __future__ import annotations

from typing import Union

import torch
from torch import nn

__all__ = ["grad_norm"]


def grad_norm(module: nn.Module, norm_type: Union[float, int, str], group_separator: str = "/") -> dict:
    """{"grad_<p>_norm<sep><param name>": norm, ..., "grad_<p>_norm_total": norm over all gradients};
    parameters without a gradient are left out, and so is the total when none has one."""
    p = float(norm_type)
    if p <= 0:
        from statetrainer.errors import flag_error
        raise flag_error("norm_type", norm_type, "a positive number or 'inf'")
    norms = {f"grad_{p}_norm{group_separator}{name}": param.grad.detach().norm(p)
             for name, param in module.named_parameters() if param.grad is not None}
    if norms:
        norms[f"grad_{p}_norm_total"] = torch.stack(list(norms.values())).norm(p)
    return norms
