"""Clips of the Moving Shapes world: a seed in, video + audio + caption + ground truth out.

`sample(seed)` seeds one numpy generator and draws, in order, the scene and then the caption, so a
clip is a pure function of its seed. Seeds below EVAL_SEED_START are the training split, seeds at
or above it the evaluation split (held-out caption phrasings, see `captions.py`); both splits draw
scenes the same way.

`sample_pair(seed)` continues the same generator after the first clip, so its first clip is exactly
`sample(seed)`; the second clip has the same geometry (shapes, sizes, trajectories, motions,
camera) with new object colours, a different background and a random texture, and its own caption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.world.captions import caption
from engine.world.palette import EVAL_SEED_START
from engine.world.render_audio import render_audio
from engine.world.render_video import render_video
from engine.world.scene import Scene, restyle, sample_scene


@dataclass(frozen=True, eq=False)
class Clip:
    """One rendered clip with its caption and ground truth."""

    video: np.ndarray  # (17, 64, 64, 3) uint8
    audio: np.ndarray  # (34000,) float32 in [-1, 1], 16 kHz mono
    caption: str
    scene: Scene
    seed: int
    split: str  # "train" | "eval"


def split_of(seed: int) -> str:
    """The split a seed belongs to."""
    if seed < 0:
        raise ValueError(f"world seeds are non-negative, got {seed}")
    return "eval" if seed >= EVAL_SEED_START else "train"


def render(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(video (17, 64, 64, 3) uint8, audio (34000,) float32) of a scene."""
    return render_video(scene), render_audio(scene)


def _clip(scene: Scene, rng: np.random.Generator, seed: int, split: str) -> Clip:
    video, audio = render(scene)
    return Clip(video, audio, caption(scene, rng, split), scene, seed, split)


def sample(seed: int) -> Clip:
    """The clip of a seed: deterministic; split "eval" iff seed >= EVAL_SEED_START."""
    split = split_of(seed)
    rng = np.random.default_rng(seed)
    return _clip(sample_scene(rng), rng, seed, split)


def sample_pair(seed: int) -> tuple[Clip, Clip]:
    """A stylisation pair: `sample(seed)` and the same geometry restyled, each with its own caption."""
    split = split_of(seed)
    rng = np.random.default_rng(seed)
    first = _clip(sample_scene(rng), rng, seed, split)
    return first, _clip(restyle(first.scene, rng), rng, seed, split)
