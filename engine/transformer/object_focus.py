"""Loss weights that favour the video tokens where the objects are (`train.py --object-weight`).

Why: an object covers a few of the 8 x 8 cells of a latent frame, the background the rest. The
background is one of 16 looks that the prompt names and that repeats from frame to frame, so its
tokens are learned early (the judge reads the generated background right 60-70 % of the time);
what the prompt says about the objects (colour, shape, motion) sits in the remaining cells, and
the plain per-token mean gives them a small share of the loss. With weight W, a target token whose
cell an object covers counts W times.

The cells come from the world itself: the token cache stores each clip's seed, and
`engine.world.sample_scene` rebuilds the scene (not the pixels) from it, so a cache needs no new
field. A latent frame covers the pixel frames its causal tokenizer reads: frame 0 alone, then
groups of `temporal_factor`.

`tasks` limits the weighting to some tasks (`train.py --object-tasks`): session 12's run with every
task weighted raised text_to_video's colour but lowered the colour that image_to_video, inpaint and
outpaint keep from their given tokens, so the tasks with no given video tokens can be weighted
alone; session 13's shipped generator was trained that way (NOTES.md has both runs).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.tasks.sequence import Sequence
from engine.training.data import object_mask
from engine.world import sample_scene

COVERED = 0.5  # a cell counts as an object's when a pixel of it is at least this much covered


def token_cells(coverage: np.ndarray, temporal_factor: int, spatial_factor: int) -> np.ndarray:
    """Pixel coverage (1 + k * temporal_factor, H, W) -> (1 + k, H / s, W / s) bool: the token cells an
    object covers in any of the frames that latent frame encodes."""
    frames, height, width = coverage.shape
    if (frames - 1) % temporal_factor or height % spatial_factor or width % spatial_factor:
        raise ValueError(f"coverage of shape {coverage.shape} does not tile into "
                         f"{temporal_factor} x {spatial_factor} x {spatial_factor} tokens")
    covered = coverage >= COVERED
    groups = np.concatenate([covered[:1], covered[1:].reshape(-1, temporal_factor, height, width).max(1)])
    s = spatial_factor
    return groups.reshape(len(groups), height // s, s, width // s, s).max(axis=(2, 4))


class ObjectFocus:
    """Per-token loss weights for the rows of a batch drawn from one token cache.

    `cells` (N, t, h, w) marks the object cells of each cached clip (its whole 17 frames);
    `extend_cells` (N, t', h, w) those of the window that `extend` learns to generate (the clip's
    last `window_frames` frames). Stylize's output is the restyled twin of the clip, whose objects
    follow the same paths, so it uses `cells` too.
    """

    def __init__(self, seeds: list[int], info: dict, weight: float, tasks: frozenset[str] | None = None) -> None:
        if weight < 1:
            raise ValueError(f"an object weight below 1 would favour the background, got {weight}")
        tf, sf = info["temporal_factor"], info["spatial_factor"]
        window = info["window_frames"]
        cells, extend_cells = [], []
        for seed in seeds:
            coverage = object_mask(sample_scene(np.random.default_rng(seed)))  # (17, 64, 64)
            cells.append(token_cells(coverage, tf, sf))
            extend_cells.append(token_cells(coverage[len(coverage) - window:], tf, sf))
        self.cells = torch.from_numpy(np.stack(cells))
        self.extend_cells = torch.from_numpy(np.stack(extend_cells))
        self.weight = float(weight)
        self.tasks = tasks  # None: every task

    @classmethod
    def for_cache(cls, cache, weight: float, tasks: frozenset[str] | None = None) -> ObjectFocus:
        return cls([int(s) for s in cache.seeds.tolist()], cache.info, weight, tasks)

    def output_weights(self, task: str, index: int, output_shape: tuple[int, ...]) -> torch.Tensor:
        """(N,) weights of a row's output tokens (t-major, as the sequence lays them out); all 1 for a
        sound output, whose grid (levels, frames) has no object cells, and for a task left out."""
        if len(output_shape) != 3 or (self.tasks is not None and task not in self.tasks):
            return torch.ones(int(np.prod(output_shape)))
        cells = self.extend_cells[index] if task == "extend" else self.cells[index][:output_shape[0]]
        if tuple(cells.shape) != tuple(output_shape):
            raise ValueError(f"{task}: object cells {tuple(cells.shape)} do not match the output {output_shape}")
        return 1.0 + (self.weight - 1.0) * cells.reshape(-1).float()

    def row_weights(self, seq: Sequence, index: int, masked: bool) -> torch.Tensor:
        """(L,) weights aligned with the row's targets: a next-token row's target at j is token j + 1,
        a masked row's target at j is token j itself."""
        per_token = torch.ones(len(seq))
        per_token[seq.output] = self.output_weights(seq.task, index, seq.output_shape)
        if masked:
            return per_token
        return torch.cat((per_token[1:], torch.ones(1)))
