"""The generator: a decoder-only prefix LM over the shared vocabulary (VideoPoet, arXiv 2312.14125).

Maps token ids (plus optional text embeddings) to logits and nothing else; sampling lives in
`engine.sampling`, sequence layouts in `engine.tasks`.

- Attention is bidirectional over the prefix `[0, prefix_len)` (task token, text, conditioning
  segments, the output's begin marker) and causal after it. `prefix_len=None` makes every position
  bidirectional: the masked (MAGVIT/MaskGIT) decoder reuses this backbone that way.
- Text: the frozen encoder's per-token embeddings (B, Lt, text_dim) are projected to the model width
  and replace the `text` slot tokens at positions [1, 1 + Lt), right after the task token. Slots
  whose `text_mask` is False, or all slots when `text` is None, are hidden from every query, so
  "no prompt", a dropped caption (training) and the unconditional half of classifier-free guidance
  are the same thing.
- Positions: rotary embeddings (RoPE) on the sequence index, plus learned factorised (t, h, w)
  embeddings added to video tokens (`grid`, 1-based, 0 = not a video token). RoPE rather than
  learned absolute positions because the prefix length varies by task (with or without text, an
  input clip, a control clip), so the same output token sits at different absolute indices; RoPE
  only sees relative offsets, and the KV-cache step just rotates by `pos`. The 1D offset between
  vertically adjacent video tokens is w, which a small model learns slowly, so the grid embedding
  tells every video token its (t, h, w) directly, identically in every task and segment.
- Video tokens are factorised (MAGVIT-v2, arXiv 2310.05737, section 3.1): an LFQ index is its bits,
  so a 2^14 code is split into `video_factors` sub-tokens of 7 bits. Its input embedding is the sum of
  one embedding per sub-token, and the output head predicts each sub-token with its own small
  softmax; the joint logit of a code is the sum of its sub-token logits, so the joint distribution
  over the video codes is the product of the sub-token distributions. The head then costs
  2 x 128 outputs instead of 16,384 (it was two thirds of a training step on the CPU), and every
  sub-token embedding is trained by 128x more tokens than a per-code one. `logits` still returns
  the whole vocabulary, so sampling, guidance and top-k/top-p work on codes as before. Special and
  audio ids keep an ordinary embedding table and head.
- KV cache (gpt-fast): `setup_caches`, then `prefill(prefix)` and `decode(tokens, pos)` /
  `decode_one(token, pos)`; the result equals a full forward pass up to float rounding. A decode
  step on a CPU is bound by the bytes it reads, so attention reads only the filled part of the
  cache, `linear` streams the weights the faster way for so few rows, and with an `id_range` only
  the head that range needs runs.

No dtype is assumed: RoPE is computed in float32 and cast to the activations' dtype, so the model
runs in bf16 on CUDA as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.components import Component
from engine.transformer.vocab import Vocab


@dataclass
class TransformerConfig:
    video_vocab: int = 2**14  # the vocabulary (see vocab.Vocab) is part of the checkpoint
    audio_vocab_per_level: int = 1024
    audio_levels: int = 4
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    max_seq_len: int = 2048
    text_dim: int = 384  # all-MiniLM-L6-v2 per-token embeddings
    grid_size: tuple[int, int, int] = (8, 16, 16)  # largest (t, h, w) video latent grid
    mlp_hidden: int = 0  # SwiGLU width; 0 -> 8/3 * d_model rounded up to a multiple of 64
    video_factors: int = 2  # sub-tokens per video code (its bits split as evenly as possible)
    dropout: float = 0.0
    rope_theta: float = 10000.0

    def __post_init__(self) -> None:
        self.grid_size = tuple(self.grid_size)
        if min(self.d_model, self.n_layers, self.n_heads, self.max_seq_len, self.text_dim) < 1:
            raise ValueError("d_model, n_layers, n_heads, max_seq_len and text_dim must be positive")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError("d_model must split into n_heads heads of an even width (RoPE rotates pairs)")
        if len(self.grid_size) != 3 or min(self.grid_size) < 1:
            raise ValueError("grid_size must be three positive ints (t, h, w)")
        if not 0.0 <= self.dropout < 1.0 or self.rope_theta <= 0 or self.mlp_hidden < 0:
            raise ValueError("dropout must be in [0, 1), rope_theta > 0, mlp_hidden >= 0")
        if self.mlp_hidden == 0:
            self.mlp_hidden = 64 * math.ceil(8 * self.d_model / 3 / 64)
        _ = self.vocab  # validates the vocabulary fields
        _ = self.factor_sizes  # validates video_factors

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Values of each video sub-token, most significant first: 2^14 codes in 2 factors -> (128, 128).

        A code is its sub-tokens' mixed-radix number: code = d0 * sizes[1] + d1 for two factors.
        """
        bits = self.video_vocab.bit_length() - 1
        if self.video_factors == 1:
            return (self.video_vocab,)
        if self.video_factors < 1 or 1 << bits != self.video_vocab or self.video_factors > bits:
            raise ValueError("video_factors must be 1, or split a power-of-two video_vocab into >= 1-bit parts")
        q, r = divmod(bits, self.video_factors)
        return tuple(1 << (q + (i < r)) for i in range(self.video_factors))

    @property
    def vocab(self) -> Vocab:
        return Vocab(self.video_vocab, self.audio_vocab_per_level, self.audio_levels)

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


