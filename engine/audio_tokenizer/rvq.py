"""Residual vector quantization (SoundStream, arXiv 2107.03312), with EMA codebooks.

Each level quantizes what the previous levels left over, so the first index carries the coarse
sound and later ones refine it; the decoder sees the sum of the chosen code vectors. Codebooks are
buffers updated by exponential moving averages of their assigned vectors (no codebook gradient),
initialised from the first batch, and a code left unused for `restart_after` steps is restarted
from a random vector of the current batch. Under torch.distributed the EMA statistics are summed
over ranks and restarts are broadcast from rank 0, so every rank keeps identical codebooks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


@dataclass
class RVQOutput:
    quantized: torch.Tensor  # (B, D, T) straight-through sum of the kept levels
    indices: torch.Tensor  # (B, L, T) long
    commit_loss: torch.Tensor  # scalar, summed over levels


class VectorQuantizer(nn.Module):
    """One EMA codebook of `codebook_size` vectors of `dim` channels."""

    def __init__(self, dim: int, codebook_size: int, decay: float = 0.99, restart_after: int = 100,
                 eps: float = 1e-5) -> None:
        super().__init__()
        self.decay, self.restart_after, self.eps = decay, restart_after, eps
        self.register_buffer("codebook", torch.randn(codebook_size, dim))  # (K, D)
        self.register_buffer("cluster_size", torch.ones(codebook_size))  # (K,) EMA of assignments
        self.register_buffer("embed_sum", self.codebook.clone())  # (K, D) EMA of assigned vectors
        self.register_buffer("unused_steps", torch.zeros(codebook_size, dtype=torch.long))  # (K,)
        self.register_buffer("initialized", torch.tensor(False))

    @property
    def codebook_size(self) -> int:
        return self.codebook.shape[0]

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """(M, D) -> (M,) index of the closest code (squared Euclidean distance, first on ties)."""
        cb = self.codebook
        dist2 = x.pow(2).sum(1, keepdim=True) - 2 * x @ cb.t() + cb.pow(2).sum(1)[None]  # (M, K)
        return dist2.argmin(dim=1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """(...,) long -> (..., D)."""
        return F.embedding(indices, self.codebook)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, D) -> (code vectors (M, D), indices (M,)); updates the codebook when training."""
        if self.training:
            self._update(x.detach())
        indices = self.nearest(x.detach())
        return self.lookup(indices), indices

    @torch.no_grad()
    def _update(self, x: torch.Tensor) -> None:
        if not bool(self.initialized):
            self._replace(torch.ones(self.codebook_size, dtype=torch.bool, device=x.device), x)
            self.initialized.fill_(True)
        indices = self.nearest(x)
        counts = torch.bincount(indices, minlength=self.codebook_size).to(x.dtype)  # (K,)
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, x)  # (K, D)
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.codebook_size * self.eps) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        dead = self.unused_steps >= self.restart_after
        if bool(dead.any()):
            self._replace(dead, x)

    def _replace(self, mask: torch.Tensor, x: torch.Tensor) -> None:
        """Set the codes in `mask` (K,) bool to random rows of `x` (M, D); rank 0's choice wins."""
        n = int(mask.sum())
        picks = torch.randint(0, x.shape[0], (n,), device=x.device)
        noise = 1e-3 * x.std() * torch.randn(n, x.shape[1], device=x.device, dtype=x.dtype)
        self.codebook[mask] = x[picks] + noise  # noise keeps repeated picks distinct
        self.embed_sum[mask] = self.codebook[mask]
        self.cluster_size[mask] = 1.0
        self.unused_steps[mask] = 0
        if _distributed():
            for buffer in (self.codebook, self.embed_sum, self.cluster_size, self.unused_steps):
                dist.broadcast(buffer, src=0)


class ResidualVQ(nn.Module):
    """`levels` vector quantizers applied to successive residuals of a (B, D, T) latent.

    `dropout` is the fraction of training examples that keep only their first n ~ U{1..levels}
    levels (SoundStream's quantizer dropout), so one model decodes from any prefix of the levels
    and the benefit of each level can be measured after training.
    """

    def __init__(self, dim: int, levels: int = 4, codebook_size: int = 1024, decay: float = 0.99,
                 restart_after: int = 100, dropout: float = 0.5) -> None:
        super().__init__()
        if levels < 1 or codebook_size < 2:
            raise ValueError("ResidualVQ needs levels >= 1 and codebook_size >= 2")
        self.dim, self.levels, self.codebook_size, self.dropout = dim, levels, codebook_size, dropout
        self.quantizers = nn.ModuleList(
            VectorQuantizer(dim, codebook_size, decay, restart_after) for _ in range(levels))

    def forward(self, z: torch.Tensor, levels: int | None = None) -> RVQOutput:
        """Quantize z (B, D, T) with the first `levels` levels (all by default)."""
        levels = self.levels if levels is None else levels
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(b * t, d)  # (B*T, D)
        codes, indices, commit = [], [], z.new_zeros(())
        # every level runs in training even when dropped, so all ranks make the same collective calls
        for quantizer in self.quantizers[: self.levels if self.training else levels]:
            code, index = quantizer(residual)
            commit = commit + F.mse_loss(residual, code.detach())
            residual = residual - code.detach()
            codes.append(code.reshape(b, t, d))
            indices.append(index.reshape(b, t))
        stacked = torch.stack(codes, dim=1)  # (B, L, T, D)
        keep = torch.arange(stacked.shape[1], device=z.device)[None] < levels  # (1, L)
        if self.training and self.dropout > 0:
            kept = torch.randint(1, self.levels + 1, (b, 1), device=z.device)
            dropped = torch.rand(b, 1, device=z.device) < self.dropout
            keep = keep & torch.where(dropped, torch.arange(self.levels, device=z.device)[None] < kept, True)
        quantized = (stacked * keep[:, :, None, None]).sum(1).permute(0, 2, 1)  # (B, D, T)
        quantized = z + (quantized - z).detach()  # straight-through estimator
        return RVQOutput(quantized, torch.stack(indices, dim=1)[:, :levels], commit)

    def encode(self, z: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """(B, D, T) -> (B, L, T) long, greedy residual nearest codes (never updates codebooks)."""
        levels = self.levels if levels is None else levels
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(b * t, d)
        indices = []
        for quantizer in self.quantizers[:levels]:
            index = quantizer.nearest(residual)
            residual = residual - quantizer.lookup(index)
            indices.append(index.reshape(b, t))
        return torch.stack(indices, dim=1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, L, T) long -> per-level code vectors (B, L, D, T); L may be fewer than `levels`."""
        codes = [q.lookup(indices[:, i]) for i, q in enumerate(self.quantizers[: indices.shape[1]])]
        return torch.stack(codes, dim=1).permute(0, 1, 3, 2)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, L, D, T) per-level code vectors -> (B, L, T); exact inverse of `indices_to_codes`."""
        b, levels, d, t = codes.shape
        flat = codes.permute(0, 1, 3, 2)  # (B, L, T, D)
        out = [q.nearest(flat[:, i].reshape(b * t, d)).reshape(b, t)
               for i, q in enumerate(self.quantizers[:levels])]
        return torch.stack(out, dim=1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, L, T) long -> the decoder's input (B, D, T): the sum of the levels' code vectors."""
        return self.indices_to_codes(indices).sum(dim=1)
