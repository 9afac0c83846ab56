"""Where a shape is on screen in every frame: camera, motion, placement and wall bounces.

Coordinates are pixel centres, x right, y down. The camera maps world to screen per frame k:

    screen = CENTRE + scale[k] * (world - CENTRE) + shift[k]

`pan left` moves the camera left, so the content shifts right by 1 px/frame (shift = +k, 0);
`pan right` the opposite; `zoom in` scales linearly from 1.0 to 1.3 about (31.5, 31.5), so screen
radii grow too. At frame 0 every camera is the identity.

A shape's reach from its centroid is `SHAPE_EXTENTS` x r (unrotated) or `BOUND_RADIUS` x r (when it
spins). A path is valid when that reach stays inside [0, 63] on both axes in all 17 frames.

Straight, still, spinning, growing and shrinking paths are linear in the start position, so the
valid start positions form an interval per axis, computed exactly and sampled uniformly (no
rejection). Bouncing is simulated on screen: its walls are the canvas edges the viewer sees, so the
camera only changes a bouncing shape's screen radius (zoom), never its path. A bounce is recorded
at the fractional frame time where the shape's edge meets the wall (walls move linearly between
frames under zoom).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from engine.world.palette import (
    BOUNCE_SPEED,
    BOUND_RADIUS,
    CENTRE,
    EDGE,
    FRAMES,
    MIN_GAP,
    PAN_PX,
    SCALE_END,
    SHAPE_EXTENTS,
    SPEEDS,
    SPIN_DEG_PER_FRAME,
    STRAIGHT_MOTIONS,
    ZOOM_END,
)

STEPS = np.arange(FRAMES, dtype=np.float64)
_TOL = 1e-6


class Path(NamedTuple):
    """Screen-space truth of one object over the clip."""

    centres: np.ndarray  # (17, 2) float64 screen centroid
    radii: np.ndarray  # (17,) float64 screen outer radius
    angles: np.ndarray  # (17,) float64 degrees, clockwise on screen
    bounce_frames: tuple[float, ...]


def camera_transform(camera: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (scale (17,), shift (17, 2)) of the camera: screen = C + scale * (world - C) + shift."""
    scale = np.ones(FRAMES)
    shift = np.zeros((FRAMES, 2))
    if camera == "pan left":
        shift[:, 0] = PAN_PX * STEPS
    elif camera == "pan right":
        shift[:, 0] = -PAN_PX * STEPS
    elif camera == "zoom in":
        scale = 1.0 + (ZOOM_END - 1.0) * STEPS / (FRAMES - 1)
    elif camera != "static":
        raise ValueError(f"unknown camera {camera!r}")
    return scale, shift


def world_radii(radius: float, motion: str) -> np.ndarray:
    """(17,) outer radius in world pixels: linear to 1.6x / 0.6x for growing / shrinking."""
    end = SCALE_END.get(motion, 1.0)
    return radius * (1.0 + (end - 1.0) * STEPS / (FRAMES - 1))


def reach(shape: str, motion: str) -> np.ndarray:
    """(left, right, up, down) reach from the centroid in multiples of r."""
    if motion == "spinning":
        return np.full(4, BOUND_RADIUS[shape])
    return np.asarray(SHAPE_EXTENTS[shape])


def inside(path: Path, shape: str, motion: str) -> bool:
    """Whether the shape's reach stays within [0, 63] on both axes in every frame."""
    left, right, up, down = reach(shape, motion)[:, None] * path.radii
    x, y = path.centres.T
    return bool(
        np.all(x - left >= -_TOL) and np.all(x + right <= EDGE + _TOL)
        and np.all(y - up >= -_TOL) and np.all(y + down <= EDGE + _TOL)
    )


def apart(a: Path, shape_a: str, b: Path, shape_b: str) -> bool:
    """Whether two objects' bounding circles keep MIN_GAP px between them in every frame."""
    distance = np.hypot(*(a.centres - b.centres).T)
    gap = distance - BOUND_RADIUS[shape_a] * a.radii - BOUND_RADIUS[shape_b] * b.radii
    return bool(np.all(gap > MIN_GAP))


def linear_path(
    rng: np.random.Generator, shape: str, motion: str, radius: float, speed: str | None, camera: str
) -> Path | None:
    """A uniformly placed path for every motion but bouncing, or None when no start fits."""
    scale, shift = camera_transform(camera)
    radii = scale * world_radii(radius, motion)
    direction = np.asarray(STRAIGHT_MOTIONS.get(motion, (0, 0)), dtype=np.float64)
    velocity = direction * (SPEEDS[speed] if speed else 0.0)
    left, right, up, down = reach(shape, motion)[:, None] * radii
    start = np.empty(2)
    for axis, (near, far) in enumerate(((left, right), (up, down))):
        # screen_k = C + scale_k * (x0 + v * k - C) + shift_k must lie in [near_k, EDGE - far_k].
        offset = CENTRE - velocity[axis] * STEPS
        lo = np.max((near - shift[:, axis] - CENTRE) / scale + offset)
        hi = np.min((EDGE - far - shift[:, axis] - CENTRE) / scale + offset)
        if lo > hi:
            return None
        start[axis] = rng.uniform(lo, hi)
    world = start + velocity * STEPS[:, None]
    centres = CENTRE + scale[:, None] * (world - CENTRE) + shift
    spin = SPIN_DEG_PER_FRAME if motion == "spinning" else 0.0
    return Path(centres, radii, spin * STEPS, ())


def bouncing_path(rng: np.random.Generator, shape: str, radius: float, camera: str) -> Path | None:
    """A path at 1.5-2.5 px/frame in a uniform direction, reflected at the canvas edges."""
    scale, _ = camera_transform(camera)
    radii = scale * radius
    left, right, up, down = reach(shape, "bouncing")[:, None] * radii
    walls = (np.stack([left, up], 1), np.stack([EDGE - right, EDGE - down], 1))  # (17, 2) each
    if np.any(walls[0] > walls[1]):
        return None
    position = rng.uniform(walls[0][0], walls[1][0])
    heading = rng.uniform(0.0, 2.0 * math.pi)
    velocity = rng.uniform(*BOUNCE_SPEED) * np.array([math.cos(heading), math.sin(heading)])
    centres = np.empty((FRAMES, 2))
    centres[0] = position
    bounces = []
    for k in range(FRAMES - 1):
        for axis in range(2):
            x, v = centres[k, axis], velocity[axis]
            moved = x + v
            wall = walls[1] if v > 0 else walls[0]
            if (moved - wall[k + 1, axis]) * np.sign(v) > 0:
                # Edge meets the wall where x + v t = wall_k + (wall_k+1 - wall_k) t, t in [0, 1].
                t = (wall[k, axis] - x) / (v - (wall[k + 1, axis] - wall[k, axis]))
                bounces.append(k + min(max(float(t), 0.0), 1.0))
                moved = 2.0 * wall[k + 1, axis] - moved
                velocity[axis] = -v
            centres[k + 1, axis] = moved
    return Path(centres, radii, np.zeros(FRAMES), tuple(sorted(bounces)))
