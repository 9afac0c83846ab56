"""Sampling, apart from any model: logit processing and the autoregressive (KV-cache) decoder."""

from engine.sampling.autoregressive import Progress, Stepper, generate_autoregressive
from engine.sampling.logits import (
    cfg_combine,
    logits_to_probs,
    sample,
    top_k_filter,
    top_p_filter,
)

__all__ = [
    "Progress", "Stepper", "cfg_combine", "generate_autoregressive", "logits_to_probs",
    "sample", "top_k_filter", "top_p_filter",
]