def rope(pos: Tensor, head_dim: int, theta: float) -> tuple[Tensor, Tensor]:
    """(T,) positions -> cos, sin of shape (T, head_dim // 2), float32."""
    inv_freq = theta ** -(torch.arange(0, head_dim, 2, device=pos.device, dtype=torch.float32) / head_dim)
    angles = pos.float()[:, None] * inv_freq[None]  # (T, Dh/2)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate consecutive channel pairs of x (B, H, T, Dh) by the position angles."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)  # (B, H, T, Dh/2) each
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    return out.type_as(x)


def linear(x: Tensor, weight: Tensor) -> Tensor:
    """x (..., in) @ weight.T (out, in) -> (..., out).

    KV-cached decoding has a handful of rows (one token per sequence) and reads every weight once per
    token, so it is bound by how fast the weights stream in. For so few rows on a CPU, MKL streams a
    weight ~2.5x faster as weight @ x.T than as F.linear's x @ weight.T (measured on the 2-core host:
    9.6 vs 3.7 GB/s for (2, 256) x (768, 256) weights that are not in cache). Elsewhere: F.linear.
    """
    rows = x.numel() // x.shape[-1]
    if rows > 8 or x.device.type != "cpu":
        return F.linear(x, weight)
    return (weight @ x.reshape(rows, -1).T).T.reshape(*x.shape[:-1], weight.shape[0])


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
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.out = nn.Linear(config.d_model, config.d_model, bias=False)
        self.cache: KVCache | None = None

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor,
                pos: Tensor | None, end: int = 0) -> Tensor:
        """x (B, T, C); with `pos` (T,) the keys/values go to the cache and attention reads its
        first `end` positions (the filled part: decoding is bound by the bytes it reads)."""
        B, T, C = x.shape
        qkv = linear(x, self.qkv.weight).view(B, T, 3, self.n_heads, C // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (B, H, T, Dh) each
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if pos is not None:
            k, v = self.cache.update(pos, k, v)  # (B, H, S, Dh)
            k, v = k[:, :, :end], v[:, :, :end]  # (B, H, end, Dh)
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)  # (B, H, T, Dh)
        return linear(y.transpose(1, 2).reshape(B, T, C), self.out.weight)  # (B, T, C)


