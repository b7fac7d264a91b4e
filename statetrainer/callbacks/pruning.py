"""ModelPruning: prune parameters while training, with ``torch.nn.utils.prune``.

At the end of every training epoch (or of every validation run, ``prune_on_train_epoch_end=False``)
it prunes ``amount`` of the chosen parameters: a fraction (float) or a count (int), or
``amount(epoch)`` when callable; ``apply_pruning`` (a bool or ``epoch -> bool``) can skip epochs.
With ``use_lottery_ticket_hypothesis`` the weights that survive are then reset to their values at
the start of training (or freshly re-initialised, ``resample_parameters=True``). With
``make_pruning_permanent`` the masks are folded into the weights at the end of training, and every
checkpoint stores the pruned weights without the ``_orig`` / ``_mask`` entries. Lightning's
arguments and rules; see docs/callbacks.md for the one addition (a plain function as `pruning_fn`).
"""
from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.utils.prune as prune
from torch import nn

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError

__all__ = ["ModelPruning"]

_FUNCTIONS = {"ln_structured": prune.ln_structured, "l1_unstructured": prune.l1_unstructured,
              "random_structured": prune.random_structured, "random_unstructured": prune.random_unstructured}
_METHODS = {"ln_structured": prune.LnStructured, "l1_unstructured": prune.L1Unstructured,
            "random_structured": prune.RandomStructured, "random_unstructured": prune.RandomUnstructured}
Amount = Union[int, float, Callable[[int], Union[int, float]]]


def _containers() -> tuple:
    from statetrainer.module.module import StateModule
    return (StateModule, nn.Sequential, nn.ModuleList, nn.ModuleDict)


