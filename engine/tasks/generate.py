"""Run one task instance through the transformer with the autoregressive decoder.

The glue between the three parts: `TransformerStepper` binds a `Transformer` to one request (text,
grid positions, KV cache) in the shape `engine.sampling.Stepper` expects, and `generate` turns a
`Sequence` into the output token grid.
"""

from __future__ import annotations

import torch
from torch import Tensor

from engine.sampling import Progress, generate_autoregressive
from engine.tasks.sequence import Sequence
from engine.transformer.model import Transformer


class TransformerStepper:
    """A Stepper over `model` for sequences of `length` tokens, with the conditioning of each row:
    grid (B', L, 3) positions, text (B', Lt, D) and text_mask (B', Lt) (None: no prompt)."""

    def __init__(self, model: Transformer, length: int, grid: Tensor, text: Tensor | None = None,
                 text_mask: Tensor | None = None) -> None:
        self.model, self.grid, self.text, self.text_mask = model, grid, text, text_mask
        model.setup_caches(grid.shape[0], length)

    def prefill(self, ids: Tensor) -> Tensor:
        P = ids.shape[1]
        return self.model.prefill(ids, self.text, self.text_mask, self.grid[:, :P])  # (B', V)

    def decode(self, tokens: Tensor, pos: int) -> Tensor:
        grid = self.grid[:, pos:pos + tokens.shape[1]]
        return self.model.decode(tokens, pos, grid)[:, -1]  # (B', V)


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
    progress: Progress | None = None,
) -> Tensor:
    """Generate the output of `seq` -> its token grid: video (t, h, w) or audio (levels, frames) indices.

    text (Lt, text_dim) and text_mask (Lt,) fill the sequence's text slots (Lt = seq.text_len); without
    text the slots stay hidden (no prompt). cfg_scale guides against the same sequence with the
    prompt hidden, so it needs a prompt. The known output tokens are kept exactly. The generator
    must live on the model's device (torch.Generator("cuda") on a GPU).
    """
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
    was_training = model.training
    model.eval()  # no dropout while decoding, even when called from a training loop
    stepper = TransformerStepper(model, len(seq), grid, text, text_mask)
    try:
        out = generate_autoregressive(
            stepper, ids[:, :seq.prefix_len], seq.num_output, generator, allowed=seq.allowed.to(device),
            forced_mask=seq.known, forced_values=ids[:, seq.output], temperature=temperature, top_k=top_k,
            top_p=top_p, cfg_scale=cfg_scale, progress=progress,
        )
    finally:
        model.clear_caches()
        model.train(was_training)
    return seq.output_tokens(out[0].cpu())
