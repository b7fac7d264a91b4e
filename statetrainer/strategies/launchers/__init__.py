"""Launchers: how the processes of a multi-process run are started and kept together."""
from statetrainer.strategies.launchers.handback import HandBack
from statetrainer.strategies.launchers.launcher import Launcher
from statetrainer.strategies.launchers.multiprocessing import MultiProcessingLauncher
from statetrainer.strategies.launchers.subprocess_script import SubprocessScriptLauncher

__all__ = ["HandBack", "Launcher", "MultiProcessingLauncher", "SubprocessScriptLauncher"]
