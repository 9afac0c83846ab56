"""Fit chosen tokens to given pixels through the decoder (decoder inversion over LFQ bits).

Why: the decoder renders each pixel from the tokens around it (3 x 3 spatial kernels, causal in
time), so tokens that were generated also shape pixels the user asked to keep: the known region of
an inpaint or outpaint near its border, or interpolate's last frame, which shares its latent frame
with three generated frames. Keeping the known *tokens* exact is not enough to keep the known
*pixels*. Here the generated ("free") tokens' bits are optimised so that the decoded video matches
the target where it is known, while the rest of the video is held near its first decode.

Each free token's 14 bits get a real-valued logit initialised at +-0.5 from its sign; the decoder
sees the hard signs with a straight-through gradient (as LFQ is trained), Adam moves the logits, and
the best grid seen is kept, so the result is never worse on the loss than the input. Only the
free tokens change; everything runs under `torch.enable_grad` and takes gradients with respect to
the logits alone (the tokenizer's weights are untouched), also when the caller is in no-grad mode.
Deterministic for a given input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.video_tokenizer.model import VideoTokenizer

FIT_STEPS = 80  # 1.6-2.1 s for a 17-frame clip on 2 CPU threads
FIT_LR = 0.05
FIT_HOLD = 0.3  # weight of "stay near the first decode" on unknown pixels, against 1 on known ones


def fit_tokens(tokenizer: VideoTokenizer, tokens: torch.Tensor, free: torch.Tensor, target: torch.Tensor,
               known: torch.Tensor, steps: int = FIT_STEPS, lr: float = FIT_LR, hold: float = FIT_HOLD,
               on_step: Callable[[int], None] | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Re-choose the `free` tokens so the decoded video matches `target` on `known` pixels.

    tokens (t, h, w) long; free (t, h, w) bool, True = may change; target (3, T, H, W) in [-1, 1];
    known (T, H, W) bool, True = a pixel to match. Unknown pixels are held, with weight `hold`, to
    the decode of `tokens`. on_step(steps done) after each step (a progress bar: a step is a decode
    and its backward pass, ~20 ms on 2 CPU threads). dtype: an autocast dtype for the decoder's passes
    (bf16 took a third off the fit on a CPU with native bf16, the kept pixels' PSNR unchanged); None
    runs them in the decoder's own. -> tokens (t, h, w), equal to `tokens` wherever `free` is False.
    """
    if tokens.shape != free.shape:
        raise ValueError(f"free {tuple(free.shape)} must match tokens {tuple(tokens.shape)}")
    if target.shape[1:] != known.shape:
        raise ValueError(f"known {tuple(known.shape)} must match the target's frames {tuple(target.shape[1:])}")
    if steps <= 0 or not free.any():
        return tokens
    device = next(tokenizer.parameters()).device.type
    with (torch.inference_mode(False), torch.enable_grad(),  # normal tensors, even for a no-grad caller
          torch.autocast(device, dtype or torch.bfloat16, enabled=dtype is not None)):
        best = _fit(tokenizer, tokens.clone(), free.clone(), target.clone(), known.clone(), steps, lr, hold, on_step)
    return tokenizer.quantizer.codes_to_indices(best)[0].to(tokens.device)


def _fit(tokenizer: VideoTokenizer, tokens: torch.Tensor, free: torch.Tensor, target: torch.Tensor,
         known: torch.Tensor, steps: int, lr: float, hold: float,
         on_step: Callable[[int], None] | None) -> torch.Tensor:
    """The optimisation of `fit_tokens` -> the best codes (1, bits, t, h, w) seen."""
    param = next(tokenizer.parameters())
    codes = tokenizer.quantizer.indices_to_codes(tokens[None].to(param.device), dtype=param.dtype)  # (1, bits, t, h, w)
    free_f = free.to(codes)[None, None]  # (1, 1, t, h, w)
    known_f = known.to(codes)[None, None]  # (1, 1, T, H, W)
    with torch.no_grad():
        first = tokenizer.decoder(codes).float()  # (1, 3, T, H, W)
    goal = target.to(codes)[None] * known_f + first * (1 - known_f)
    weight = known_f + hold * (1 - known_f)
    logits = (codes * 0.5).requires_grad_()  # (1, bits, t, h, w)
    optimizer = torch.optim.Adam([logits], lr=lr)
    best, best_loss = codes, float("inf")
    for step in range(steps):
        hard = torch.where(logits > 0, 1.0, -1.0)  # logits share codes' dtype and device
        trial = codes * (1 - free_f) + (hard + logits - logits.detach()) * free_f  # straight-through
        loss = (weight * (tokenizer.decoder(trial).float() - goal) ** 2).sum() / weight.sum() / 3
        if loss.item() < best_loss:
            best_loss, best = loss.item(), (codes * (1 - free_f) + hard * free_f).detach()
        (logits.grad,) = torch.autograd.grad(loss, logits)
        optimizer.step()
        if on_step is not None:
            on_step(step + 1)
    return best
