"""Lightning's `lightning.pytorch.core.hooks` path: the hook stub classes StateModule and DataModule build on.

ModelHooks is statetrainer's HookStubs (it also carries the data and checkpoint hooks StateModule has).
"""
from statetrainer.module.data_hooks import DataHooks
from statetrainer.module.hooks import HookStubs

ModelHooks = HookStubs

__all__ = ["DataHooks", "HookStubs", "ModelHooks"]