class ModelPruning(Callback):
    """Prune the model during training (see the module docstring for the schedule).

    Args:
        pruning_fn: "l1_unstructured", "random_unstructured", "ln_structured", "random_structured", or a
            ``torch.nn.utils.prune.BasePruningMethod`` subclass (global pruning), or a function
            ``fn(module, name=..., amount=...)`` (local pruning).
        parameters_to_prune: ``[(module, "weight"), ...]``; empty: every `parameter_names` of every layer.
        parameter_names: the parameter names considered when `parameters_to_prune` is empty
            ("weight" and/or "bias"; default both).
        use_global_unstructured: rank all chosen parameters together (unstructured methods only).
        amount, apply_pruning, use_lottery_ticket_hypothesis: fixed values or functions of the epoch.
        make_pruning_permanent: fold the masks into the weights at the end and in checkpoints.
        resample_parameters: with the lottery ticket, re-initialise instead of restoring.
        pruning_dim, pruning_norm: the `dim` of the structured methods, the `n` of "ln_structured".
        verbose: 0 quiet, 1 overall sparsity after each pruning, 2 also per parameter.
        prune_on_train_epoch_end: prune at the end of the training epoch (else: of validation).
    """

    PARAMETER_NAMES = ("weight", "bias")

    def __init__(self, pruning_fn: Union[str, Callable], parameters_to_prune: Sequence = (),
                 parameter_names: Optional[list[str]] = None, use_global_unstructured: bool = True,
                 amount: Amount = 0.5, apply_pruning: Union[bool, Callable[[int], bool]] = True,
                 make_pruning_permanent: bool = True,
                 use_lottery_ticket_hypothesis: Union[bool, Callable[[int], bool]] = True,
                 resample_parameters: bool = False, pruning_dim: Optional[int] = None,
                 pruning_norm: Optional[int] = None, verbose: int = 0, prune_on_train_epoch_end: bool = True) -> None:
        self._use_global_unstructured = use_global_unstructured
        self._parameters_to_prune = parameters_to_prune
        self._parameter_names = tuple(parameter_names or self.PARAMETER_NAMES)
        for name in self._parameter_names:
            if name not in self.PARAMETER_NAMES:
                raise MisconfigurationError(f"`ModelPruning(parameter_names)` got {name!r}; accepted: 'weight' "
                                            "and/or 'bias'.")
        self._global_kwargs: dict[str, Any] = {}
        self._pruning_method_name = getattr(pruning_fn, "__name__", str(pruning_fn))
        self.pruning_fn = self._resolve(pruning_fn, pruning_dim, pruning_norm)
        if not (isinstance(amount, (int, float)) or callable(amount)):
            raise MisconfigurationError(f"`ModelPruning(amount)` got {amount!r}; accepted: a float fraction, an int "
                                        "count, or a function of the epoch returning one.")
        if verbose not in (0, 1, 2):
            raise MisconfigurationError(f"`ModelPruning(verbose)` got {verbose!r}; accepted: 0, 1 or 2.")
        self.amount = amount
        self._apply_pruning = apply_pruning
        self._make_pruning_permanent = make_pruning_permanent
        self._use_lottery_ticket_hypothesis = use_lottery_ticket_hypothesis
        self._resample_parameters = resample_parameters
        self._verbose = verbose
        self._prune_on_train_epoch_end = prune_on_train_epoch_end
        self._original_layers: Optional[dict[int, dict[str, Any]]] = None
        self._speaks = True  # False on the ranks other than 0

    # ---------------------------------------------------------------- configuration
    def _resolve(self, pruning_fn: Any, dim: Optional[int], norm: Optional[int]) -> Callable:
        """The pruning method class (global) or function (local) to call."""
        if isinstance(pruning_fn, str):
            return self._from_name(pruning_fn.lower(), dim, norm)
        if inspect.isclass(pruning_fn) and issubclass(pruning_fn, prune.BasePruningMethod):
            if not self._use_global_unstructured:
                raise MisconfigurationError(
                    f"`ModelPruning(pruning_fn)` got the class {pruning_fn.__name__} with use_global_unstructured="
                    "False; accepted: a BasePruningMethod class with use_global_unstructured=True, or a function "
                    "fn(module, name=..., amount=...) for local pruning.")
            _require_unstructured(pruning_fn)
            return pruning_fn
        if callable(pruning_fn) and not isinstance(pruning_fn, prune.BasePruningMethod):
            if self._use_global_unstructured:
                raise MisconfigurationError(
                    f"`ModelPruning(pruning_fn)` got the function {self._pruning_method_name} with "
                    "use_global_unstructured=True; accepted: a method name or a BasePruningMethod class (global), "
                    "or use_global_unstructured=False for a function.")
            return pruning_fn
        raise MisconfigurationError(
            f"`ModelPruning(pruning_fn)` got {pruning_fn!r}; accepted: one of {sorted(_FUNCTIONS)}, a "
            "torch.nn.utils.prune.BasePruningMethod subclass (the class, not an instance), or a function.")

    def _from_name(self, name: str, dim: Optional[int], norm: Optional[int]) -> Callable:
        if name not in _FUNCTIONS:
            raise MisconfigurationError(f"`ModelPruning(pruning_fn)` got {name!r}; accepted: one of "
                                        f"{sorted(_FUNCTIONS)}, a BasePruningMethod subclass or a function.")
        kwargs: dict[str, Any] = {}
        if name.endswith("_structured"):
            if dim is None:
                raise MisconfigurationError(f"`ModelPruning(pruning_dim)` got None with pruning_fn={name!r}; accepted: "
                                            "the dimension to prune along (structured pruning needs it).")
            if name == "ln_structured":
                if norm is None:
                    raise MisconfigurationError("`ModelPruning(pruning_norm)` got None with pruning_fn='ln_structured';"
                                                " accepted: the norm's order n (1, 2, float('inf'), ...).")
                kwargs["n"] = norm
            kwargs["dim"] = dim
        method = _METHODS[name]
        self._pruning_method_name = method.__name__ if self._use_global_unstructured else _FUNCTIONS[name].__name__
        if self._use_global_unstructured:
            _require_unstructured(method)
            self._global_kwargs = kwargs
            return method
        return functools.partial(_FUNCTIONS[name], **kwargs)

    def filter_parameters_to_prune(self, parameters_to_prune: Sequence = ()) -> Sequence:
        """Override to choose which of the (module, name) pairs get pruned."""
        return parameters_to_prune

    @staticmethod
    def sanitize_parameters_to_prune(pl_module: nn.Module, parameters_to_prune: Sequence = (),
                                     parameter_names: Sequence[str] = ()) -> list:
        """Check `parameters_to_prune` against the module; empty: every named parameter of every layer."""
        names = parameter_names or ModelPruning.PARAMETER_NAMES
        layers = [m for m in pl_module.modules() if not isinstance(m, _containers())]
        if not parameters_to_prune:
            return [(m, name) for name in names for m in layers if isinstance(getattr(m, name, None), nn.Parameter)]
        if not isinstance(parameters_to_prune, (list, tuple)) or not all(
                isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], nn.Module)
                and isinstance(pair[1], str) for pair in parameters_to_prune):
            raise MisconfigurationError(f"`ModelPruning(parameters_to_prune)` got {parameters_to_prune!r}; accepted: "
                                        "a list of (nn.Module, parameter name) pairs, or nothing for all layers.")
        foreign = [type(m).__name__ for m, _ in parameters_to_prune if not any(m is layer for layer in layers)]
        absent = [f"{type(m).__name__}.{name}" for m, name in parameters_to_prune if not hasattr(m, name)]
        if foreign or absent:
            raise MisconfigurationError(f"`ModelPruning(parameters_to_prune)` names what the model does not have: "
                                        f"modules {foreign}, parameters {absent}; accepted: layers of the model being "
                                        "trained and their parameter names.")
        return list(parameters_to_prune)

    # ---------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        self._speaks = bool(getattr(trainer, "is_global_zero", True))
        chosen = self.sanitize_parameters_to_prune(pl_module, self._parameters_to_prune, self._parameter_names)
        self._parameters_to_prune = self.filter_parameters_to_prune(chosen)
        if self._use_lottery_ticket_hypothesis:  # the starting values of every layer that will be pruned
            self._original_layers = {}
            for index, (module, name) in enumerate(self._parameters_to_prune):
                entry = self._original_layers.setdefault(id(module), {"data": copy.deepcopy(module), "names": []})
                entry["names"].append((index, name))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._prune_on_train_epoch_end:
            self._run_pruning(pl_module.current_epoch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not self._prune_on_train_epoch_end and not trainer.sanity_checking:
            self._run_pruning(pl_module.current_epoch)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._make_pruning_permanent:
            self.make_pruning_permanent(pl_module)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if self._make_pruning_permanent:  # the file gets the pruned weights; training keeps its masks
            checkpoint["state_dict"] = _permanent_state_dict(pl_module)

    # ---------------------------------------------------------------- pruning
    def _run_pruning(self, epoch: int) -> None:
        apply = self._apply_pruning(epoch) if callable(self._apply_pruning) else self._apply_pruning
        amount = self.amount(epoch) if callable(self.amount) else self.amount
        if not apply or not amount:
            return
        self.apply_pruning(amount)
        lottery = self._use_lottery_ticket_hypothesis
        if lottery(epoch) if callable(lottery) else lottery:
            self.apply_lottery_ticket_hypothesis()

    def apply_pruning(self, amount: Union[int, float]) -> None:
        """Prune `amount` of the chosen parameters now."""
        before = [_pruned_stats(m, n) for m, n in self._parameters_to_prune] if self._verbose else None
        if self._use_global_unstructured:
            options = {**self._global_kwargs, "amount": amount}
            accepted = set(inspect.signature(self.pruning_fn).parameters) - {"self"}
            prune.global_unstructured(self._parameters_to_prune, pruning_method=self.pruning_fn,
                                      **{key: value for key, value in options.items() if key in accepted})
        else:
            for module, name in self._parameters_to_prune:
                self.pruning_fn(module, name=name, amount=amount)
        if before is not None and self._speaks:
            self._report(before, [_pruned_stats(m, n) for m, n in self._parameters_to_prune], amount)

    def apply_lottery_ticket_hypothesis(self) -> None:
        """Reset the weights that survived pruning to their starting values (or re-draw them)."""
        for entry in (self._original_layers or {}).values():
            source = entry["data"]
            if self._resample_parameters and callable(getattr(source, "reset_parameters", None)):
                source = copy.deepcopy(source)  # the kept starting values stay as they are
                source.reset_parameters()
            for index, name in entry["names"]:
                target, _ = self._parameters_to_prune[index]
                _copy_values(target, source, name)

    def make_pruning_permanent(self, module: nn.Module) -> None:
        """Fold every pruning mask of `module` into its parameter and remove the pruning hooks."""
        for _, submodule in module.named_modules():
            for key, hook in list(submodule._forward_pre_hooks.items()):
                if isinstance(hook, prune.BasePruningMethod):
                    hook.remove(submodule)
                    del submodule._forward_pre_hooks[key]

    def _report(self, before: list, after: list, amount: Union[int, float]) -> None:
        total = sum(size for _, size in after)
        was, now = sum(z for z, _ in before), sum(z for z, _ in after)
        print(f"ModelPruning: {self._pruning_method_name} pruned {was}/{total} ({was / total:.2%}) -> "
              f"{now}/{total} ({now / total:.2%}) parameters")
        if self._verbose == 2:
            for (module, name), (z0, n0), (z1, n1) in zip(self._parameters_to_prune, before, after):
                print(f"ModelPruning: {type(module).__name__}.{name} (amount={amount}): "
                      f"{z0} ({z0 / n0:.2%}) -> {z1} ({z1 / n1:.2%}) pruned")


def _require_unstructured(method: Any) -> None:
    if getattr(method, "PRUNING_TYPE", None) != "unstructured":
        raise MisconfigurationError(
            f"`ModelPruning(use_global_unstructured=True)` got the {getattr(method, 'PRUNING_TYPE', None)} method "
            f"{method.__name__}; accepted: an unstructured method (or use_global_unstructured=False).")


def _pruned_stats(module: nn.Module, name: str) -> tuple[int, int]:
    """(pruned entries, all entries) of module.<name> (0 of 1 before any pruning)."""
    mask = getattr(module, f"{name}_mask", None)
    if mask is None:
        return 0, 1
    return int((mask == 0).sum()), mask.numel()


def _copy_values(target: nn.Module, source: nn.Module, name: str) -> None:
    """Put source.<name>'s values into target's parameter (its `_orig` once pruned)."""
    destination = getattr(target, f"{name}_orig", None)
    if destination is None:
        destination = getattr(target, name, None)
    values = getattr(source, name, None)
    if isinstance(destination, torch.Tensor) and isinstance(values, torch.Tensor):
        destination.data = values.data.to(destination.device)


def _permanent_state_dict(module: nn.Module) -> dict[str, Any]:
    """module.state_dict() with each `<p>_orig` / `<p>_mask` pair replaced by the pruned `<p>`, on the CPU."""
    state = module.state_dict()
    for mask_key in [key for key in state if key.endswith("_mask")]:
        base = mask_key[: -len("_mask")]
        if base + "_orig" not in state:
            continue
        original, mask = state.pop(base + "_orig"), state.pop(mask_key)
        state[base] = mask.to(dtype=original.dtype) * original
    return {key: value.cpu() if isinstance(value, torch.Tensor) else value for key, value in state.items()}
