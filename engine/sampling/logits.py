"""Turning logits into tokens: guidance, id-range restriction, temperature, top-k, top-p, sampling.

Shared by the autoregressive and the masked (MaskGIT) decoders, so everything works on logits of
any leading shape (..., V). The order is fixed: guidance combines the raw logits (`cfg_combine`),
then `sample` cuts them to the allowed id range, and temperature, top-k and top-p shape what is left.
Randomness comes only from the `torch.Generator` passed in, so a seed reproduces bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


class Factored(NamedTuple):
    """Logits over ids that are mixed-radix numbers of independent digits, kept apart: parts[f]
    (..., size_f), the id d0 * size_1 + d1 (two digits) having the logit parts[0][d0] + parts[1][d1].

    The transformer's video head gives these (a 2^14 code is two 7-bit sub-tokens). A softmax of such
    a sum is the product of the parts' softmaxes, and guidance and temperature are linear in the
    logits, so a code can be drawn digit by digit from 128-way distributions instead of one 16,384-way
    one; top-k and top-p do not factorise and need the `joint` logits.
    """

    parts: tuple[Tensor, ...]

    @property
    def width(self) -> int:
        return math.prod(p.shape[-1] for p in self.parts)

    def rows(self, index: slice) -> Factored:
        """The same logits for a slice of the first axis (e.g. the conditional rows of a guided batch)."""
        return Factored(tuple(p[index] for p in self.parts))

    def joint(self) -> Tensor:
        """(..., width) logits of every id, most significant digit first."""
        out = self.parts[0]
        for part in self.parts[1:]:
            out = (out[..., :, None] + part[..., None, :]).flatten(-2)
        return out


def cfg_combine(cond: Tensor | Factored, uncond: Tensor | Factored, scale: float) -> Tensor | Factored:
    """Classifier-free guidance: uncond + scale * (cond - uncond); scale 1 is the conditional model.
    Factored logits are guided part by part (the guided sum is the sum of the guided parts)."""
    if isinstance(cond, Factored):
        return Factored(tuple(cfg_combine(c, u, scale) for c, u in zip(cond.parts, uncond.parts, strict=True)))
    return uncond + scale * (cond - uncond)


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits (ties with the k-th are kept too), -inf elsewhere."""
    if k < 1:
        raise ValueError("top_k must be >= 1")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus: keep the smallest set of most likely ids whose probability reaches p (at least one)."""
    if not 0.0 < p <= 1.0:
        raise ValueError("top_p must be in (0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.float().softmax(-1)
    mass_before = probs.cumsum(-1) - probs  # probability of the strictly more likely ids
    drop_sorted = mass_before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def logits_to_probs(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                    top_p: float | None = None) -> Tensor:
    """(..., V) logits -> float32 probabilities after temperature (> 0), top-k and top-p."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 here; sample() treats 0 as greedy")
    logits = logits.float() / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return logits.softmax(-1)


def sample(logits: Tensor, generator: torch.Generator, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, id_range: tuple[int, int] | None = None) -> Tensor:
    """(..., V) logits -> (...,) long ids; temperature 0 is greedy (argmax, no randomness used).

    id_range [lo, hi) keeps only those ids possible (the video codes, or the current audio level's
    codes). The logits are sliced rather than masked, so the rest of the vocabulary costs nothing in
    the softmax, the filters and the draw.
    """
    lo = 0
    if id_range is not None:
        lo, hi = id_range
        if not 0 <= lo < hi <= logits.shape[-1]:
            raise ValueError(f"id range [{lo}, {hi}) is empty or outside the vocabulary of {logits.shape[-1]}")
        logits = logits[..., lo:hi]
    if temperature == 0:
        return logits.argmax(-1) + lo
    return draw_from(logits_to_probs(logits, temperature, top_k, top_p), generator) + lo


def draw_from(probs: Tensor, generator: torch.Generator) -> Tensor:
    """(..., V) probabilities -> (...,) ids, one draw each, by inverting the CDF with one uniform.

    torch.multinomial spends one exponential per id: for a 16,384-way video code that was 0.6 ms of a
    ~8 ms decode step on the 2-core CPU, this ~0.04 ms. A zero-probability id is never drawn: the
    search lands on the first id whose cumulative mass exceeds u, a zero leaves the mass unchanged,
    and u stays below the total (so the search never runs off the end onto a trailing zero).
    """
    cdf = probs.double().cumsum(-1)  # (..., V); float64, so the total is exact to ~1e-16
    total = cdf[..., -1:]
    u = torch.rand(total.shape, generator=generator, device=cdf.device, dtype=cdf.dtype) * total  # (..., 1)
    u = torch.minimum(u, total.nextafter(torch.zeros_like(total)))
    return torch.searchsorted(cdf, u, right=True)[..., 0]
