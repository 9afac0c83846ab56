"""Masked (MaskGIT, arXiv 2202.04200; MAGVIT, arXiv 2212.05199) iterative decoding.

Every unknown output token starts as [MASK]. Each step runs the model once over the whole canvas
(bidirectional attention), samples a token for every masked position, then puts [MASK] back on the
least confident of the new tokens; a cosine schedule sets how many stay masked, so the first steps
commit a few tokens and the last step commits the rest: 12 forward passes for a whole clip instead
of one per token. Known tokens (the first frame of image-to-video, the kept region of inpainting:
MAGVIT's COMMIT condition tokens) are never masked, sampled or changed.

Confidence is the log-probability of the sampled token under the sampling distribution (after
temperature, top-k, top-p; greedy uses the plain softmax), plus Gumbel noise whose scale anneals
linearly to 0 (`choice_temperature * (1 - (s + 1) / steps)`, MaskGIT's 4.5 by default), so early
steps pick what to commit with some randomness and late steps follow the model. Temperature 0 is
fully deterministic: argmax tokens, re-masked by confidence alone (no noise, no randomness used).

Why not `diffusers.AmusedScheduler` (read for 0.42): its `step` implements the same schedule and
re-masking, and the step counts are checked against it in the tests, but it does not fit here:
- it samples from a softmax over the whole last axis with nothing in between: no temperature,
  top-k/top-p or greedy. Pre-processing the logits can emulate the filters, but not greedy, because
  the confidences come from the same probabilities it samples from (greedy would make them all 1);
- it has one vocabulary for every position: the audio output needs a different id range per RVQ
  level, which would mean re-indexing into a local vocabulary with -inf outside each position's range;
- its mask counts are `seq_len * cos(...)` over the whole canvas, so with known tokens (image-to-video
  keeps 1/5 of the grid, inpainting most of it) the first steps commit one token each unless the
  caller sets `starting_mask_ratio` to the unknown share;
- it wants logits for every position, committed ones included, and draws with torch.multinomial
  (one exponential per vocabulary id on the CPU); it syncs with the host every step (`nonzero`).
What the adapters would leave of it is the schedule and the top-k re-masking: the loop below, with
our own `logits` helpers, asks the model for the masked positions only and has no per-step sync.

The model is any callable (ids (B', N), positions (B', n), span) -> logits (B', n, W) at those output
positions (the ones still masked), over the ids [lo, hi) of `span`, the union of the allowed ranges
(W = hi - lo; None, without `allowed`: the whole vocabulary), or the same as `Factored` sub-token
logits, which are drawn digit by digit; with classifier-free guidance it gets rows [cond (B),
uncond (B)] as in the autoregressive decoder. Randomness comes only from the
`torch.Generator`, so a seed reproduces bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from engine.sampling.autoregressive import Progress
from engine.sampling.logits import Factored, cfg_combine, draw_from, logits_to_probs

# ids (B', N), positions (B', n), id span [lo, hi) or None (all ids) -> logits (B', n, hi - lo) (or (B', n, V)),
# or the same as Factored parts
MaskedModel = Callable[[Tensor, Tensor, tuple[int, int] | None], Tensor | Factored]
OnStep = Callable[[int, Tensor], None]  # (step index, current best guesses (B, N))
CHOICE_TEMPERATURE = 4.5  # MaskGIT's Gumbel scale for picking what to re-mask


def mask_schedule(num_unknown: int, steps: int) -> list[int]:
    """How many tokens are still masked after each step; its length is the number of forward passes.

    MaskGIT's cosine schedule: floor(n * cos(pi/2 * (s + 1) / steps)), at least one token committed
    per step and at least one left for every step but the last. With fewer unknown tokens than steps
    the progress rule wins and decoding ends early.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    left, schedule = num_unknown, []
    for s in range(steps):
        if left == 0:
            break
        target = 0 if s == steps - 1 else max(1, math.floor(num_unknown * math.cos(math.pi / 2 * (s + 1) / steps)))
        left = min(left - 1, target)
        schedule.append(left)
    return schedule


