"""The tuner: learning-rate range test and batch-size search (`st.Tuner`, `trainer.tune`)."""
from statetrainer.tuner.lr_finder import LRFinder
from statetrainer.tuner.oom import is_out_of_memory
from statetrainer.tuner.tuning import Tuner

__all__ = ["LRFinder", "Tuner", "is_out_of_memory"]