class MLP(nn.Module):
    """SwiGLU feed-forward."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.w1 = nn.Linear(config.d_model, config.mlp_hidden, bias=False)
        self.w3 = nn.Linear(config.d_model, config.mlp_hidden, bias=False)
        self.w2 = nn.Linear(config.mlp_hidden, config.d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return linear(F.silu(linear(x, self.w1.weight)) * linear(x, self.w3.weight), self.w2.weight)


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(config.d_model), nn.RMSNorm(config.d_model)
        self.attn, self.mlp = Attention(config), MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor,
                pos: Tensor | None, end: int = 0) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), cos, sin, mask, pos, end))
        return x + self.drop(self.mlp(self.norm2(x)))


class Transformer(Component):
    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        c = config
        self.text_id = c.vocab.text
        self.video_lo, self.video_hi = c.vocab.video_range
        self.tok_emb = nn.Embedding(c.vocab_size - c.video_vocab, c.d_model)  # special + audio ids
        self.video_emb = nn.ModuleList(nn.Embedding(n, c.d_model) for n in c.factor_sizes)
        self.text_proj = nn.Linear(c.text_dim, c.d_model)
        self.grid_emb = nn.ModuleList(nn.Embedding(n + 1, c.d_model, padding_idx=0) for n in c.grid_size)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = nn.RMSNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size - c.video_vocab, bias=False)  # special + audio ids
        self.video_head = nn.Linear(c.d_model, sum(c.factor_sizes), bias=False)  # every sub-token's logits
        self.register_buffer("cache_valid", None, persistent=False)  # (B, max_len) bool once set up
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections by depth
            if name.endswith(("attn.out.weight", "mlp.w2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()

    # ---- vocabulary: factorised video codes, a plain table for the rest ---------------------------
    def _split(self, ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """ids (...) -> is_video (...), other index into tok_emb/head (...), sub-tokens (..., F)."""
        is_video = (ids >= self.video_lo) & (ids < self.video_hi)
        other = torch.where(ids >= self.video_hi, ids - self.config.video_vocab, ids).masked_fill(is_video, 0)
        code = (ids - self.video_lo).clamp(0, self.config.video_vocab - 1)
        digits, place = [], self.config.video_vocab
        for size in self.config.factor_sizes:
            place //= size
            digits.append(code // place % size)
        return is_video, other, torch.stack(digits, -1)

    def embed_tokens(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> (B, T, C): a video code is the sum of its sub-token embeddings."""
        is_video, other, digits = self._split(ids)
        video = sum(emb(digits[..., i]) for i, emb in enumerate(self.video_emb))
        return torch.where(is_video[..., None], video, self.tok_emb(other))

    def logits(self, h: Tensor, id_range: tuple[int, int] | None = None) -> Tensor:
        """Hidden states (..., C) -> logits over the whole vocabulary (..., V).

        A video code's logit is the sum of its sub-tokens' logits, so a softmax over the video range
        is the product of the sub-token softmaxes. Comparing a video logit with a special or audio
        one means nothing: samplers always cut the logits to one id range first. With `id_range`
        [lo, hi) only the head rows that range needs are computed (decoding reads every weight it
        uses once per token, so the other 4,000 head rows or the video head would cost time) and
        every logit outside the range is -inf.
        """
        n, V = self.video_lo, self.config.vocab_size
        lo, hi = id_range or (0, V)
        video, special, audio = n <= lo and hi <= self.video_hi, hi <= n, lo >= self.video_hi
        if video or special or audio:  # one kind of id: compute only its head
            out = h.new_full((*h.shape[:-1], V), float("-inf"))
            if video:
                out[..., n:self.video_hi] = self._video_logits(h)
            else:  # rows of `head`, which holds every id but the video codes
                shift = self.config.video_vocab if audio else 0
                out[..., lo:hi] = linear(h, self.head.weight[lo - shift:hi - shift])
            return out
        other = linear(h, self.head.weight)  # (..., num_special + audio ids)
        return torch.cat((other[..., :n], self._video_logits(h), other[..., n:]), -1)

    def _video_logits(self, h: Tensor) -> Tensor:
        """(..., C) -> (..., video_vocab) joint logits of the video codes from the sub-token heads."""
        joint = None
        for part in linear(h, self.video_head.weight).split(self.config.factor_sizes, -1):  # (..., size_f) each
            joint = part if joint is None else (joint[..., :, None] + part[..., None, :]).flatten(-2)
        return joint

    def token_losses(self, h: Tensor, targets: Tensor) -> Tensor:
        """Cross-entropy of targets (N,) under hidden states h (N, C) -> (N,), without ever forming
        the 20k-wide logits: a video target costs one small softmax per sub-token. Both heads run
        even on an empty selection, so every parameter gets a gradient (DDP needs that)."""
        is_video, other, digits = self._split(targets)
        loss = torch.zeros(targets.shape, dtype=torch.float32, device=h.device)
        loss[~is_video] = F.cross_entropy(self.head(h[~is_video]).float(), other[~is_video], reduction="none")
        parts = self.video_head(h[is_video]).float().split(self.config.factor_sizes, -1)  # (n, size_f) each
        d = digits[is_video]  # (n, F)
        loss[is_video] = sum(F.cross_entropy(part, d[:, i], reduction="none") for i, part in enumerate(parts))
        return loss

    # ---- shared pieces -------------------------------------------------------------------------
    def _embed(self, ids: Tensor, text: Tensor | None, text_mask: Tensor | None,
               grid: Tensor | None) -> tuple[Tensor, Tensor]:
        """ids (B, T) starting at position 0 when `text` is given -> x (B, T, C), key_valid (B, T)."""
        x = self.embed_tokens(ids)  # (B, T, C)
        is_text = ids == self.text_id  # (B, T)
        valid = ~is_text
        if text is not None:
            Lt = text.shape[1]
            if ids.shape[1] < 1 + Lt or is_text[:, 0].any() or is_text[:, 1 + Lt:].any():
                raise ValueError(f"text slots must sit at positions [1, {1 + Lt}) of the sequence")
            slot = is_text[:, 1:1 + Lt]  # (B, Lt): rows without a text slot keep their tokens
            keep = slot if text_mask is None else slot & text_mask.bool()
            projected = self.text_proj(text.to(x.dtype))  # (B, Lt, C)
            x_text = torch.where(slot[..., None], projected, x[:, 1:1 + Lt])
            x = torch.cat((x[:, :1], x_text, x[:, 1 + Lt:]), 1)
            valid = torch.cat((valid[:, :1], valid[:, 1:1 + Lt] | keep, valid[:, 1 + Lt:]), 1)
        if grid is not None:  # (B, T, 3) 1-based (t, h, w), 0 = not a video token
            x = x + sum(emb(grid[..., i]) for i, emb in enumerate(self.grid_emb))
        return self.drop(x), valid

    def _run(self, x: Tensor, pos: Tensor, mask: Tensor, end: int | None = None) -> Tensor:
        """Through the blocks; with `end`, the KV-cached path (keys [0, end), `mask` (B, 1, T, end))."""
        cos, sin = rope(pos, self.config.head_dim, self.config.rope_theta)  # (T, Dh/2)
        for block in self.blocks:
            x = block(x, cos, sin, mask, None if end is None else pos, end or 0)
        return self.norm(x)

    # ---- full sequence (training, scoring, masked decoding) ---------------------------------------
    def forward(self, ids: Tensor, prefix_len: int | Tensor | None, text: Tensor | None = None,
                text_mask: Tensor | None = None, grid: Tensor | None = None,
                targets: Tensor | None = None) -> Tensor:
        """ids (B, L), text (B, Lt, text_dim), text_mask (B, Lt), grid (B, L, 3) -> logits (B, L, V).

        `prefix_len` (int or (B,)) positions attend bidirectionally; None = all of them. With
        `targets` (B, L) (negative = no loss) it returns the per-token losses (B, L) instead, 0 where
        there is no target; only the target positions reach the output heads.
        """
        h = self.features(ids, prefix_len, text, text_mask, grid)  # (B, L, C)
        if targets is None:
            return self.logits(h)
        has = targets >= 0
        losses = torch.zeros(targets.shape, dtype=torch.float32, device=h.device)
        losses[has] = self.token_losses(h[has], targets[has])
        return losses

    def features(self, ids: Tensor, prefix_len: int | Tensor | None, text: Tensor | None = None,
                 text_mask: Tensor | None = None, grid: Tensor | None = None) -> Tensor:
        """As `forward`, up to the final norm: hidden states (B, L, C) for `logits` or `token_losses`."""
        L = ids.shape[1]
        if self.config.max_seq_len < L:
            raise ValueError(f"sequence of {L} tokens exceeds max_seq_len {self.config.max_seq_len}")
        pos = torch.arange(L, device=ids.device)
        x, valid = self._embed(ids, text, text_mask, grid)
        return self._run(x, pos, attention_mask(pos, pos, prefix_len, valid))

    # ---- KV-cached decoding --------------------------------------------------------------------
    def setup_caches(self, batch_size: int, max_len: int | None = None,
                     dtype: torch.dtype | None = None) -> None:
        """Allocate one KVCache per layer (and the key-validity row) for `batch_size` sequences."""
        max_len = max_len or self.config.max_seq_len
        if max_len > self.config.max_seq_len:
            raise ValueError(f"max_len {max_len} exceeds max_seq_len {self.config.max_seq_len}")
        weight = self.head.weight
        for block in self.blocks:
            block.attn.cache = KVCache(batch_size, self.config.n_heads, max_len, self.config.head_dim,
                                       dtype or weight.dtype, weight.device)
        self.cache_valid = torch.zeros(batch_size, max_len, dtype=torch.bool, device=weight.device)

    def clear_caches(self) -> None:
        for block in self.blocks:
            block.attn.cache = None
        self.cache_valid = None

    def _cached_mask(self, start: int, valid: Tensor, prefix_len: int) -> tuple[Tensor, Tensor]:
        """Record which of positions [start, start + T) are visible keys -> (positions (T,), mask over
        the keys filled so far (B, 1, T, start + T))."""
        if self.cache_valid is None:
            raise RuntimeError("call setup_caches() before prefill/decode")
        (B, S), (b, T) = self.cache_valid.shape, valid.shape
        end = start + T
        if b != B or end > S:
            raise ValueError(f"the cache holds {B} sequences of {S} tokens; got {b} reaching {end}")
        self.cache_valid[:, start:end] = valid
        pos = torch.arange(start, end, device=valid.device)
        return pos, attention_mask(pos, torch.arange(end, device=valid.device), prefix_len, self.cache_valid[:, :end])

    @torch.no_grad()
    def prefill(self, ids: Tensor, text: Tensor | None = None, text_mask: Tensor | None = None,
                grid: Tensor | None = None, id_range: tuple[int, int] | None = None) -> Tensor:
        """Run the prefix ids (B, P) bidirectionally into the cache -> logits at its last position (B, V)
        (only `id_range`'s finite, see `logits`)."""
        x, valid = self._embed(ids, text, text_mask, grid)
        if self.cache_valid is not None:
            self.cache_valid.zero_()  # forget the previous request
        pos, mask = self._cached_mask(0, valid, prefix_len=ids.shape[1])
        return self.logits(self._run(x, pos, mask, end=ids.shape[1])[:, -1], id_range)

    @torch.no_grad()
    def decode(self, tokens: Tensor, pos: int, grid: Tensor | None = None,
               id_range: tuple[int, int] | None = None) -> Tensor:
        """Append tokens (B, T) at positions [pos, pos + T), causally -> logits (B, T, V) (only
        `id_range`'s finite, see `logits`).

        No host synchronisation happens here, so a CUDA decode loop never waits on the device.
        """
        x, valid = self._embed(tokens, None, None, grid)
        positions, mask = self._cached_mask(pos, valid, prefix_len=0)  # causal
        return self.logits(self._run(x, positions, mask, end=pos + tokens.shape[1]), id_range)

    def decode_one(self, token: Tensor, pos: int, grid: Tensor | None = None) -> Tensor:
        """token (B,) at position pos, grid (B, 3) -> logits (B, V) for position pos + 1."""
        return self.decode(token[:, None], pos, None if grid is None else grid[:, None])[:, -1]
