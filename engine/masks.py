"""Masks for inpainting and outpainting: pixel masks, outpaint presets, and the token masks they map to.

A pixel mask is a bool array, True = the region to generate: (H, W) for a static mask or (T, H, W)
for one that moves. The generator works on the video tokenizer's latent grid (t, h, w), so a pixel
mask is mapped to a token mask (True = token to generate):

- space: token (i, j) covers the pixel block [i*s, (i+1)*s) x [j*s, (j+1)*s) (s = spatial factor);
- time (causal tokenizer, temporal factor f): latent frame 0 is pixel frame 0 alone, latent frame
  k >= 1 covers pixel frames (k-1)*f + 1 .. k*f;
- a token is generated when ANY pixel it covers is masked, so every masked pixel is regenerated and
  a kept token covers only kept pixels. The kept tokens are copied exactly from the source's tokens
  (they are forced, never sampled); their pixels are the tokenizer's reconstruction of the source.

Outpaint presets name the region that is KEPT: `centre` (the middle half of each side), `left`,
`right`, `top`, `bottom` (that half of the frame); the rest is generated. Inpaint presets name the
region that is GENERATED: `centre` (the middle half of each side), `left` (the left half), and
`object`, which follows the clip's object: its silhouette in each frame (engine.structure), grown
by OBJECT_MARGIN pixels to cover the shape's anti-aliased edge.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.structure import control_video

OUTPAINT_PRESETS: tuple[str, ...] = ("centre", "left", "right", "top", "bottom")
INPAINT_PRESETS: tuple[str, ...] = ("centre", "left", "object")
OBJECT_MARGIN = 3  # pixels the object's silhouette is grown by
_ALIASES = {"center": "centre"}


class MaskError(ValueError):
    """A mask or preset that cannot be used (wrong shape, dtype, unknown preset)."""


def outpaint_mask(preset: str, size: int | tuple[int, int] = 64) -> np.ndarray:
    """(H, W) bool pixel mask, True outside the kept region named by `preset`."""
    name = _ALIASES.get(preset, preset)
    if name not in OUTPAINT_PRESETS:
        raise MaskError(f"unknown outpaint preset {preset!r}; choose one of {', '.join(OUTPAINT_PRESETS)}")
    h, w = (size, size) if isinstance(size, int) else size
    keep = np.zeros((h, w), dtype=bool)
    if name == "centre":
        keep[h // 4:h - h // 4, w // 4:w - w // 4] = True
    elif name == "left":
        keep[:, :w // 2] = True
    elif name == "right":
        keep[:, w // 2:] = True
    elif name == "top":
        keep[:h // 2] = True
    else:
        keep[h // 2:] = True
    return ~keep


def box_mask(top: int, left: int, height: int, width: int, size: int | tuple[int, int] = 64) -> np.ndarray:
    """(H, W) bool pixel mask, True inside the box (a simple inpainting region)."""
    h, w = (size, size) if isinstance(size, int) else size
    mask = np.zeros((h, w), dtype=bool)
    mask[max(0, top):top + height, max(0, left):left + width] = True
    return mask


def inpaint_mask(preset: str, video: np.ndarray) -> np.ndarray:
    """bool pixel mask, True = generate, for an inpaint preset and the (T, H, W, 3) uint8 clip:
    (H, W) for `centre` and `left`, (T, H, W) for `object` (all False when the clip has no object)."""
    h, w = video.shape[1:3]
    if preset == "centre":
        return box_mask(h // 4, w // 4, h // 2, w // 2, (h, w))
    if preset == "left":
        return box_mask(0, 0, h, w // 2, (h, w))
    if preset == "object":
        return object_mask(video)
    raise MaskError(f"unknown inpaint preset {preset!r}; choose one of {', '.join(INPAINT_PRESETS)}")


def object_mask(video: np.ndarray, margin: int = OBJECT_MARGIN) -> np.ndarray:
    """(T, H, W) bool mask of the clip's object in each frame, grown by `margin` pixels."""
    return grow_mask(control_video(video)[..., 0] > 0, margin)


