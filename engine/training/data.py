"""Batches of Moving Shapes clips as model tensors, drawn from seeded world generators."""

from __future__ import annotations

import numpy as np
import torch

from engine.world import EVAL_SEED_START, sample
from engine.world.palette import FRAMES, SIZE
from engine.world.render_video import coverage
from engine.world.scene import Scene


def video_to_tensor(video: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (3, T, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(video)).float().div_(127.5).sub_(1.0)
    return x.permute(3, 0, 1, 2).contiguous()


def tensor_to_video(x: torch.Tensor) -> np.ndarray:
    """float (3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3)."""
    x = x.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).cpu().numpy()


def video_batch(seeds: list[int]) -> torch.Tensor:
    """(B, 3, 17, 64, 64) in [-1, 1] for the given world seeds."""
    return torch.stack([video_to_tensor(sample(s).video) for s in seeds])


def object_mask(scene: Scene) -> np.ndarray:
    """(17, 64, 64) float32 in [0, 1]: how much of each pixel the scene's objects cover."""
    mask = np.zeros((FRAMES, SIZE, SIZE), dtype=np.float32)
    for obj in scene.objects:
        alpha, top, left = coverage(obj)
        box = alpha.shape[1]
        for k in range(FRAMES):
            region = mask[k, top[k]:top[k] + box, left[k]:left[k] + box]
            np.maximum(region, alpha[k], out=region)
    return mask


def video_and_mask_batch(seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, 17, 64, 64) in [-1, 1] and the objects' coverage (B, 1, 17, 64, 64) in [0, 1]."""
    clips = [sample(s) for s in seeds]
    videos = torch.stack([video_to_tensor(c.video) for c in clips])
    masks = torch.stack([torch.from_numpy(object_mask(c.scene)) for c in clips]).unsqueeze(1)
    return videos, masks


def audio_batch(seeds: list[int]) -> torch.Tensor:
    """(B, 1, 34000) float in [-1, 1] for the given world seeds."""
    return torch.stack([torch.from_numpy(sample(s).audio).unsqueeze(0) for s in seeds])


def eval_seeds(n: int) -> list[int]:
    """The first `n` seeds of the evaluation split (never drawn by training)."""
    return list(range(EVAL_SEED_START, EVAL_SEED_START + n))
