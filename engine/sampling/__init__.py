"""Sampling, apart from any model: logit processing, the autoregressive (KV-cache) decoder and the
masked (MaskGIT) decoder."""

from engine.sampling.autoregressive import Progress, Stepper, generate_autoregressive
from engine.sampling.logits import (
    Factored,
    cfg_combine,
    draw_from,
    logits_to_probs,
    sample,
    top_k_filter,
    top_p_filter,
)
from engine.sampling.masked import MaskedModel, OnStep, generate_masked, mask_schedule

__all__ = [
    "Factored", "MaskedModel", "OnStep", "Progress", "Stepper", "cfg_combine", "draw_from", "generate_autoregressive",
    "generate_masked", "logits_to_probs", "mask_schedule", "sample", "top_k_filter", "top_p_filter",
]
