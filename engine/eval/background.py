"""The background of a clip, read from its pixels: its line in RGB, its name, texture and camera.

Every background pixel of the world lies on one segment in RGB: between the base colour and its
second tone (stripes, checker), along it (gradient), or at one point (plain). Blur mixes tones along
the segment, a per-channel colour gain moves the segment but keeps it a segment, and no camera
motion takes a pixel off it. So the judge models the background as a line (anchor + t * direction)
and an object as whatever lies far from that line; no per-pixel background image is needed.

Camera: a pan moves content 1 px/frame sideways, which only a texture with vertical edges shows
(checker); a zoom scales content, which stripes, checker and gradient show. Each hypothesis is
tested by predicting the background of frame k from frame 0 (shift or scale about the centre) and
comparing residuals; "static" wins unless a moving hypothesis halves its residual. Over a plain
background the texture says nothing; `motion.py` then reads a zoom from the objects' sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.world.palette import BACKGROUNDS, CENTRE, FRAMES, ZOOM_END

_NEUTRAL = np.full(3, 1.0 / np.sqrt(3.0))
TEXTURE_MIN = 8.0  # tone difference (along the line, RGB units) a stripe or checker pattern must show
GRADIENT_MIN = 20.0  # tone difference from top to bottom a gradient must show
TONE_SPREAD = 40.0  # along-line 5-95 % spread (RGB units) above which the line has two tones to measure
_ZOOM = 1.0 + (ZOOM_END - 1.0) * np.arange(FRAMES) / (FRAMES - 1)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else _NEUTRAL.copy()


@dataclass(frozen=True, eq=False)
class BackgroundModel:
    """A line in RGB that every background pixel lies on, with the two tones measured on it."""

    anchor: np.ndarray  # (3,) a point of the line
    direction: np.ndarray  # (3,) unit vector along the line
    dark: np.ndarray  # (3,) RGB of the darker tone
    bright: np.ndarray  # (3,) RGB of the brighter tone
    textured: bool  # two tones (stripes, checker, gradient) rather than one (plain)

    def along(self, x: np.ndarray) -> np.ndarray:
        """Position of colours (..., 3) along the line."""
        return (x - self.anchor.astype(np.float32)) @ self.direction.astype(np.float32)

    def perp(self, x: np.ndarray) -> np.ndarray:
        """Component (..., 3) of colours perpendicular to the line: zero on the background."""
        d = x - self.anchor
        return d - (d @ self.direction)[..., None] * self.direction

    def plane(self, x: np.ndarray) -> np.ndarray:
        """(..., 2) float32 coordinates of colours in the plane perpendicular to the line."""
        helper = np.eye(3)[int(np.argmin(np.abs(self.direction)))]
        e1 = np.cross(self.direction, helper)
        e1 /= np.linalg.norm(e1)
        basis = np.stack([e1, np.cross(self.direction, e1)], axis=1).astype(np.float32)
        return (x - self.anchor.astype(np.float32)) @ basis


def _fit(pixels: np.ndarray, ray: np.ndarray) -> BackgroundModel:
    t = pixels @ ray
    lo, hi = np.percentile(t, [5, 95])
    dark = np.median(pixels[t <= lo], axis=0)
    bright = np.median(pixels[t >= hi], axis=0)
    if hi - lo < TONE_SPREAD:
        anchor = np.median(pixels, axis=0)
        direction = _unit(anchor) if np.linalg.norm(anchor) > 30 else _NEUTRAL.copy()
        return BackgroundModel(anchor, direction, anchor, anchor, False)
    return BackgroundModel((dark + bright) / 2, _unit(bright - dark), dark, bright, True)


def estimate_background(smooth: np.ndarray) -> BackgroundModel:
    """Fit the background line to box-smoothed frames (T, H, W, 3) float.

    The backgrounds are near-neutral and the objects saturated, so the median chromaticity of the
    bright, unsaturated pixels gives the background's ray from black; pixels near that ray give
    the line, and a second pass keeps the pixels near the fitted line only.
    """
    pixels = smooth[::2, ::3, ::3].reshape(-1, 3).astype(np.float64)
    norm = np.linalg.norm(pixels, axis=1)
    top = pixels.max(axis=1)
    lit = (norm > 60) & (top - pixels.min(axis=1) < 0.4 * top)  # bright and unsaturated
    ray = _NEUTRAL
    if lit.mean() > 0.2:
        ray = _unit(np.median(pixels[lit] / norm[lit, None], axis=0))
    near = pixels[np.linalg.norm(pixels - (pixels @ ray)[:, None] * ray, axis=1) < 35]
    if len(near) < 50:
        near = pixels
    model = _fit(near, ray)
    close = pixels[np.linalg.norm(model.perp(pixels), axis=1) < 20]
    return _fit(close, model.direction) if len(close) >= 50 else model


def _gain_box_distance(colour: np.ndarray, reference: np.ndarray) -> float:
    """Distance from a colour to the box of a reference under a per-channel gain of 0.88-1.12."""
    ref = np.asarray(reference, dtype=np.float64)
    lo, hi = 0.88 * ref, np.minimum(255.0, 1.12 * ref)
    return float(np.linalg.norm(np.maximum(lo - colour, 0) + np.maximum(colour - hi, 0)))


def name_background(model: BackgroundModel) -> str:
    """Nearest background name: black by its dark tone, the others by the bright (base) tone."""
    if model.dark.mean() < 40:
        return "black"
    names = [n for n in BACKGROUNDS if n != "black"]
    return min(names, key=lambda n: (_gain_box_distance(model.bright, BACKGROUNDS[n]),
                                     np.linalg.norm(model.bright - BACKGROUNDS[n])))


def _row_profiles(level: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, H) mean background level of each row over its valid pixels; NaN where fewer than 8."""
    count = valid.sum(axis=2)
    total = np.where(valid, level, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 8, total / np.maximum(count, 1), np.nan)