class Ranges:
    """The allowed id range of every position: lo, hi (N,) and their union `span` [LO, HI).

    The model is asked for the span's logits only (the rest of the vocabulary costs nothing); when
    the positions' ranges differ (the audio levels), each is then cut to its own with -inf. Without
    `allowed` every position takes any id and the span is None: the model scores the whole vocabulary.
    """

    def __init__(self, allowed: Tensor | None, device: torch.device) -> None:
        self.span: tuple[int, int] | None = None
        self.uniform = True
        if allowed is None:
            return
        pairs = {tuple(r) for r in allowed.tolist()}  # one host sync per request, none per step
        if any(not 0 <= lo < hi for lo, hi in pairs):
            raise ValueError("id ranges must be non-empty and start at 0 or above")
        self.lo, self.hi = allowed.to(device).unbind(-1)  # (N,) each
        self.span = (min(lo for lo, _ in pairs), max(hi for _, hi in pairs))
        self.uniform = len(pairs) == 1

    @property
    def start(self) -> int:
        return 0 if self.span is None else self.span[0]

    def restrict(self, logits: Tensor | Factored, pos: Tensor) -> Tensor | Factored:
        """The model's logits (B, n, W) over the span, for positions pos (B, n) -> the same with -inf
        outside each position's own range (factored logits stay factored where every range is the span)."""
        width = logits.width if isinstance(logits, Factored) else logits.shape[-1]
        if self.span is not None and width != self.span[1] - self.span[0]:
            raise ValueError(f"the model gave {width} logits for the id span {self.span}")
        if self.uniform:
            return logits
        if isinstance(logits, Factored):
            logits = logits.joint()
        ids = torch.arange(*self.span, device=logits.device)  # (W,)
        outside = (ids < self.lo[pos][..., None]) | (ids >= self.hi[pos][..., None])  # (B, n, W)
        return logits.masked_fill(outside, float("-inf"))


def draw(logits: Tensor | Factored, generator: torch.Generator, temperature: float, top_k: int | None,
         top_p: float | None) -> tuple[Tensor, Tensor]:
    """logits (B, n, W) -> sampled ids (B, n) and their log-probabilities (B, n) (the confidences).

    temperature 0 is greedy (the argmax, confidence from the plain softmax, no randomness used).
    Sampling inverts the CDF with one uniform per position (`draw_from`): a step draws for up to every
    output position at once, where torch.multinomial's one exponential per id (n x 16k of them) was
    3/4 of a masked step of a small model on the CPU. Factored logits are drawn digit by digit
    (`draw_digits`) unless top-k or top-p needs the joint distribution.
    """
    if isinstance(logits, Factored):
        if top_k is None and (top_p is None or top_p >= 1.0):
            return draw_digits(logits, generator, temperature)
        logits = logits.joint()
    if temperature == 0:
        logp = logits.float().log_softmax(-1)
        ids = logp.argmax(-1)
        return ids, logp.gather(-1, ids[..., None])[..., 0]
    probs = logits_to_probs(logits, temperature, top_k, top_p)  # (B, n, W) float32
    ids = draw_from(probs, generator)  # (B, n)
    return ids, probs.gather(-1, ids[..., None])[..., 0].log()


def draw_digits(logits: Factored, generator: torch.Generator, temperature: float) -> tuple[Tensor, Tensor]:
    """Factored logits -> ids (B, n) and log-probabilities (B, n), exactly as `draw` on the joint logits
    would give them in distribution (without top-k / top-p): each digit is an independent draw from
    its own softmax, the id their mixed-radix number, its log-probability the sum of theirs.

    The joint 16,384-way softmax and CDF were about half of a masked video stage on the 2-core CPU
    (54 ms a step at 320 positions, against 0.2 ms for two 128-way draws). Greedy takes each digit's
    argmax, which is the joint argmax.
    """
    ids = logp = None
    for part in logits.parts:  # (B, n, size) each, most significant first
        digit, digit_logp = draw(part, generator, temperature, None, None)  # (B, n) each
        ids = digit if ids is None else ids * part.shape[-1] + digit
        logp = digit_logp if logp is None else logp + digit_logp
    return ids, logp


