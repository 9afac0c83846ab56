"""The stylisation control video: an object silhouette computed from a clip's pixels alone.

A stylisation pair (world.md) renders the same geometry twice with new object colours, a new
background and a new texture, so the control must drop every one of those and keep only where the
objects are. Every world pixel is `alpha * object colour + (1 - alpha) * background`, where the
object colour is one of the 8 palette colours, the background lies on the segment from a base tone
to its second tone (plain, stripes and checker use the end points, a gradient the inside), and
alpha is the shape's coverage (`clip(0.5 - d, 0, 1)`, d the signed distance of the pixel centre).
So each pixel lies in one of 8 x 4 RGB triangles (object colour, base, second tone) and its
barycentric weight on the object corner is alpha. We project every pixel onto every triangle, keep
the closest, and call the pixel foreground when alpha >= 0.5: exactly the pixels whose centre lies
inside a shape, whatever the colours and texture. The result is a white-on-black silhouette video
(the same value in R, G and B; soft edges would carry the two backgrounds' contrast back in).

On the world this is exact up to the uint8 rounding of the rendered pixels: a pixel flips only
when its coverage lies within about 1/200 of one half, a handful of pixels per clip (measured in
tests/engine/test_structure.py). On an uploaded clip the same rule reads as "pixels explained by a
saturated colour over a neutral or sand background", which is what a Moving Shapes style needs.
"""

from __future__ import annotations

import numpy as np

from engine.world.palette import BACKGROUNDS, OBJECT_COLOURS, second_tone

FOREGROUND, BACKGROUND = 255, 0
_OBJECTS = np.asarray(list(OBJECT_COLOURS.values()), dtype=np.float32)  # (8, 3)
_TONES = np.asarray([(BACKGROUNDS[b], second_tone(b)) for b in BACKGROUNDS], dtype=np.float32)  # (4, 2, 3)


def coverage(video: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) pixels -> float32 (...) estimated object coverage alpha in [0, 1]."""
    if video.dtype != np.uint8 or video.shape[-1] != 3:
        raise ValueError(f"need uint8 (..., 3) RGB pixels, got {video.dtype} {video.shape}")
    p = video.reshape(-1, 3).astype(np.float32)  # (N, 3)
    best_residual = np.full(p.shape[0], np.inf, dtype=np.float32)
    best_alpha = np.zeros(p.shape[0], dtype=np.float32)
    for base, second in _TONES:
        e2 = second - base  # background segment direction
        q = p - base  # (N, 3)
        for colour in _OBJECTS:
            e1 = colour - base
            # least squares q ~ u e1 + v e2 (u = alpha, v = (1 - alpha) s), then clamp into the triangle
            a11, a12, a22 = e1 @ e1, e1 @ e2, e2 @ e2
            b1, b2 = q @ e1, q @ e2
            det = a11 * a22 - a12 * a12
            u = (a22 * b1 - a12 * b2) / det
            v = (a11 * b2 - a12 * b1) / det
            u = np.clip(u, 0.0, 1.0)
            v = np.clip(v, 0.0, 1.0 - u)
            residual = np.square(q - u[:, None] * e1 - v[:, None] * e2).sum(1)
            better = residual < best_residual
            best_residual = np.where(better, residual, best_residual)
            best_alpha = np.where(better, u, best_alpha)
    return best_alpha.reshape(video.shape[:-1])


def control_video(video: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) (or an image (H, W, 3)) -> the silhouette control of the same shape:
    255 where a shape covers the pixel centre, 0 elsewhere, equal in R, G and B."""
    video = np.asarray(video)
    if video.dtype != np.uint8 or video.ndim not in (3, 4) or video.shape[-1] != 3:
        raise ValueError(f"need a uint8 (T, H, W, 3) video or (H, W, 3) image, got {video.dtype} {video.shape}")
    inside = coverage(video) >= 0.5
    out = np.where(inside, FOREGROUND, BACKGROUND).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1)
