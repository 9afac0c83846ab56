"""Objects of a clip, read from its pixels: segmentation, per-frame coverage, centroid, area and
angular moments, and the mean colour.

A pixel's component perpendicular to the background line (`background.py`) is zero on the
background and `alpha * (object colour)_perp` on an object (coverage alpha, any blur): a linear,
texture- and camera-free object signal. Two objects never share a colour, so their perpendicular
colours point in different directions; the judge clusters the direction (one angle in the plane
perpendicular to the line) of the core pixels into one or two objects, then reads each object's
alpha as the projection on its direction divided by its contrast. Sums of alpha (area, centroid)
are unbiased under noise and unchanged by blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CORE_RANGE = (30.0, 45.0)  # smoothed perpendicular magnitude (RGB units) of a pixel surely on an object
SPECK = 6  # core blobs smaller than this (px) and never far above the threshold are noise
MIN_SPLIT_DEG = 10.0  # two colour clusters closer than this in angle are one object
MIN_SECOND = 20  # core pixels over a clip that a second colour cluster needs to count
MIN_PIXELS = 12  # fewer core pixels over the whole clip than this: no object
REACH = 3  # px around an object's core pixels that still count as the object (blur, edges)
HARMONICS = (3, 4, 5)  # angular harmonics of the silhouette: triangle, square, star


@dataclass(frozen=True, eq=False)
class Measured:
    """Per-frame measurements of one segmented object (NaN where it was not found)."""

    track: np.ndarray  # (T, 2) alpha-weighted centroid (x, y)
    area: np.ndarray  # (T,) sum of alpha, px^2
    moments: np.ndarray  # (T, len(HARMONICS)) complex: sum of w rho^2 e^{i n phi} / sum of w rho^2
    rgb: np.ndarray  # (3,) mean colour of the interior pixels


def _circular_mean(theta: np.ndarray, weight: np.ndarray) -> float:
    return float(np.angle(np.sum(weight * np.exp(1j * theta))))


def _wrap(theta: np.ndarray) -> np.ndarray:
    return (theta + np.pi) % (2 * np.pi) - np.pi


def cluster_angles(theta: np.ndarray, weight: np.ndarray) -> list[float]:
    """One or two cluster centres (radians) of colour angles.

    Peaks of a circularly smoothed histogram of pixel counts (2 degree bins) seed a 2-means
    refinement. The second seed is the highest other local maximum that is MIN_SPLIT_DEG away from
    the first, with a valley under half its height between them (so the tail of one wide cluster is
    not taken for a second) and MIN_SECOND pixels within +-6 degrees.
    """
    bins = 180
    index = ((theta + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    count = np.bincount(index, minlength=bins).astype(np.float64)
    hist = ndimage.convolve1d(count, np.array([1.0, 2.0, 3.0, 2.0, 1.0]), mode="wrap")
    mass = ndimage.convolve1d(count, np.ones(7), mode="wrap")
    first = int(np.argmax(hist))
    peaks = np.flatnonzero((hist >= np.roll(hist, 1)) & (hist >= np.roll(hist, -1)) & (hist > 0))
    second = None
    for p in peaks[np.argsort(-hist[peaks])]:
        offset = (int(p) - first + bins // 2) % bins - bins // 2
        if abs(offset) * 360 / bins < MIN_SPLIT_DEG or mass[p] < max(MIN_SECOND, 0.002 * theta.size):
            continue
        arc = (first + np.sign(offset) * np.arange(abs(offset) + 1)) % bins
        if hist[arc].min() < 0.5 * hist[p]:
            second = int(p)
            break
    if second is None:
        return [_circular_mean(theta, weight)]
    centres = (np.array([first, second]) + 0.5) * 2 * np.pi / bins - np.pi
    for _ in range(5):
        near0 = np.abs(_wrap(theta - centres[0])) <= np.abs(_wrap(theta - centres[1]))
        if near0.all() or not near0.any():
            return [_circular_mean(theta, weight)]
        centres = np.array([_circular_mean(theta[near0], weight[near0]),
                            _circular_mean(theta[~near0], weight[~near0])])
    small = min(near0.sum(), (~near0).sum())
    if np.degrees(abs(_wrap(centres[0] - centres[1]))) < MIN_SPLIT_DEG or small < MIN_SECOND:
        return [_circular_mean(theta, weight)]
    return [float(c) for c in centres]


def _measure(alpha: np.ndarray, smooth_alpha: np.ndarray, region: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame centroid, area and silhouette moments; the moments ignore pixels whose smoothed
    alpha is under 0.2, so background noise far from the centre (weighted by rho^2) stays out."""
    t, h, w = alpha.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.where(region, alpha, 0.0)
    wgt = np.clip(a, 0.0, 1.0)
    shape_wgt = np.where(smooth_alpha > 0.2, wgt, 0.0)
    area = a.sum(axis=(1, 2))
    mass = wgt.sum(axis=(1, 2))
    ok = mass > 3.0
    safe = np.where(ok, mass, 1.0)
    cx = (wgt * xs).sum(axis=(1, 2)) / safe
    cy = (wgt * ys).sum(axis=(1, 2)) / safe
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    rho2 = dx**2 + dy**2
    phase = np.exp(1j * np.arctan2(dy, dx))
    m0 = np.maximum((shape_wgt * rho2).sum(axis=(1, 2)), 1e-9)
    moments = np.stack([(shape_wgt * rho2 * phase**n).sum(axis=(1, 2)) / m0 for n in HARMONICS], axis=1)
    track = np.stack([cx, cy], axis=1)
    track[~ok] = np.nan
    area[~ok] = np.nan
    moments[~ok] = np.nan
    return track, area, moments


