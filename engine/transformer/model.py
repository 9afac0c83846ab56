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
  the head that range needs runs. `compile_decoding` fuses the rest of a one-token step.

No dtype is assumed: RoPE is computed in float32 and cast to the activations' dtype, so the model
runs in bf16 on CUDA as it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.components import Component
from engine.sampling.logits import Factored
from engine.transformer.layers import Block, KVCache, Linear, attention_mask, linear, rope
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
        self.rope_table: Tensor | None = None  # (max_len, Dh/2, 2) once set up
        self._compiled_step: Callable[..., Tensor] | None = None  # see compile_decoding
        self.bf16_passes = False  # masked decoding's passes under bf16 autocast (Engine: CPUs with native bf16)
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
        V = self.config.vocab_size
        lo, hi = id_range or (0, V)
        if (lo, hi) == (0, V):
            return self.span_logits(h, 0, V)
        out = h.new_full((*h.shape[:-1], V), float("-inf"))
        out[..., lo:hi] = self.span_logits(h, lo, hi)
        return out

    def span_logits(self, h: Tensor, lo: int, hi: int) -> Tensor:
        """Hidden states (..., C) -> the logits of ids [lo, hi) only (..., hi - lo), computing only the
        heads that range needs: the masked decoder scores a whole clip per pass, where writing the
        other ~4,000 ids' logits (and -inf around them) cost as much as its sampling."""
        n, V = self.video_lo, self.config.vocab_size
        if not 0 <= lo < hi <= V:
            raise ValueError(f"id range [{lo}, {hi}) is not inside the vocabulary of {V}")
        if n <= lo and hi <= self.video_hi:  # video codes only
            return self._video_logits(h)[..., lo - n:hi - n]
        if hi <= n or lo >= self.video_hi:  # rows of `head`, which holds every id but the video codes
            shift = self.config.video_vocab if lo >= self.video_hi else 0
            return linear(h, self.head.weight[lo - shift:hi - shift])
        other = linear(h, self.head.weight)  # (..., num_special + audio ids)
        return torch.cat((other[..., :n], self._video_logits(h), other[..., n:]), -1)[..., lo:hi]

    def video_parts(self, h: Tensor) -> Factored:
        """(..., C) -> the video codes' logits as sub-token logits (..., size_f), most significant first."""
        return Factored(linear(h, self.video_head.weight).split(self.config.factor_sizes, -1))

    def _video_logits(self, h: Tensor) -> Tensor:
        """(..., C) -> (..., video_vocab) joint logits of the video codes from the sub-token heads."""
        return self.video_parts(h).joint()

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
        """Through the blocks; with `end`, the KV-cached path (keys [0, end), `mask` (B, 1, T, end)),
        whose rotations come from the table `setup_caches` made."""
        c = self.config
        rotation = rope(pos, c.head_dim, c.rope_theta) if end is None else self.rope_table[pos]  # (T, Dh/2, 2)
        for block in self.blocks:
            x = block(x, rotation, mask, None if end is None else pos, end or 0)
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
        # A plain attribute, not a buffer: `.to(bfloat16)` would round a buffer to bf16 (RoPE stays float32).
        self.rope_table = rope(torch.arange(max_len, device=weight.device), self.config.head_dim,
                               self.config.rope_theta)  # (max_len, Dh/2, 2)

    def compile_decoding(self, batch_sizes: tuple[int, ...] = ()) -> float:
        """Run every one-token decode step, from the token ids to the final norm, through
        `torch.compile` (gpt-fast), and compile it now for each of `batch_sizes` -> seconds taken.

        Eager, a step on the 2-core CPU is ~20 matmuls that stream the weights plus ~200 small ops
        (embeddings, norms, RoPE, masks, cache writes) at several microseconds each; Inductor fuses
        the small ones into a few C++ loops. Lengths and positions are dynamic, so one graph serves
        every position, but each batch size gets its own (a request uses 1, and 2 under guidance),
        and the caches' sizes are static shapes to it, so every request allocates them
        `max_seq_len` long. A batch size not compiled here compiles on its first step (tens of
        seconds on that CPU). The result equals the eager step up to float rounding. Needs a C++
        compiler on the CPU; if compiling fails, decoding stays eager and the error is raised.
        """
        start = time.perf_counter()
        self._compiled_step = torch.compile(self._decode_hidden, dynamic=True)
        device = self.head.weight.device
        # Any ids, at a position above 1 (torch.compile specialises 0 and 1; a request's are larger).
        ids = torch.zeros(max(batch_sizes, default=1), 3, dtype=torch.long, device=device)
        grid = torch.zeros(ids.shape[0], 1, 3, dtype=torch.long, device=device)  # requests always pass one
        try:
            for batch in batch_sizes:
                self.setup_caches(batch)
                self.prefill(ids[:batch])
                self.decode(ids[:batch, :1], 3, grid[:batch])
        except Exception:
            self._compiled_step = None
            raise
        finally:
            self.clear_caches()
        return time.perf_counter() - start

    def quantize_decoding(self) -> None:
        """Give every block's projection a weight-only int8 copy (`Linear.quantize_int8`) for the
        few-row products of decode steps on the CPU: they stream a quarter of the bytes. Full passes
        (training, prefill, masked decoding) keep the float weights."""
        for module in self.blocks.modules():
            if isinstance(module, Linear):
                module.quantize_int8()

    @property
    def decode_step(self) -> dict[str, Any]:
        """How a decode step runs (its block weights, whether it is compiled) and the masked passes' dtype."""
        quantized = any(isinstance(m, Linear) and m.int8 is not None for m in self.blocks.modules())
        passes = "bfloat16 autocast" if self.bf16_passes else str(self.head.weight.dtype).removeprefix("torch.")
        return {"block_weights": "int8" if quantized else "float", "compiled": self._compiled_step is not None,
                "masked_passes": passes}

    def clear_caches(self) -> None:
        for block in self.blocks:
            block.attn.cache = None
        self.cache_valid, self.rope_table = None, None

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
        if T == 1 and prefix_len == 0:  # one causal query sees every key so far: only validity matters
            return pos, self.cache_valid[:, None, None, :end]
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
        if tokens.shape[1] == 1 and self._compiled_step is not None:
            # Fresh copies: the graph guards on its inputs' strides and views, and a slice's depend on the request.
            fresh = {"memory_format": torch.contiguous_format}
            h = self._compiled_step(tokens.clone(**fresh), pos, None if grid is None else grid.clone(**fresh))
        else:
            h = self._decode_hidden(tokens, pos, grid)
        return self.logits(h, id_range)

    def _decode_hidden(self, tokens: Tensor, pos: int, grid: Tensor | None) -> Tensor:
        """`decode` up to the final norm: hidden states (B, T, C)."""
        x, valid = self._embed(tokens, None, None, grid)
        positions, mask = self._cached_mask(pos, valid, prefix_len=0)  # causal
        return self._run(x, positions, mask, end=pos + tokens.shape[1])

    def decode_one(self, token: Tensor, pos: int, grid: Tensor | None = None) -> Tensor:
        """token (B,) at position pos, grid (B, 3) -> logits (B, V) for position pos + 1."""
        return self.decode(token[:, None], pos, None if grid is None else grid[:, None])[:, -1]