def gumbel(shape: torch.Size, generator: torch.Generator, device: torch.device) -> Tensor:
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-20, 1.0)
    return -torch.log((-torch.log(u)).clamp_(min=1e-20))


def rows(logits: Tensor | Factored, index: slice) -> Tensor | Factored:
    return logits.rows(index) if isinstance(logits, Factored) else logits[index]


def generate_masked(
    model: MaskedModel,
    tokens: Tensor,
    known: Tensor,
    generator: torch.Generator,
    *,
    mask_id: int,
    steps: int = 12,
    allowed: Tensor | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    cfg_scale: float | None = None,
    choice_temperature: float = CHOICE_TEMPERATURE,
    progress: Progress | None = None,
    on_step: OnStep | None = None,
) -> Tensor:
    """Decode the unknown tokens of `tokens` (B, N) in `steps` passes -> (B, N) long.

    known: (N,) bool, the positions whose value in `tokens` is given; they are kept exactly and the
        model sees them in place (the others are fed as `mask_id`).
    allowed: (N, 2) [lo, hi) id range per position (None: the whole vocabulary).
    cfg_scale: None runs the conditional model only; a float runs guidance (rows [cond, uncond]).
    progress(done, N) after each step counts the decided tokens (known ones included); on_step(s,
    guesses (B, N)) gets every position's current best guess (committed or not), for a preview.
    The model is asked for the logits of the masked positions only (a step re-samples those and
    nothing else). temperature 0 is greedy and re-masks by confidence alone: no randomness at all.
    """
    B, N = tokens.shape
    if tuple(known.shape) != (N,) or known.dtype != torch.bool:
        raise ValueError(f"known must be a ({N},) bool tensor, got {tuple(known.shape)} {known.dtype}")
    if allowed is not None and tuple(allowed.shape) != (N, 2):
        raise ValueError(f"allowed must be ({N}, 2), got {tuple(allowed.shape)}")
    known = known.to(tokens.device)
    num_unknown = int((~known).sum())
    schedule = mask_schedule(num_unknown, steps)
    masked = (~known).expand(B, N).clone()  # (B, N): the positions still [MASK]
    current = tokens.masked_fill(masked, mask_id)
    ranges, guided = Ranges(allowed, tokens.device), cfg_scale is not None
    if not schedule and progress is not None:  # nothing to decode
        progress(N, N)
    for s, left in enumerate(schedule):
        count = schedule[s - 1] if s else num_unknown  # masked now, the same in every row
        pos = masked.byte().sort(dim=-1, descending=True, stable=True).indices[:, :count]  # (B, n) masked first
        logits = model(torch.cat((current, current)) if guided else current,
                       torch.cat((pos, pos)) if guided else pos, ranges.span)  # (B', n, W)
        if guided:
            logits = cfg_combine(rows(logits, slice(None, B)), rows(logits, slice(B, None)), cfg_scale)  # (B, n, W)
        sampled, confidence = draw(ranges.restrict(logits, pos), generator, temperature, top_k, top_p)
        sampled = sampled + ranges.start  # (B, n) ids
        guesses = current.scatter(-1, pos, sampled)  # committed and known tokens stay
        if on_step is not None:
            on_step(s, guesses)
        noise_scale = 0.0 if temperature == 0 else choice_temperature * (1 - (s + 1) / steps)
        if left > 0 and noise_scale > 0:  # re-mask the `left` least confident of the new tokens
            confidence = confidence + noise_scale * gumbel(confidence.shape, generator, tokens.device)
        lowest = confidence.topk(left, dim=-1, largest=False).indices  # (B, left) into pos
        masked = torch.zeros_like(masked).scatter_(-1, pos.gather(-1, lowest), True)
        current = guesses.masked_fill(masked, mask_id)
        if progress is not None:
            progress(N - left, N)
    return current

