"""Build a task's token sequence (VideoPoet layout) from token grids, and batch sequences.

    [task] [text x text_len] [bov_i] video [eov_i] [boc_i] control [eoc_i] [boa_i] audio [eoa_i]
    [bov_o] output [eov_o]          (or [boa_o] output [eoa_o]; only the segments the task uses)

The prefix is everything up to and including the output's begin marker; it attends
bidirectionally. Grid sizes come from the tensors passed in and `output_shape` (the tokenizers'
latent shapes), nothing is fixed here.

Video grids (t, h, w) are flattened t-major (raster order within a frame). Audio codes
(levels, frames) are laid out frame-major with the levels interleaved: f0l0 f0l1 .. f0lL f1l0 ...
Decoding then finishes each time step before the next, so every finer RVQ level is predicted right
after the coarser levels of the same frame that it refines, all past frames are in context, and the
audio stays time-aligned with the video (a prefix of the sequence is a prefix of the sound). A
level-major layout would have to generate the whole coarse track before any detail and put a
frame's levels a whole track apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.tasks.spec import TaskSpec, get_task
from engine.transformer.vocab import MASK_INDEX, Vocab

IGNORE = -100  # target of positions without a loss (F.cross_entropy's ignore_index)


def audio_to_sequence(codes: Tensor) -> Tensor:
    """(..., levels, frames) -> (..., frames * levels), frame-major with levels interleaved."""
    return codes.transpose(-1, -2).flatten(-2)


def sequence_to_audio(seq: Tensor, levels: int) -> Tensor:
    """Inverse of `audio_to_sequence`: (..., frames * levels) -> (..., levels, frames)."""
    return seq.unflatten(-1, (-1, levels)).transpose(-1, -2)


def video_grid_positions(t: int, h: int, w: int) -> Tensor:
    """1-based (t, h, w) of each token of a flattened (t, h, w) grid -> (t * h * w, 3)."""
    axes = [torch.arange(1, n + 1) for n in (t, h, w)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


@dataclass
class Sequence:
    """One task instance. `output` indexes the output tokens in `ids`; `known` (N,) marks the given
    ones (their values sit in `ids`); `allowed` (N, 2) is the [lo, hi) id range per output position."""

    task: str
    vocab: Vocab
    ids: Tensor  # (L,) long
    grid: Tensor  # (L, 3) long, 1-based video (t, h, w), 0 elsewhere
    prefix_len: int
    text_len: int
    output: slice
    output_shape: tuple[int, ...]
    modality: str
    known: Tensor  # (N,) bool
    allowed: Tensor  # (N, 2) long
    has_target: bool  # False at inference: unknown output tokens are [MASK] placeholders

    def __len__(self) -> int:
        return self.ids.shape[0]

    @property
    def num_output(self) -> int:
        return self.output.stop - self.output.start

    def targets(self) -> Tensor:
        """(L,) next-token targets: the output tokens (not the known ones) and the end marker."""
        if not self.has_target:
            raise ValueError("this sequence was built without an output to learn")
        tgt = torch.full_like(self.ids, IGNORE)
        start, stop = self.prefix_len, self.output.stop
        tgt[start - 1:stop] = self.ids[start:stop + 1]  # logits at j predict ids[j + 1]
        tgt[start - 1:stop - 1][self.known] = IGNORE
        return tgt

    def output_tokens(self, ids: Tensor) -> Tensor:
        """Output ids (..., N) -> tokenizer indices: video (..., t, h, w) or audio (..., levels, frames)."""
        if self.modality == "video":
            return self.vocab.ids_to_video(ids.unflatten(-1, self.output_shape))
        return self.vocab.ids_to_audio(sequence_to_audio(ids, self.output_shape[0]))


def build_sequence(task: str | TaskSpec, vocab: Vocab, *, output_shape: tuple[int, ...], text_len: int = 0,
                   input_video: Tensor | None = None, control_video: Tensor | None = None,
                   input_audio: Tensor | None = None, output: Tensor | None = None,
                   known: Tensor | None = None) -> Sequence:
    """Lay out one task instance.

    output_shape: the output grid, video (t, h, w) or audio (levels, frames).
    text_len: number of text slots (the padded prompt length) for tasks with a prompt.
    input_video / control_video: (t, h, w) video indices, MASK_INDEX (-1) for a hidden token.
    input_audio: (levels, frames) audio indices.
    output: indices of output_shape: the target when training; at inference only the known
        positions are read (the others may be MASK_INDEX).
    known: (output_shape) bool, for tasks whose known tokens come per request (in/outpainting).
    """
    spec = get_task(task)
    given = {"input_video": input_video, "control_video": control_video, "input_audio": input_audio}
    for name, value in given.items():
        if getattr(spec, name) != (value is not None):
            raise ValueError(f"task {spec.name!r} {'needs' if getattr(spec, name) else 'takes no'} {name}")
    if spec.text != (text_len > 0):
        raise ValueError(f"task {spec.name!r} {'needs text_len > 0' if spec.text else 'has no text'}")
    if (known is not None) != (spec.known == "mask"):
        raise ValueError(f"task {spec.name!r} {'needs' if spec.known == 'mask' else 'takes no'} known")

    ids: list[Tensor] = []
    grid: list[Tensor] = []

    def add(tokens: Tensor | list[int], positions: Tensor | None = None) -> None:
        tokens = torch.as_tensor(tokens, dtype=torch.long).reshape(-1)
        ids.append(tokens)
        grid.append(torch.zeros(len(tokens), 3, dtype=torch.long) if positions is None else positions)

    def add_video(begin: str, end: str, indices: Tensor) -> None:
        if indices.dim() != 3:
            raise ValueError(f"a video grid is (t, h, w), got {tuple(indices.shape)}")
        add([vocab.token(begin)])
        add(vocab.video_to_ids(indices), video_grid_positions(*indices.shape))
        add([vocab.token(end)])

    add([vocab.task_token(spec.name)])
    add([vocab.text] * text_len)
    if input_video is not None:
        add_video("bov_i", "eov_i", input_video)
    if control_video is not None:
        add_video("boc_i", "eoc_i", control_video)
    if input_audio is not None:
        add([vocab.token("boa_i")])
        add(audio_to_sequence(vocab.audio_to_ids(input_audio)))
        add([vocab.token("eoa_i")])

    # ---- the output -----------------------------------------------------------------------------
    output_shape = tuple(output_shape)
    modality = spec.output
    if len(output_shape) != (3 if modality == "video" else 2) or min(output_shape) < 1:
        raise ValueError(f"{modality} output_shape {output_shape} is not a grid of that modality")
    if modality == "audio" and output_shape[0] != vocab.audio_levels:
        raise ValueError(f"audio output_shape must start with {vocab.audio_levels} levels")
    known_grid = torch.zeros(output_shape, dtype=torch.bool)
    if spec.known == "first_frame":
        known_grid[0] = True
    elif spec.known == "mask":
        known_grid = torch.as_tensor(known, dtype=torch.bool)
    if tuple(known_grid.shape) != output_shape:
        raise ValueError(f"known must have the output shape {output_shape}, got {tuple(known_grid.shape)}")
    if output is None:
        if known_grid.any():
            raise ValueError(f"task {spec.name!r} needs `output` to hold the known tokens")
        output = torch.full(output_shape, MASK_INDEX, dtype=torch.long)
    if tuple(output.shape) != output_shape:
        raise ValueError(f"output must have the shape {output_shape}, got {tuple(output.shape)}")
    if (output[known_grid] == MASK_INDEX).any():
        raise ValueError("every known output token needs a value")

    if modality == "video":
        out_ids, out_grid = vocab.video_to_ids(output).reshape(-1), video_grid_positions(*output_shape)
        lo, hi = vocab.video_range
        allowed = torch.tensor([[lo, hi]]).expand(out_ids.shape[0], 2)
        known_flat = known_grid.reshape(-1)
        begin, end = "bov_o", "eov_o"
    else:
        out_ids, out_grid = audio_to_sequence(vocab.audio_to_ids(output)), None
        per_level = torch.tensor([vocab.audio_range(level) for level in range(vocab.audio_levels)])
        allowed = per_level.repeat(output_shape[1], 1)  # frame-major: level = position % levels
        known_flat = audio_to_sequence(known_grid)
        begin, end = "boa_o", "eoa_o"
    add([vocab.token(begin)])
    prefix_len = sum(len(x) for x in ids)
    add(out_ids, out_grid)
    add([vocab.token(end)])
    n = out_ids.shape[0]
    return Sequence(
        task=spec.name, vocab=vocab, ids=torch.cat(ids), grid=torch.cat(grid), prefix_len=prefix_len,
        text_len=text_len, output=slice(prefix_len, prefix_len + n), output_shape=output_shape,
        modality=modality, known=known_flat.clone(), allowed=allowed.contiguous(),
        has_target=not bool((output == MASK_INDEX).any()),
    )


@dataclass
class Batch:
    """Right-padded sequences, possibly of different tasks (each row has its own prefix)."""

    ids: Tensor  # (B, L)
    grid: Tensor  # (B, L, 3)
    prefix_len: Tensor  # (B,)
    targets: Tensor  # (B, L), IGNORE where there is no loss
    tasks: list[str]
    weights: Tensor | None = None  # (B, L) per-target loss weights (training's object focus); None = all 1


def collate(seqs: list[Sequence], targets: list[Tensor | None] | None = None) -> Batch:
    """Pad to the longest sequence. Padding comes after every real token, so causal attention never
    lets a real token see it, and it carries no loss. Text slots must agree: the model places the
    text embeddings (B, text_len, D) at positions [1, 1 + text_len) of every row that has them.
    `targets` overrides a row's next-token targets (masked-mode rows predict their own positions)."""
    text_lens = {s.text_len for s in seqs} - {0}
    if len(text_lens) > 1:
        raise ValueError(f"sequences in a batch need one text_len, got {sorted(text_lens)}")
    L = max(len(s) for s in seqs)
    pad = seqs[0].vocab.pad
    ids = torch.full((len(seqs), L), pad, dtype=torch.long)
    grid = torch.zeros(len(seqs), L, 3, dtype=torch.long)
    targets_out = torch.full((len(seqs), L), IGNORE, dtype=torch.long)
    for row, s in enumerate(seqs):
        given = None if targets is None else targets[row]
        ids[row, :len(s)], grid[row, :len(s)] = s.ids, s.grid
        targets_out[row, :len(s)] = s.targets() if given is None else given
    prefix_len = torch.tensor([s.prefix_len for s in seqs])
    return Batch(ids=ids, grid=grid, prefix_len=prefix_len, targets=targets_out, tasks=[s.task for s in seqs])
