"""The video half of the judge: what a clip's pixels show, never what its scene says.

`judge_video` reads the background (name, texture, camera) and every object (colour, shape, size,
motion, per-frame centroid and radius) from a (T, H, W, 3) uint8 video; see `background.py`,
`objects.py` and `motion.py` for how.

Colour under a colour shift: the background's measured tones against their palette values give a
per-channel gain, which is divided out of the object's measured colour before the nearest palette
colour is taken (black backgrounds carry no gain, but the palette colours stay apart under 10 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.eval.background import (
    BackgroundModel,
    classify_texture,
    estimate_background,
    name_background,
    texture_camera,
)
from engine.eval.motion import (
    AREA_FACTOR,
    classify_motion,
    classify_shape,
    harmonic_strength,
    log_growth,
    spin_step,
    zoom_from_growth,
)
from engine.eval.objects import Measured, grow, noise_sigma, segment
from engine.world.palette import BACKGROUNDS, CENTRE, OBJECT_COLOURS, SIZES, ZOOM_END, second_tone

BACKGROUND_PERP = 15.0  # smoothed distance from the background line under which a pixel is background


@dataclass(frozen=True, eq=False)
class ObjectReading:
    """One object as the pixels show it."""

    colour: str
    shape: str
    size: str  # from the radius at frame 0
    motion: str
    track: np.ndarray  # (T, 2) screen centroid (x, y) per frame, NaN where not found
    radii: np.ndarray  # (T,) screen outer radius per frame (from the area and the shape)
    rgb: np.ndarray  # (3,) measured colour with the estimated colour gain divided out


@dataclass(frozen=True, eq=False)
class VideoReading:
    """What a video shows: background, texture, camera (as far as visible) and objects."""

    background: str
    texture: str
    camera: str
    objects: list[ObjectReading]


def _gain(model: BackgroundModel, background: str) -> np.ndarray:
    """Per-channel colour gain from the background tones against their palette values."""
    base = np.asarray(BACKGROUNDS[background], dtype=np.float64)
    second = np.asarray(second_tone(background), dtype=np.float64)
    if background == "black":
        pairs = [(model.bright, second)] if model.textured else []
    else:
        pairs = [(model.bright, base)] + ([(model.dark, second)] if model.textured else [])
    num = np.zeros(3)
    den = np.zeros(3)
    for measured, reference in pairs:
        ok = (measured < 250) & (reference > 20)  # clipped channels say nothing
        num += np.where(ok, measured * reference, 0.0)
        den += np.where(ok, reference**2, 0.0)
    gain = np.where(den > 0, num / np.maximum(den, 1e-9), 1.0)
    return np.clip(gain, 0.85, 1.15)


def _name_colour(rgb: np.ndarray) -> str:
    return min(OBJECT_COLOURS, key=lambda n: float(np.linalg.norm(rgb - OBJECT_COLOURS[n])))


def _size(radius: float) -> str:
    bounds = list(SIZES.values())
    names = list(SIZES)
    for i in range(len(bounds) - 1):
        if radius < (bounds[i][1] + bounds[i + 1][0]) / 2:
            return names[i]
    return names[-1]


def _background_pixels(smooth_plane: np.ndarray) -> np.ndarray:
    """(T, H, W) pixels surely background: near the line (within BACKGROUND_PERP or 3.5 noise
    sigmas), 2 px away from anything that is not."""
    mag = np.hypot(smooth_plane[..., 0], smooth_plane[..., 1])
    near = mag < max(BACKGROUND_PERP, 3.5 * noise_sigma(mag))
    return ~grow(~near, 2)


def _read_object(m: Measured, shape: str, radii: np.ndarray, scale: np.ndarray, shift: np.ndarray,
                 gain: np.ndarray, pan_possible: bool) -> ObjectReading:
    """Motion (with the camera removed), size and colour of one measured object."""
    world_radii = radii / scale
    offset = np.stack([shift, np.zeros_like(shift)], axis=1)
    world_track = CENTRE + (m.track - offset - CENTRE) / scale[:, None]
    motion = classify_motion(shape, spin_step(m.moments, shape), log_growth(world_radii), world_track,
                             pan_possible)
    start = np.nanmedian(world_radii[:3]) if np.isfinite(world_radii[:3]).any() else np.nan
    rgb = m.rgb / gain
    return ObjectReading(_name_colour(rgb), shape, _size(float(start)), motion, m.track, radii, rgb)


def judge_video(video: np.ndarray) -> VideoReading:
    """Read a (T, H, W, 3) uint8 video: background, texture, camera and objects.

    The camera comes from the texture (`background.texture_camera`); over a plain background a
    zoom is read from the objects' growth (`motion.zoom_from_growth`) and a pan stays unseen.
    """
    x = video.astype(np.float32)
    smooth = ndimage.uniform_filter(x, size=(1, 3, 3, 1), mode="nearest")
    model = estimate_background(smooth)
    background = name_background(model)
    plane = model.plane(x)
    smooth_plane = ndimage.uniform_filter(plane, size=(1, 3, 3, 1), mode="nearest")
    measured = segment(x, plane, smooth_plane)
    shapes = [classify_shape(harmonic_strength(m.moments, m.area)) for m in measured]
    radii = [np.sqrt(np.maximum(m.area, 0.0) / AREA_FACTOR[s]) for m, s in zip(measured, shapes, strict=True)]
    level = model.along(smooth)
    valid = _background_pixels(smooth_plane)
    texture = classify_texture(level, valid)
    camera = texture_camera(level, valid, texture)
    if texture == "plain" and zoom_from_growth([log_growth(r) for r in radii]):
        camera = "zoom in"
    frames = np.arange(video.shape[0], dtype=np.float64)
    scale = np.ones_like(frames)
    if camera == "zoom in":
        scale = 1.0 + (ZOOM_END - 1.0) * frames / (frames.size - 1)
    shift = {"pan left": frames, "pan right": -frames}.get(camera, np.zeros_like(frames))
    gain = _gain(model, background)
    objects = [_read_object(m, s, r, scale, shift, gain, texture != "checker")
               for m, s, r in zip(measured, shapes, radii, strict=True)]
    return VideoReading(background, texture, camera, objects)
