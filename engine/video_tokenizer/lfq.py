"""Lookup-free quantization (LFQ, MAGVIT-v2 arXiv 2310.05737).

Each of the `bits` latent channels is quantized to its sign, q = +1 if z > 0 else -1, and the token
index is the integer whose bit i is set when channel i is positive. There is no codebook to look up:
the implicit codebook is the 2^bits corners of the {-1, +1}^bits cube.

Training losses:
- commitment ||z - sg(q)||^2 pulls the latents toward the corners;
- entropy penalty = mean per-sample entropy - gamma * entropy of the batch-mean distribution, with
  the soft assignment p(c | z) = softmax_c(<z, c> / temperature) over all codes c.

Why the entropy term stays small for 2^14 codes: <z, c> is a sum over channels, so the soft
assignment factorises exactly into independent per-channel Bernoullis p(c_i = +1) = sigmoid(2 z_i / T).
The per-sample entropy is therefore the exact sum of per-channel binary entropies (O(N * bits)). The
batch-mean distribution does not factorise (a mean of products is not a product of means), so the
channels are split into subgroups of at most `entropy_group_bits` bits; inside a subgroup the joint
2^g-way distribution is formed exactly (memory N * 2^g, e.g. 7 bits -> 128 values per latent), and
the batch entropy is the sum of the subgroup entropies. That upper-bounds the true batch entropy
and still rewards using every bit pattern within a subgroup, not only balanced single bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LFQOutput:
    codes: torch.Tensor  # (B, bits, t, h, w) in {-1, +1}, straight-through gradient to z
    indices: torch.Tensor  # (B, t, h, w) long
    commitment: torch.Tensor  # scalar
    entropy: torch.Tensor  # scalar: per-sample entropy - gamma * batch entropy (nats)
    per_sample_entropy: torch.Tensor  # scalar, for logging
    batch_entropy: torch.Tensor  # scalar, for logging


def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-8)) + (1 - p) * torch.log((1 - p).clamp_min(1e-8)))


class LFQ(nn.Module):
    """Sign quantizer with an implicit {-1, +1}^bits codebook; `vocab_size = 2 ** bits`."""

    def __init__(self, bits: int, entropy_temperature: float = 0.1, entropy_gamma: float = 1.0,
                 entropy_group_bits: int = 7) -> None:
        super().__init__()
        if not 1 <= bits <= 30:
            raise ValueError(f"bits must be in [1, 30], got {bits}")
        if entropy_temperature <= 0 or entropy_group_bits < 1:
            raise ValueError("entropy_temperature must be > 0 and entropy_group_bits >= 1")
        self.bits = bits
        self.temperature = entropy_temperature
        self.gamma = entropy_gamma
        n_groups = math.ceil(bits / entropy_group_bits)
        base, extra = divmod(bits, n_groups)
        self.group_sizes = [base + (1 if g < extra else 0) for g in range(n_groups)]  # balanced split
        self.register_buffer("powers", 2 ** torch.arange(bits, dtype=torch.long), persistent=False)

    @property
    def vocab_size(self) -> int:
        return 2**self.bits

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, bits, ...) in {-1, +1} (or any real: the sign is used) -> (B, ...) long."""
        positive = (codes > 0).long()
        shape = (1, self.bits) + (1,) * (codes.dim() - 2)
        return (positive * self.powers.view(shape)).sum(dim=1)

    def indices_to_codes(self, indices: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(B, ...) long -> (B, bits, ...) in {-1, +1}."""
        if indices.min() < 0 or indices.max() >= self.vocab_size:
            raise ValueError(f"indices must be in [0, {self.vocab_size})")
        return self.unpack(indices, dtype)

    def unpack(self, indices: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """`indices_to_codes` without the range check (no data-dependent branch, so it exports to ONNX)."""
        shape = (1, self.bits) + (1,) * (indices.dim() - 1)
        bits = (indices.unsqueeze(1) // self.powers.view(shape)) % 2
        return (bits * 2 - 1).to(dtype)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Hard sign, 0 -> -1 (consistent with `codes_to_indices`, which sets a bit only for > 0)."""
        return torch.where(z > 0, torch.ones_like(z), -torch.ones_like(z))

    def entropy_terms(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-sample entropy, batch entropy) in nats over all latents of z (B, bits, ...)."""
        logits = (2.0 / self.temperature) * z.movedim(1, -1).reshape(-1, self.bits).float()  # (N, bits)
        p_pos = torch.sigmoid(logits)  # (N, bits): p(channel = +1)
        per_sample = _binary_entropy(p_pos).sum(dim=1).mean()
        batch = z.new_zeros((), dtype=torch.float32)
        for p in p_pos.split(self.group_sizes, dim=1):  # (N, g) each
            g = p.shape[1]
            arange = torch.arange(2**g, device=z.device).unsqueeze(1)
            pattern = ((arange >> torch.arange(g, device=z.device)) & 1).float()  # (2^g, g) bit patterns
            # p(pattern) = prod_i p_i^b_i (1 - p_i)^(1 - b_i), formed in log space: (N, 2^g)
            log_p, log_not_p = torch.log(p.clamp_min(1e-8)), torch.log((1 - p).clamp_min(1e-8))
            log_joint = log_p @ pattern.T + log_not_p @ (1 - pattern).T
            mean = log_joint.exp().mean(dim=0)  # (2^g,)
            batch = batch - (mean * torch.log(mean.clamp_min(1e-8))).sum()
        return per_sample, batch

    def forward(self, z: torch.Tensor) -> LFQOutput:
        """z: (B, bits, t, h, w) -> codes with straight-through gradients, indices and losses."""
        if z.shape[1] != self.bits:
            raise ValueError(f"expected {self.bits} channels, got {z.shape[1]}")
        q = self.quantize(z)
        codes = z + (q - z).detach()  # straight-through: forward q, backward identity
        commitment = F.mse_loss(z, q.detach())
        if self.training:
            per_sample, batch = self.entropy_terms(z)
        else:
            per_sample = batch = z.new_zeros(())
        return LFQOutput(codes=codes, indices=self.codes_to_indices(q), commitment=commitment,
                         entropy=per_sample - self.gamma * batch, per_sample_entropy=per_sample,
                         batch_entropy=batch)
