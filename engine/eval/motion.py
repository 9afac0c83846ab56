"""Shape and motion of one measured object, and a zoom read from the objects' sizes.

Shape: the silhouette's angular harmonics |m_n| (n = 3, 4, 5; see `objects.py`) are rotation and
scale invariant; a triangle has a strong 3rd, a square a strong 4th, a star a strong 5th, a circle
none. Noise adds about the same power to every |m_n|^2, so the weakest harmonic's power is taken
as the noise and removed before the strongest is picked (clean values: triangle 0.54, square 0.29,
star 0.56, circle 0).

Motion, decided in this order:
1. spinning: the phase of the shape's harmonic turns steadily (20 deg/frame of rotation is
   60/80/100 deg/frame of phase for n = 3/4/5); circles never spin.
2. growing / shrinking: the radius, with the zoom divided out, changes by more than 25 % over
   the clip (the world's are 1.6x and 0.6x).
3. bouncing: the track (camera removed) has a kink, or it moves at a speed and direction no
   straight motion has (a bounce may not happen within the clip).
4. still (under 0.35 px/frame once the camera is removed), else the direction of the velocity,
   in eight 45 degree sectors.
A pan the texture cannot show is not removed, so straight motions then read as the velocity a
viewer sees (object plus content shift); `scoring.py` expects exactly that.
"""

from __future__ import annotations

import math

import numpy as np

from engine.world.palette import SCALE_END, SPIN_DEG_PER_FRAME, STAR_INNER, STRAIGHT_MOTIONS, ZOOM_END

SHAPE_ORDER = {"triangle": 0, "square": 1, "star": 2}  # index into objects.HARMONICS
MIN_STRENGTH = 0.06  # no harmonic this strong: a circle
AREA_FACTOR = {  # area / r^2 for the outer radius r
    "circle": math.pi,
    "square": 4.0,
    "triangle": 3.0 * math.sqrt(3.0) / 4.0,
    "star": 5.0 * STAR_INNER * math.sin(math.radians(36.0)),
}
SPIN_MIN_DEG = SPIN_DEG_PER_FRAME / 2  # mean rotation step (deg/frame) above which a shape spins
SPIN_COHERENCE = 0.6  # |sum of phase steps| / sum of |steps| a real spin exceeds
GROWTH_MIN = math.log(1.25)  # total log-radius change that makes an object grow or shrink
STILL_MAX = 0.35  # px/frame
KINK_GAIN = 1.0  # px^2 of squared error a kink must save over a straight line to be a bounce
KINK_SLOPE = 0.5  # px/frame: the least change of velocity a bounce makes
LATTICE_TOL = 0.1  # px/frame: how close a velocity must be to a straight motion's
DIRECTIONS = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")
_STRAIGHT = [np.array(v, dtype=np.float64) for v in STRAIGHT_MOTIONS.values()]
_ZOOM_LOG = math.log(ZOOM_END)
_GROWTH_LOGS = (0.0, math.log(SCALE_END["growing"]), math.log(SCALE_END["shrinking"]))