def classify_texture(level: np.ndarray, valid: np.ndarray) -> str:
    """Texture from frame 0 (identity camera), by how much tone difference each pattern explains.

    Stripes: the row profile's component at an 8 px period; checker: the frame's components at a
    16 px period along both diagonals; gradient: the row profile's linear trend over the height.
    Each is scaled to the tone difference it implies for a sharp pattern (a square wave's
    fundamental is 4/pi of its half-height), and the strongest wins if it clears its threshold.
    Fourier amplitudes ignore the pattern's phase and average the noise over the whole frame, so
    a blurred, noisy texture whose pixels no longer fall into two tones is still found.
    """
    frame, ok = level[0], valid[0]
    if ok.sum() < 64:
        return "plain"
    filled = np.where(ok, frame, frame[ok].mean())
    size = frame.shape[0]
    y = np.arange(size, dtype=np.float64)
    rows = filled.mean(axis=1)
    stripes = 2 * abs(np.sum((rows - rows.mean()) * np.exp(-2j * np.pi * y / 8))) / size / (2 / np.pi)
    gradient = abs(np.polyfit(y, rows, 1)[0]) * (size - 1)
    spectrum = np.fft.fft2(filled - filled.mean()) / filled.size
    cell = size // 16
    checker = 2 * (abs(spectrum[cell, cell]) + abs(spectrum[cell, -cell])) / (8 / np.pi**2)
    scores = {"stripes": stripes / TEXTURE_MIN, "checker": checker / TEXTURE_MIN,
              "gradient": gradient / GRADIENT_MIN}
    best = max(scores, key=scores.get)
    return best if scores[best] > 1.0 else "plain"


def _zoom_rows(profile: np.ndarray, scale: float) -> np.ndarray:
    y = np.arange(profile.size, dtype=np.float64)
    ok = np.isfinite(profile)
    source = CENTRE + (y - CENTRE) / scale
    return np.interp(source, y[ok], profile[ok]) if ok.sum() > 4 else np.full(profile.size, np.nan)


def _checker_residuals(level: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    size = level.shape[1]
    grid = np.mgrid[0:size, 0:size].astype(np.float64)
    errors = {"static": 0.0, "pan left": 0.0, "pan right": 0.0, "zoom in": 0.0}
    for k in range(1, level.shape[0]):
        preds = {
            "static": (level[0], valid[0]),
            "pan left": (np.roll(level[0], k, axis=1), np.roll(valid[0], k, axis=1)),
            "pan right": (np.roll(level[0], -k, axis=1), np.roll(valid[0], -k, axis=1)),
        }
        preds["pan left"][1][:, :k] = False
        preds["pan right"][1][:, size - k:] = False
        src = CENTRE + (grid - CENTRE) / _ZOOM[k]
        preds["zoom in"] = (ndimage.map_coordinates(level[0], src, order=1),
                            ndimage.map_coordinates(valid[0].astype(np.float32), src, order=0) > 0.5)
        for name, (pred, ok) in preds.items():
            both = ok & valid[k]
            if both.any():
                errors[name] += float(np.mean((level[k][both] - pred[both]) ** 2))
    return errors


def _profile_residuals(level: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    rows = _row_profiles(level, valid)
    errors = {"static": 0.0, "zoom in": 0.0}
    for k in range(1, level.shape[0]):
        for name, pred in (("static", rows[0]), ("zoom in", _zoom_rows(rows[0], _ZOOM[k]))):
            diff = rows[k] - pred
            if np.isfinite(diff).any():
                errors[name] += float(np.nanmean(diff**2))
    return errors


def texture_camera(level: np.ndarray, valid: np.ndarray, texture: str) -> str:
    """Camera read from the texture; "static" where the texture cannot show the motion."""
    if texture == "plain":
        return "static"
    errors = _checker_residuals(level, valid) if texture == "checker" else _profile_residuals(level, valid)
    best = min(errors, key=errors.get)
    return best if errors[best] < 0.5 * errors["static"] else "static"
