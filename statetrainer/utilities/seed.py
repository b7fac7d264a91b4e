"""Lightning's `lightning.pytorch.utilities.seed` path (and fabric's seed helpers): statetrainer/seed.py."""
from statetrainer.seed import isolate_rng, reset_seed, seed_everything

__all__ = ["isolate_rng", "reset_seed", "seed_everything"]
