"""The generator's building blocks: rotary positions, the decode-step linear, the attention mask, the
KV cache, attention, the SwiGLU MLP and the pre-norm block. `model.py` puts them together.

Shapes: B sequences, T new positions, S cached positions, H heads of width Dh, C = H * Dh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from engine.transformer.model import TransformerConfig


def rope(pos: Tensor, head_dim: int, theta: float) -> Tensor:
    """(T,) positions -> rotations (T, head_dim // 2, 2): the cos and sin of each pair's angle, float32.

    Real rather than complex numbers: Inductor generates no code for complex ops (`compile_decoding`)."""
    inv_freq = theta ** -(torch.arange(0, head_dim, 2, device=pos.device, dtype=torch.float32) / head_dim)
    angles = pos.float()[:, None] * inv_freq[None]  # (T, Dh/2)
    return torch.stack((angles.cos(), angles.sin()), -1)


def apply_rope(x: Tensor, rotation: Tensor) -> Tensor:
    """Rotate consecutive channel pairs of x (B, T, n, H, Dh) by rotation (T, Dh/2, 2) (see `rope`):
    queries and keys (n = 2) at once, in float32."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)  # (B, T, n, H, Dh/2) each
    cos, sin = rotation[:, None, None].unbind(-1)  # (T, 1, 1, Dh/2) each
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2).type_as(x)


def linear(x: Tensor, weight: Tensor, int8: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """x (..., in) @ weight.T (out, in) -> (..., out).

    KV-cached decoding has a handful of rows (one token per sequence) and reads every weight once per
    token, so it is bound by how fast the weights stream in. For so few rows on a CPU, MKL streams a
    weight ~2.5x faster as weight @ x.T than as F.linear's x @ weight.T (measured on the 2-core host:
    9.6 vs 3.7 GB/s for (2, 256) x (768, 256) weights that are not in cache), and a weight-only int8
    copy (`Linear.quantize_int8`) read by ATen's int8 kernel with bf16 activations is 2.4x faster
    again (51 vs 126 us for that weight). Elsewhere: F.linear on the float weight.
    """
    rows = x.numel() // x.shape[-1]
    if rows > 8 or x.device.type != "cpu":
        return F.linear(x, weight)
    flat = x.reshape(rows, -1)
    if int8 is not None:
        out = torch.ops.aten._weight_int8pack_mm(flat.to(torch.bfloat16), *int8).to(x.dtype)
    else:
        out = (weight @ flat.T).T
    return out.reshape(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """A bias-free nn.Linear whose products take `linear`'s paths; `quantize_int8` adds the int8 copy
    that few-row products (decode steps on the CPU) read instead of the float weight."""

    int8: tuple[Tensor, Tensor] | None = None  # (weight (out, in) int8, scale (out,) bf16)

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.int8)

    def quantize_int8(self) -> None:
        """Weight-only int8 (gpt-fast), symmetric per output row: weight ~ int8 * scale. A plain
        attribute, so the checkpoint and the float path are unchanged."""
        w = self.weight.detach().float()
        scale = w.abs().amax(1).clamp(min=1e-12) / 127  # (out,)
        self.int8 = ((w / scale[:, None]).round().clamp(-127, 127).to(torch.int8), scale.to(torch.bfloat16))


def attention_mask(q_pos: Tensor, k_pos: Tensor, prefix_len: int | Tensor | None,
                   key_valid: Tensor) -> Tensor:
    """Boolean mask (B, 1, T, S), True = may attend.

    A key is visible to a query if it is valid (not a hidden text slot) and either not later than
    the query (causal) or inside the query row's prefix. `prefix_len` is an int, a (B,) tensor
    (a batch mixing tasks) or None (everything bidirectional).
    """
    if prefix_len is None:
        allowed = torch.ones(1, len(q_pos), len(k_pos), dtype=torch.bool, device=k_pos.device)
    else:
        prefix = torch.as_tensor(prefix_len, device=k_pos.device).reshape(-1, 1, 1)  # (B or 1, 1, 1)
        allowed = (k_pos[None, None, :] <= q_pos[None, :, None]) | (k_pos[None, None, :] < prefix)
    return (allowed & key_valid[:, None, :]).unsqueeze(1)


class KVCache(nn.Module):
    """Preallocated keys and values (B, H, max_len, Dh) of one attention layer, filled by index."""

    def __init__(self, batch_size: int, n_heads: int, max_len: int, head_dim: int, dtype: torch.dtype,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        shape = (batch_size, n_heads, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def update(self, pos: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write k, v (B, H, T, Dh) at positions pos (T,); return the whole cache."""
        self.k.index_copy_(2, pos, k.to(self.k.dtype))
        self.v.index_copy_(2, pos, v.to(self.v.dtype))
        return self.k, self.v


class Attention(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.dropout = config.n_heads, config.dropout
        self.qkv = Linear(config.d_model, 3 * config.d_model)
        self.out = Linear(config.d_model, config.d_model)
        self.cache: KVCache | None = None

    def forward(self, x: Tensor, rotation: Tensor, mask: Tensor,
                pos: Tensor | None, end: int = 0) -> Tensor:
        """x (B, T, C), rotation (T, Dh/2, 2) (see `rope`); with `pos` (T,) the keys/values go to the
        cache and attention reads its first `end` positions (the filled part: decoding is bound by
        the bytes it reads)."""
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads)
        q, k = apply_rope(qkv[:, :, :2], rotation).permute(2, 0, 3, 1, 4)  # (B, H, T, Dh) each
        v = qkv[:, :, 2].transpose(1, 2)  # (B, H, T, Dh)
        if pos is not None:
            k, v = self.cache.update(pos, k, v)  # (B, H, S, Dh)
            k, v = k[:, :, :end], v[:, :, :end]  # (B, H, end, Dh)
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)  # (B, H, T, Dh)
        return self.out(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class MLP(nn.Module):
    """SwiGLU feed-forward."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.w1 = Linear(config.d_model, config.mlp_hidden)
        self.w3 = Linear(config.d_model, config.mlp_hidden)
        self.w2 = Linear(config.mlp_hidden, config.d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(config.d_model), nn.RMSNorm(config.d_model)
        self.attn, self.mlp = Attention(config), MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, rotation: Tensor, mask: Tensor,
                pos: Tensor | None, end: int = 0) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), rotation, mask, pos, end))
        return x + self.drop(self.mlp(self.norm2(x)))
