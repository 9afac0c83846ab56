"""The numbers of the Moving Shapes world (v1), copied from `world.md`, the contract.

Everything that renders, captions or judges a clip reads its constants from here. Changing a value
means changing `world.md` and bumping WORLD_VERSION, which checkpoints record in their config.

Decisions the contract leaves open (v1):
- Sizes draw the outer radius uniformly (continuous) from the size's range, in pixels.
- A texture's second tone is 40 % darker (x 0.6) than the base, or 40 % lighter for black
  (base + 0.4 * (255 - base) = 102 grey), rounded to the nearest integer.
- A frame is shown at time (k + 0.5) / FPS seconds, the centre of its audio samples
  [k * 2000, (k + 1) * 2000); frame times and bounce times use that clock.
"""

from __future__ import annotations

import math

WORLD_VERSION = 1

FRAMES = 17
SIZE = 64
FPS = 8
SAMPLE_RATE = 16000
AUDIO_SAMPLES = 34000
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 2000: frame k covers samples [k * 2000, (k + 1) * 2000)
EDGE = SIZE - 1.0  # the last pixel centre; a shape stays inside [0, EDGE] on both axes
CENTRE = EDGE / 2  # 31.5, the centre of zoom

EVAL_SEED_START = 1_000_000_000  # training seeds are below it, evaluation seeds at or above it

OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 215, 40),
    "green": (50, 180, 70),
    "cyan": (40, 200, 210),
    "blue": (45, 90, 230),
    "purple": (150, 70, 200),
    "pink": (240, 120, 180),
}

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "sand": (235, 220, 180),
}

TEXTURES = ("plain", "stripes", "checker", "gradient")
STRIPE_PERIOD = 8  # horizontal stripes: 4 rows of the base colour, then 4 rows of the second tone
CHECKER_CELL = 8  # checker squares of 8 x 8 px

SHAPES = ("circle", "square", "triangle", "star")
STAR_INNER = 0.45  # inner radius of the star as a fraction of its outer radius

SIZES: dict[str, tuple[float, float]] = {"small": (5.0, 6.0), "medium": (7.0, 9.0), "large": (10.0, 12.0)}

STRAIGHT_MOTIONS: dict[str, tuple[int, int]] = {  # unit direction (dx, dy) on screen, y grows down
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
    "up-left": (-1, -1),
    "up-right": (1, -1),
    "down-left": (-1, 1),
    "down-right": (1, 1),
}
MOTIONS = ("still", *STRAIGHT_MOTIONS, "bouncing", "spinning", "growing", "shrinking")
SPEEDS: dict[str, float] = {"slow": 1.0, "fast": 2.0}  # px/frame along each moving axis
BOUNCE_SPEED = (1.5, 2.5)  # px/frame, uniform, in a uniform random direction
SPIN_DEG_PER_FRAME = 20.0  # clockwise on screen
SCALE_END = {"growing": 1.6, "shrinking": 0.6}  # radius factor reached at the last frame

CAMERAS = ("static", "pan left", "pan right", "zoom in")
CAMERA_WEIGHTS = (0.8, 0.2 / 3, 0.2 / 3, 0.2 / 3)
PAN_PX = 1.0  # content shift per frame: right for "pan left", left for "pan right"
ZOOM_END = 1.3  # "zoom in": scale grows linearly from 1 to this about CENTRE

P_TWO_OBJECTS = 0.3
MIN_GAP = 2.0  # px between the bounding circles of two objects, in every frame

# Sound.
BASE_FREQ = 220.0  # Hz at the bottom edge (y = 63); two octaves higher (880 Hz) at the top (y = 0)
TIMBRES: dict[str, dict[int, float]] = {  # shape -> {harmonic: amplitude}, peak-normalised later
    "circle": {1: 1.0},
    "square": {n: 1.0 / n for n in (1, 3, 5, 7)},
    # The textbook triangle wave's series: odd harmonics at 1/n^2 with alternating signs.
    "triangle": {n: (-1.0) ** k / n**2 for k, n in enumerate((1, 3, 5, 7))},
    "star": {n: 1.0 / n for n in range(1, 9)},
}
LOUDNESS = (0.08, 0.02)  # peak amplitude = 0.08 + 0.02 * r (screen radius)
CLICK_SECONDS = 0.030
CLICK_TAU = 0.006
CLICK_AMPLITUDE = 0.5
PEAK = 0.9  # the mix is scaled down to this peak only when it is louder

# No harmonic ever reaches Nyquist: the highest pitch is 880 Hz and the highest harmonic is 8.
assert max(max(t) for t in TIMBRES.values()) * BASE_FREQ * 4 < SAMPLE_RATE / 2


def second_tone(background: str) -> tuple[int, int, int]:
    """The texture's second tone: 40 % darker than the base, or 40 % lighter for black."""
    base = BACKGROUNDS[background]
    if background == "black":
        return tuple(round(c + 0.4 * (255 - c)) for c in base)  # type: ignore[return-value]
    return tuple(round(0.6 * c) for c in base)  # type: ignore[return-value]


def pitch(y: float) -> float:
    """Frequency in Hz of an object whose centroid is at screen height y."""
    return BASE_FREQ * 2.0 ** (2.0 * (1.0 - y / EDGE))


def frame_time(frame: float) -> float:
    """Seconds at which a (fractional) frame index is shown: frame k at (k + 0.5) / FPS."""
    return (frame + 0.5) / FPS


SHAPE_EXTENTS: dict[str, tuple[float, float, float, float]] = {
    # Unrotated reach of a shape from its centroid, as multiples of r: (left, right, up, down).
    "circle": (1.0, 1.0, 1.0, 1.0),
    "square": (1.0, 1.0, 1.0, 1.0),
    "triangle": (math.sqrt(3) / 2, math.sqrt(3) / 2, 1.0, 0.5),
    "star": (math.sin(math.radians(72)), math.sin(math.radians(72)), 1.0, math.cos(math.radians(36))),
}
BOUND_RADIUS = {"circle": 1.0, "square": math.sqrt(2), "triangle": 1.0, "star": 1.0}  # x r, any rotation
