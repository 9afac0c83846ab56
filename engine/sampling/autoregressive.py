"""Autoregressive decoding with a KV cache (gpt-fast style): prefill the prefix once, then one token
at a time.

The decoder knows nothing about the transformer: it drives a `Stepper`, which owns the cache and
whatever conditioning (text, positions) the model needs. Tokens whose value is known in advance
(inpainting keeps the visible tokens exactly; image-to-video keeps the first frame) are forced: they
are written, not sampled, and a run of them is fed to the model in one `decode` call.

Classifier-free guidance runs the conditional and unconditional sequences as one batch of 2B:
rows [0, B) are conditional, rows [B, 2B) their unconditional copies; the stepper must have been
built that way (the task runner in `engine.tasks.generate` does it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from engine.sampling.logits import cfg_combine, sample

Progress = Callable[[int, int], None]  # (tokens done, tokens in all)


class Stepper(Protocol):
    """`id_range` [lo, hi) (or None: all) names the ids the next token may take: a stepper may leave
    the logits outside it uncomputed (-inf), since `sample` never looks there."""

    def prefill(self, ids: Tensor, id_range: tuple[int, int] | None = None) -> Tensor:
        """Prefix ids (B', P) into the cache -> logits (B', V) for the first new token."""
        ...

    def decode(self, tokens: Tensor, pos: int, id_range: tuple[int, int] | None = None) -> Tensor:
        """Tokens (B', T) at positions [pos, pos + T) into the cache -> logits (B', V) after the last."""
        ...


def generate_autoregressive(
    model: Stepper,
    prefix: Tensor,
    num_tokens: int,
    generator: torch.Generator,
    *,
    allowed: Tensor | None = None,
    forced_mask: Tensor | None = None,
    forced_values: Tensor | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    cfg_scale: float | None = None,
    progress: Progress | None = None,
) -> Tensor:
    """Sample `num_tokens` tokens after `prefix` (B, P) -> (B, num_tokens) long.

    allowed: (num_tokens, 2) [lo, hi) id range per new position (None: the whole vocabulary).
    forced_mask: (num_tokens,) bool, the positions whose value is given; forced_values (B, num_tokens)
        holds them (other entries are ignored). Forced tokens are kept exactly and use no randomness.
    cfg_scale: None runs the conditional model only; a float runs guidance (see the module note).
    """
    B, P = prefix.shape
    if allowed is not None and tuple(allowed.shape) != (num_tokens, 2):
        raise ValueError(f"allowed must be ({num_tokens}, 2), got {tuple(allowed.shape)}")
    ranges = allowed.tolist() if allowed is not None else None  # one host sync, not one per step
    forced = [False] * num_tokens if forced_mask is None else [bool(f) for f in forced_mask.tolist()]
    if len(forced) != num_tokens or (any(forced) and forced_values is None):
        raise ValueError("forced_mask needs num_tokens entries, and forced_values when any is set")

    guided = cfg_scale is not None
    out = torch.empty(B, num_tokens, dtype=torch.long, device=prefix.device)

    def next_range(i: int) -> tuple[int, int] | None:  # the ids new token i may take
        return None if ranges is None else tuple(ranges[i])

    def feed(tokens: Tensor, pos: int, id_range: tuple[int, int] | None) -> Tensor:  # (B, T) -> (B, V)
        return combine(model.decode(torch.cat((tokens, tokens)) if guided else tokens, pos, id_range))

    def combine(logits: Tensor) -> Tensor:  # (B' , V) -> (B, V)
        return cfg_combine(logits[:B], logits[B:], cfg_scale) if guided else logits

    logits = combine(model.prefill(torch.cat((prefix, prefix)) if guided else prefix, next_range(0)))  # (B, V)
    i = 0
    while i < num_tokens:
        if forced[i]:  # a run of given tokens goes in as one chunk
            j = i
            while j < num_tokens and forced[j]:
                j += 1
            out[:, i:j] = forced_values[:, i:j]
        else:
            out[:, i] = sample(logits, generator, temperature, top_k, top_p, next_range(i))
            j = i + 1
        if j < num_tokens:  # the last token needs no logits after it
            logits = feed(out[:, i:j], P + i, next_range(j))
        i = j
        if progress is not None:
            progress(i, num_tokens)
    return out