def harmonic_strength(moments: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(3,) strength of harmonics 3, 4, 5: sqrt of the mean power |m_n|^2 over frames (weighted by
    area^2, so a shrinking shape's large early frames count most) less the weakest one's power,
    which is what noise alone gives every harmonic (a shape has power in at most one of them)."""
    a = np.where(np.isfinite(area), np.maximum(np.nan_to_num(area), 0.0), 0.0)
    w = a**2
    if w.sum() <= 0:
        return np.zeros(len(SHAPE_ORDER))
    power = (np.nan_to_num(np.abs(moments)) ** 2 * w[:, None]).sum(axis=0) / w.sum()
    return np.sqrt(power - power.min())


def classify_shape(strength: np.ndarray) -> str:
    """Circle, triangle, square or star from the harmonic strengths."""
    best = int(np.argmax(strength))
    if strength[best] < MIN_STRENGTH:
        return "circle"
    return next(name for name, i in SHAPE_ORDER.items() if i == best)


def spin_step(moments: np.ndarray, shape: str) -> float:
    """Rotation per frame (deg, unsigned) from the shape's harmonic: the angle of the summed
    products m(k+1) conj(m(k)), so frames where the silhouette is faint or noisy weigh little.
    Zero when the steps disagree (coherence under SPIN_COHERENCE): noise turns every which way."""
    if shape == "circle":
        return 0.0
    i = SHAPE_ORDER[shape]
    m = np.nan_to_num(moments[:, i])
    products = m[1:] * np.conj(m[:-1])
    total = np.abs(products).sum()
    turn = products.sum()
    if total <= 0 or abs(turn) < SPIN_COHERENCE * total:
        return 0.0
    return float(abs(np.degrees(np.angle(turn))) / (3, 4, 5)[i])


def log_growth(radii: np.ndarray) -> float:
    """Total change of log radius over the clip from a least-squares line through log r."""
    k = np.arange(radii.size, dtype=np.float64)
    ok = np.isfinite(radii) & (radii > 0.5)
    if ok.sum() < 3:
        return 0.0
    slope = np.polyfit(k[ok], np.log(radii[ok]), 1)[0]
    return float(slope * (radii.size - 1))


def zoom_from_growth(growths: list[float]) -> bool:
    """Whether the objects' growths are better explained with a 1.3x zoom than without.

    Every object's own growth is 1, 1.6x or 0.6x; a zoom multiplies all of them by 1.3, and the six
    products are far enough apart (in log) to tell apart.
    """
    if not growths:
        return False
    evidence = 0.0
    for g in growths:
        plain = min(abs(g - c) for c in _GROWTH_LOGS)
        zoomed = min(abs(g - c - _ZOOM_LOG) for c in _GROWTH_LOGS)
        evidence += plain - zoomed
    return evidence > 0


def velocity(track: np.ndarray) -> np.ndarray:
    """(2,) px/frame: Theil-Sen slope (median over frame pairs at least 4 apart), robust to a bad frame."""
    k = np.arange(track.shape[0])
    i, j = np.triu_indices(k.size, 4)
    slopes = (track[j] - track[i]) / (j - i)[:, None].astype(np.float64)
    ok = np.all(np.isfinite(slopes), axis=1)
    return np.median(slopes[ok], axis=0) if ok.any() else np.zeros(2)


def track_noise(track: np.ndarray) -> float:
    """Robust per-frame position noise (px) from the second differences of a track (a bounce or a
    constant velocity leaves them zero but for one or two frames)."""
    second = np.diff(track, n=2, axis=0)
    second = second[np.isfinite(second)]
    return float(1.4826 * np.median(np.abs(second)) / math.sqrt(6.0)) if second.size else 0.0


def kinks(track: np.ndarray, noise: float) -> bool:
    """Whether a track bounces: on some axis a line with one kink, x = a + d k + c |k - b|, fits
    far better than a straight line (by KINK_GAIN px^2 and 25 noise variances) and the slope
    changes by more than KINK_SLOPE. At most one bounce per axis fits in a clip at these speeds."""
    k = np.arange(track.shape[0], dtype=np.float64)
    bends = np.arange(0.5, k[-1], 0.5)
    for axis in range(2):
        ok = np.isfinite(track[:, axis])
        if ok.sum() < 5:
            continue
        x, kk = track[ok, axis], k[ok]
        line = np.stack([np.ones_like(kk), kk], axis=1)
        base = np.sum((x - line @ np.linalg.lstsq(line, x, rcond=None)[0]) ** 2)
        design = np.concatenate([np.broadcast_to(line, (bends.size, *line.shape)),
                                 np.abs(kk[None, :] - bends[:, None])[..., None]], axis=2)  # (B, T, 3)
        rhs = np.einsum("btj,t->bj", design, x)
        coef = np.einsum("bij,bj->bi", np.linalg.pinv(np.einsum("bti,btj->bij", design, design)), rhs)
        gain = base - (x @ x - np.einsum("bj,bj->b", coef, rhs))  # least-squares error saved by the kink
        if np.any((gain > max(KINK_GAIN, 25.0 * noise**2)) & (2 * np.abs(coef[:, 2]) > KINK_SLOPE)):
            return True
    return False


def on_lattice(velocity: np.ndarray, pan_possible: bool, tolerance: float = LATTICE_TOL) -> bool:
    """Whether a velocity is one a straight motion (or still) has, plus an unseen pan if possible."""
    pans = (-1.0, 0.0, 1.0) if pan_possible else (0.0,)
    candidates = [np.zeros(2)] + [d * s for d in _STRAIGHT for s in (1.0, 2.0)]
    return any(np.linalg.norm(velocity - c - (p, 0.0)) < tolerance for c in candidates for p in pans)


def direction_class(velocity: np.ndarray) -> str:
    """Still or one of eight directions (y grows down on screen)."""
    if np.hypot(*velocity) < STILL_MAX:
        return "still"
    angle = math.degrees(math.atan2(-velocity[1], velocity[0])) % 360.0
    return DIRECTIONS[int((angle + 22.5) // 45.0) % 8]


def classify_motion(shape: str, spin: float, growth: float, world_track: np.ndarray, pan_possible: bool) -> str:
    """Motion class of one object (see the module docstring for the order of the tests)."""
    if shape != "circle" and spin > SPIN_MIN_DEG:
        return "spinning"
    if growth > GROWTH_MIN:
        return "growing"
    if growth < -GROWTH_MIN:
        return "shrinking"
    noise = track_noise(world_track)
    if kinks(world_track, noise):
        return "bouncing"
    own = velocity(world_track)
    tolerance = max(LATTICE_TOL, 0.3 * noise)  # Theil-Sen error is about 0.055 x the position noise
    if not on_lattice(own, pan_possible, tolerance):
        return "bouncing"
    return direction_class(own)