def _owners(core: np.ndarray, theta: np.ndarray, weight: np.ndarray, centres: list[float]) -> np.ndarray:
    """Cluster index of every core pixel (theta, weight: their angles and squared magnitudes).

    A single pixel's colour angle is noisy (a faint edge pixel of a yellow object can look orange),
    its neighbourhood's is not: every core pixel takes the cluster with the most weight among the
    core pixels within 2 px in its frame, which also splits two touching objects along their seam.
    """
    pixel = np.argmin(np.stack([np.abs(_wrap(theta - c)) for c in centres]), axis=0)
    if len(centres) == 1:
        return pixel
    votes = []
    for k in range(len(centres)):
        grid = np.zeros(core.shape, dtype=np.float32)
        grid[core] = weight * (pixel == k)
        votes.append(ndimage.uniform_filter(grid, size=(1, 5, 5))[core])
    return np.argmax(np.stack(votes), axis=0)


def noise_sigma(mag: np.ndarray) -> float:
    """Per-axis noise (RGB units) of the smoothed perpendicular colour: most pixels are background,
    where the magnitude of 2-D Gaussian noise has median 1.18 sigma."""
    return float(np.median(mag)) / 1.18


def _core(mag: np.ndarray) -> np.ndarray:
    """(T, H, W) pixels surely on an object: far from the background line, in a blob that is big
    or strong enough not to be a noise speck.

    The threshold follows the noise (`noise_sigma`), kept within CORE_RANGE.
    """
    threshold = float(np.clip(5.5 * noise_sigma(mag), *CORE_RANGE))
    core = mag > threshold
    labels, count = ndimage.label(core, structure=np.pad(np.ones((1, 3, 3)), ((1, 1), (0, 0), (0, 0))))
    if count == 0:
        return core
    idx = labels[core]
    size = np.bincount(idx, minlength=count + 1)
    peak = np.zeros(count + 1)
    np.maximum.at(peak, idx, mag[core])
    keep = (size >= SPECK) | (peak >= 1.5 * threshold)
    keep[0] = False
    return keep[labels]


def grow(mask: np.ndarray, reach: int) -> np.ndarray:
    """(T, H, W) mask dilated by a (2 reach + 1)^2 square within each frame."""
    out = ndimage.maximum_filter1d(mask.view(np.uint8), 2 * reach + 1, axis=1)
    return ndimage.maximum_filter1d(out, 2 * reach + 1, axis=2).astype(bool)


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the bounding box of a (T, H, W) mask over all frames."""
    rows, cols = np.flatnonzero(mask.any(axis=(0, 2))), np.flatnonzero(mask.any(axis=(0, 1)))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def segment(video: np.ndarray, plane: np.ndarray, smooth_plane: np.ndarray) -> list[Measured]:
    """Find and measure the objects of float frames (T, H, W, 3).

    `plane` (T, H, W, 2) holds each pixel's colour perpendicular to the background line in a basis
    of that plane, `smooth_plane` the same after a 3x3 box blur.
    """
    mag = np.hypot(smooth_plane[..., 0], smooth_plane[..., 1])
    core = _core(mag)
    if core.sum() < MIN_PIXELS:
        return []
    theta = np.arctan2(smooth_plane[..., 1][core], smooth_plane[..., 0][core])
    weight = mag[core] ** 2
    centres = cluster_angles(theta, weight)
    owner = np.full(core.shape, -1)
    owner[core] = _owners(core, theta, weight, centres)
    found = []
    for k, c in enumerate(centres):
        mine = owner == k
        if not mine.any():  # its pixels all sided with the other cluster's neighbourhoods
            continue
        u = np.array([np.cos(c), np.sin(c)], dtype=np.float32)
        smooth_proj = smooth_plane @ u
        top = smooth_proj[mine]
        interior = mine & (smooth_proj >= 0.9 * np.percentile(top, 95))
        contrast = float(np.median((plane @ u)[interior]))
        region = grow(mine, REACH)
        found.append((region, u, contrast, interior))
    if len(found) == 2:  # a pixel near both goes to the object whose colour it resembles more
        shared = found[0][0] & found[1][0]
        first = (plane[shared] @ found[0][1]) / found[0][2] >= (plane[shared] @ found[1][1]) / found[1][2]
        found[0][0][shared] = first
        found[1][0][shared] = ~first
    objects: list[tuple[float, Measured]] = []
    for region, u, contrast, interior in found:
        rows, cols = _box(region)
        track, area, moments = _measure(
            (plane[:, rows, cols] @ u) / contrast, (smooth_plane[:, rows, cols] @ u) / contrast,
            region[:, rows, cols])
        track += (cols.start, rows.start)
        objects.append((float(np.nansum(area)), Measured(track, area, moments, video[interior].mean(axis=0))))
    return [m for _, m in sorted(objects, key=lambda p: -p[0])]
