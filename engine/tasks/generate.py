"""Run one task instance through the transformer with either decoder.

The glue between the three parts. `TransformerStepper` binds a `Transformer` to one request (text,
grid positions, KV cache) in the shape `engine.sampling.Stepper` expects (autoregressive);
`CanvasModel` does the same for the masked decoder: it writes the current output tokens into the
whole sequence and runs it bidirectionally (`prefix_len=None`), the logits at position i predicting
the token at i. `generate` turns a `Sequence` into the output token grid with either of them and
counts the model's forward passes (a guided pass runs its two rows as one batch and counts once).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from engine.sampling import Factored, OnStep, Progress, generate_autoregressive, generate_masked
from engine.tasks.sequence import Sequence
from engine.transformer.model import Transformer

Decoding = Literal["autoregressive", "masked"]
DECODINGS: tuple[str, ...] = ("autoregressive", "masked")
DEFAULT_STEPS = 12  # MaskGIT / MAGVIT


class TransformerStepper:
    """A Stepper over `model` for sequences of `length` tokens, with the conditioning of each row:
    grid (B', L, 3) positions, text (B', Lt, D) and text_mask (B', Lt) (None: no prompt)."""

    def __init__(self, model: Transformer, length: int, grid: Tensor, text: Tensor | None = None,
                 text_mask: Tensor | None = None) -> None:
        self.model, self.grid, self.text, self.text_mask = model, grid, text, text_mask
        self.calls = 0
        if length > model.config.max_seq_len:
            raise ValueError(f"a sequence of {length} tokens exceeds max_seq_len {model.config.max_seq_len}")
        model.setup_caches(grid.shape[0])  # always max_seq_len long: a compiled step's shapes never change

    def prefill(self, ids: Tensor, id_range: tuple[int, int] | None = None) -> Tensor:
        self.calls += 1
        P = ids.shape[1]
        return self.model.prefill(ids, self.text, self.text_mask, self.grid[:, :P], id_range)  # (B', V)

    def decode(self, tokens: Tensor, pos: int, id_range: tuple[int, int] | None = None) -> Tensor:
        self.calls += 1
        T = tokens.shape[1]
        return self.model.decode(tokens, pos, self.grid[:, pos:pos + T], id_range)[:, -1]  # (B', V)


class CanvasModel:
    """The masked decoder's model: output ids (B', N), positions (B', n) and an id span [lo, hi) -> logits
    (B', n, hi - lo) at those output positions, from one bidirectional pass over the whole sequence
    `ids` (1, L) with the output block replaced. Only the requested rows reach the output heads (the
    prefix's never do), and only the heads the span needs run; for the video codes these are the
    sub-token logits, `Factored`, never summed into 16,384-wide rows. With `model.bf16_passes` the blocks run
    under bf16 autocast (~1.5x faster where the CPU has native bf16) and the heads in the model's dtype."""

    def __init__(self, model: Transformer, seq: Sequence, ids: Tensor, grid: Tensor, text: Tensor | None = None,
                 text_mask: Tensor | None = None) -> None:
        self.model, self.output, self.ids = model, seq.output, ids
        self.grid, self.text, self.text_mask = grid, text, text_mask
        self.calls = 0

    def __call__(self, tokens: Tensor, positions: Tensor, span: tuple[int, int] | None) -> Tensor | Factored:
        self.calls += 1
        ids = self.ids.expand(tokens.shape[0], -1).clone()  # (B', L)
        ids[:, self.output] = tokens
        with torch.autocast(ids.device.type, torch.bfloat16, enabled=self.model.bf16_passes):
            h = self.model.features(ids, None, self.text, self.text_mask, self.grid)[:, self.output]  # (B', N, C)
        h = h.gather(1, positions[..., None].expand(-1, -1, h.shape[-1])).to(self.model.head.weight.dtype)  # (B', n, C)
        if span == (self.model.video_lo, self.model.video_hi):
            return self.model.video_parts(h)  # (B', n, size_f) each: the sampler draws digit by digit
        return self.model.span_logits(h, *(span or (0, self.model.config.vocab_size)))  # (B', n, W)


class Generated(NamedTuple):
    tokens: Tensor  # video (t, h, w) or audio (levels, frames) indices, on the CPU
    forward_passes: int  # transformer calls (prefill + decodes, or one per masked step)


@torch.no_grad()
def generate(
    model: Transformer,
    seq: Sequence,
    generator: torch.Generator,
    *,
    text: Tensor | None = None,
    text_mask: Tensor | None = None,
    cfg_scale: float | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    decoding: Decoding = "autoregressive",
    steps: int = DEFAULT_STEPS,
    progress: Progress | None = None,
    on_step: OnStep | None = None,
) -> Generated:
    """Generate the output of `seq` -> (its token grid, the number of forward passes).

    text (Lt, text_dim) and text_mask (Lt,) fill the sequence's text slots (Lt = seq.text_len); without
    text the slots stay hidden (no prompt). cfg_scale guides against the same sequence with the
    prompt hidden, so it needs a prompt. The known output tokens are kept exactly. The generator
    must live on the model's device (torch.Generator("cuda") on a GPU).
    decoding "masked" runs MaskGIT in `steps` bidirectional passes (`engine.sampling.masked`);
    on_step(s, guesses (1, N)) then sees every output position's current best guess after step s.
    progress(done, N) counts decided output tokens in both modes.
    """
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    if text is not None and text.shape[0] != seq.text_len:
        raise ValueError(f"the sequence has {seq.text_len} text slots, the text has {text.shape[0]} tokens")
    if cfg_scale is not None and text is None:
        raise ValueError("classifier-free guidance needs a prompt (text)")
    device = model.head.weight.device
    ids, grid = seq.ids.to(device)[None], seq.grid.to(device)[None]  # (1, L), (1, L, 3)
    if text is not None:
        if text_mask is None:
            text_mask = torch.ones(seq.text_len, dtype=torch.bool)
        text, text_mask = text.to(device)[None], text_mask.to(device)[None]  # (1, Lt, D), (1, Lt)
        if cfg_scale is not None:  # rows: [conditional, unconditional (prompt hidden)]
            text, text_mask = text.repeat(2, 1, 1), torch.cat((text_mask, torch.zeros_like(text_mask)))
            grid = grid.repeat(2, 1, 1)
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "cfg_scale": cfg_scale,
                "progress": progress}
    allowed, known = seq.allowed.to(device), seq.known.to(device)
    was_training = model.training
    model.eval()  # no dropout while decoding, even when called from a training loop
    try:
        if decoding == "masked":
            runner = CanvasModel(model, seq, ids, grid, text, text_mask)
            out = generate_masked(runner, ids[:, seq.output], known, generator, mask_id=seq.vocab.mask,
                                  steps=steps, allowed=allowed, on_step=on_step, **sampling)
        else:
            runner = TransformerStepper(model, len(seq), grid, text, text_mask)
            out = generate_autoregressive(runner, ids[:, :seq.prefix_len], seq.num_output, generator,
                                          allowed=allowed, forced_mask=known, forced_values=ids[:, seq.output],
                                          **sampling)
    finally:
        model.clear_caches()
        model.train(was_training)
    return Generated(seq.output_tokens(out[0].cpu()), runner.calls)