def grow_mask(mask: np.ndarray, margin: int) -> np.ndarray:
    """Dilate a (T, H, W) bool mask by `margin` pixels in space (a square structuring element)."""
    padded = np.pad(mask, ((0, 0), (margin, margin), (margin, margin)))
    out = np.zeros_like(mask)
    height, width = mask.shape[1:]
    for dy in range(2 * margin + 1):
        for dx in range(2 * margin + 1):
            out |= padded[:, dy:dy + height, dx:dx + width]
    return out


def pool_mask(mask: np.ndarray, size: int = 64) -> np.ndarray:
    """A square (S, S) bool mask -> (size, size), S a multiple of `size`: a cell is True if any of its
    pixels is (e.g. a region drawn on an enlarged frame, back at the frame's own size)."""
    side = mask.shape[0]
    if mask.ndim != 2 or mask.shape[1] != side or side % size:
        raise MaskError(f"the mask must be a square whose side is a multiple of {size}, got {mask.shape}")
    scale = side // size
    return mask.reshape(size, scale, size, scale).any(axis=(1, 3))


def check_pixel_mask(mask: np.ndarray, frames: int, height: int, width: int) -> np.ndarray:
    """Validate a bool (H, W) or (T, H, W) mask against a (frames, height, width) video -> (T, H, W) bool."""
    if not isinstance(mask, np.ndarray):
        raise MaskError(f"the mask must be a numpy bool array, got {type(mask).__name__}")
    if mask.dtype != np.bool_:
        raise MaskError(f"the mask must have dtype bool (True = generate), got {mask.dtype}; "
                        "convert with `mask > 0`")
    if mask.shape == (height, width):
        mask = np.broadcast_to(mask, (frames, height, width))
    if mask.shape != (frames, height, width):
        raise MaskError(f"the mask must be ({height}, {width}) or ({frames}, {height}, {width}), "
                        f"got {mask.shape}")
    return np.ascontiguousarray(mask)


def latent_frame_groups(frames: int, temporal_factor: int) -> list[range]:
    """Pixel frames covered by each latent frame of a causal tokenizer: [0], [1..f], [f+1..2f], ..."""
    if frames < 1 or (frames - 1) % temporal_factor:
        raise MaskError(f"a clip has 1 + k*{temporal_factor} frames, got {frames}")
    return [range(0, 1)] + [range(1 + k * temporal_factor, 1 + (k + 1) * temporal_factor)
                            for k in range((frames - 1) // temporal_factor)]


def pixel_to_token_mask(mask: np.ndarray, temporal_factor: int, spatial_factor: int) -> torch.Tensor:
    """bool (T, H, W) pixel mask -> bool (t, h, w) token mask: a token is True if any pixel it covers is."""
    mask = np.asarray(mask, dtype=bool)
    T, H, W = mask.shape
    if H % spatial_factor or W % spatial_factor:
        raise MaskError(f"mask sides must be multiples of {spatial_factor}, got {H}x{W}")
    s = spatial_factor
    spatial = mask.reshape(T, H // s, s, W // s, s).any(axis=(2, 4))  # (T, h, w)
    groups = latent_frame_groups(T, temporal_factor)
    tokens = np.stack([spatial[g.start:g.stop].any(axis=0) for g in groups])  # (t, h, w)
    return torch.from_numpy(tokens)


def token_to_pixel_mask(tokens: torch.Tensor | np.ndarray, temporal_factor: int,
                        spatial_factor: int) -> np.ndarray:
    """bool (t, h, w) token mask -> (T, H, W) pixel mask of the pixels those tokens cover (for display)."""
    tokens = np.asarray(tokens, dtype=bool)
    s = spatial_factor
    spatial = tokens.repeat(s, axis=1).repeat(s, axis=2)
    counts = [1] + [temporal_factor] * (tokens.shape[0] - 1)
    return np.repeat(spatial, counts, axis=0)
