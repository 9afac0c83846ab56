"""Scenes of the Moving Shapes world: the ground truth of a clip, sampled from a random generator.

Sampling (v1), on top of `world.md`:
- 1 object (70 %) or 2 (30 %) with different colours; camera static 80 %, `pan left`,
  `pan right` and `zoom in` share the other 20 %; every other attribute is uniform: colour,
  shape, size (then the radius uniformly within the size's range), motion over all 13 motions
  (a circle never spins: its motion is drawn again), speed slow / fast for straight motions,
  background and texture.
- The start position is uniform over the positions that keep the shape inside the canvas on
  screen in all 17 frames, camera included (see `motion.py`); when none exists (a large shape
  growing under zoom), size and motion are drawn again.
- Two objects keep their bounding circles (r, or r * sqrt(2) for a square's corners, screen
  radii) more than 2 px apart in every frame, so each is fully visible; the second object is
  drawn again until it is, and after 100 misses both are.

A scene is all a renderer needs: `render_video.py` and `render_audio.py` read nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.world.motion import Path, apart, bouncing_path, inside, linear_path
from engine.world.palette import (
    BACKGROUNDS,
    CAMERA_WEIGHTS,
    CAMERAS,
    MOTIONS,
    OBJECT_COLOURS,
    P_TWO_OBJECTS,
    SHAPES,
    SIZES,
    SPEEDS,
    STRAIGHT_MOTIONS,
    TEXTURES,
    WORLD_VERSION,
    frame_time,
)

_MAX_TRIES = 100


@dataclass(frozen=True, eq=False)
class ObjectTruth:
    """One object of a scene; arrays are read-only, positions and radii are on screen."""

    colour: str  # one of OBJECT_COLOURS
    shape: str  # circle | square | triangle | star
    size: str  # small | medium | large
    radius: float  # initial outer radius in px (world units)
    motion: str  # one of MOTIONS
    speed: str | None  # slow | fast for the straight motions, None otherwise
    trajectory: np.ndarray  # (17, 2) float32 centroid (x, y) in screen pixels, camera included
    radii: np.ndarray  # (17,) float32 outer radius on screen per frame (zoom included)
    angles: np.ndarray  # (17,) float32 rotation in degrees, clockwise on screen
    bounce_frames: tuple[float, ...]  # fractional frame times of wall bounces (bouncing only)


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything that is true about a clip."""

    objects: tuple[ObjectTruth, ...]  # 1 or 2, in drawing order
    background: str  # black | white | gray | sand
    texture: str  # plain | stripes | checker | gradient
    camera: str  # static | pan left | pan right | zoom in
    bounce_times: tuple[float, ...]  # seconds, sorted, all objects (frame k is at (k + 0.5) / FPS)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    a.setflags(write=False)
    return a


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _sample_object(rng: np.random.Generator, colour: str, camera: str) -> tuple[ObjectTruth, Path]:
    """Draw shape, size, motion and a path that stays on screen (redrawn until one does)."""
    while True:
        shape = _pick(rng, SHAPES)
        size = _pick(rng, tuple(SIZES))
        radius = float(rng.uniform(*SIZES[size]))
        motion = _pick(rng, MOTIONS)
        while shape == "circle" and motion == "spinning":
            motion = _pick(rng, MOTIONS)
        speed = _pick(rng, tuple(SPEEDS)) if motion in STRAIGHT_MOTIONS else None
        if motion == "bouncing":
            path = bouncing_path(rng, shape, radius, camera)
        else:
            path = linear_path(rng, shape, motion, radius, speed, camera)
        if path is None or not inside(path, shape, motion):
            continue
        truth = ObjectTruth(colour, shape, size, radius, motion, speed, _frozen(path.centres),
                            _frozen(path.radii), _frozen(path.angles), path.bounce_frames)
        return truth, path


def _bounce_times(objects: tuple[ObjectTruth, ...]) -> tuple[float, ...]:
    return tuple(sorted(frame_time(f) for o in objects for f in o.bounce_frames))


def sample_scene(rng: np.random.Generator | int) -> Scene:
    """Draw a scene from a generator, or from a seed (then it is `sample(seed).scene`)."""
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    camera = CAMERAS[int(rng.choice(len(CAMERAS), p=CAMERA_WEIGHTS))]
    background = _pick(rng, tuple(BACKGROUNDS))
    texture = _pick(rng, TEXTURES)
    count = 2 if rng.random() < P_TWO_OBJECTS else 1
    colours = [tuple(OBJECT_COLOURS)[i] for i in rng.permutation(len(OBJECT_COLOURS))[:count]]
    placed: list[tuple[ObjectTruth, Path]] = []
    misses = 0
    while len(placed) < count:
        truth, path = _sample_object(rng, colours[len(placed)], camera)
        if all(apart(path, truth.shape, p, t.shape) for t, p in placed):
            placed.append((truth, path))
        elif (misses := misses + 1) >= _MAX_TRIES:
            placed, misses = [], 0
    objects = tuple(truth for truth, _ in placed)
    return Scene(objects, background, texture, camera, _bounce_times(objects))


def restyle(scene: Scene, rng: np.random.Generator) -> Scene:
    """The same geometry with new looks: every object a colour it did not have (still distinct
    from each other), a different background and a random texture."""
    taken: list[str] = []
    objects = []
    for obj in scene.objects:
        free = [c for c in OBJECT_COLOURS if c != obj.colour and c not in taken]
        taken.append(_pick(rng, free))
        objects.append(dataclasses.replace(obj, colour=taken[-1]))
    background = _pick(rng, [b for b in BACKGROUNDS if b != scene.background])
    return dataclasses.replace(scene, objects=tuple(objects), background=background,
                               texture=_pick(rng, TEXTURES))


def scene_to_dict(scene: Scene) -> dict[str, Any]:
    """JSON-serialisable attributes of a scene (floats rounded to 0.01 px / degree / ms)."""

    def rounded(a: np.ndarray) -> list:
        return np.round(a.astype(np.float64), 2).tolist()

    return {
        "world_version": WORLD_VERSION,
        "background": scene.background,
        "texture": scene.texture,
        "camera": scene.camera,
        "bounce_times": [round(t, 3) for t in scene.bounce_times],
        "objects": [
            {
                "colour": o.colour,
                "rgb": list(OBJECT_COLOURS[o.colour]),
                "shape": o.shape,
                "size": o.size,
                "radius": round(o.radius, 2),
                "motion": o.motion,
                "speed": o.speed,
                "trajectory": rounded(o.trajectory),
                "radii": rounded(o.radii),
                "angles": rounded(o.angles),
                "bounce_frames": [round(f, 3) for f in o.bounce_frames],
            }
            for o in scene.objects
        ],
    }
