"""Lightning's `lightning.pytorch.utilities` names: rank-zero helpers, AttributeDict, seeding, enums, grad_norm,
CombinedLoader.

Submodules mirror Lightning's paths (`statetrainer.utilities.rank_zero`, `.seed`, `.types`,
`.exceptions`, `.enums`, `.model_helpers`, `.parsing`, `.grads`, `.combined_loader`); see docs/porting.md.
"""
from statetrainer.utilities.combined_loader import CombinedLoader
from statetrainer.utilities.enums import GradClipAlgorithmType, LightningEnum
from statetrainer.utilities.grads import grad_norm
from statetrainer.utilities.model_helpers import is_overridden
from statetrainer.utilities.parsing import AttributeDict, is_picklable
from statetrainer.utilities.rank_zero import rank_zero_deprecation, rank_zero_info, rank_zero_only, rank_zero_warn
from statetrainer.utilities.seed import isolate_rng, reset_seed, seed_everything

__all__ = ["AttributeDict", "CombinedLoader", "GradClipAlgorithmType", "LightningEnum", "grad_norm", "is_overridden", "is_picklable",
           "isolate_rng", "rank_zero_deprecation", "rank_zero_info", "rank_zero_only", "rank_zero_warn",
           "reset_seed", "seed_everything"]
