"""Scene sampling: attributes, placement, non-overlap, motion geometry, splits of the seed range."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from engine.world import (
    BACKGROUNDS,
    CAMERAS,
    EVAL_SEED_START,
    FRAMES,
    MOTIONS,
    OBJECT_COLOURS,
    SHAPES,
    SIZES,
    TEXTURES,
    sample_scene,
    scene_to_dict,
    split_of,
)
from engine.world.motion import reach
from engine.world.palette import BOUND_RADIUS, FPS, MIN_GAP, SPEEDS, STRAIGHT_MOTIONS

N_SCENES = 1500


@pytest.fixture(scope="module")
def scenes():
    return [sample_scene(np.random.default_rng(seed)) for seed in range(N_SCENES)]


def test_attributes_come_from_the_contract(scenes):
    for scene in scenes:
        assert scene.background in BACKGROUNDS and scene.texture in TEXTURES and scene.camera in CAMERAS
        assert len(scene.objects) in (1, 2)
        assert len({o.colour for o in scene.objects}) == len(scene.objects)
        for o in scene.objects:
            assert o.colour in OBJECT_COLOURS and o.shape in SHAPES and o.motion in MOTIONS
            lo, hi = SIZES[o.size]
            assert lo <= o.radius <= hi
            assert (o.speed in SPEEDS) == (o.motion in STRAIGHT_MOTIONS)
            assert not (o.shape == "circle" and o.motion == "spinning")
            assert o.trajectory.shape == (FRAMES, 2) and o.trajectory.dtype == np.float32
            assert o.radii.shape == (FRAMES,) and o.angles.shape == (FRAMES,)
            assert not o.trajectory.flags.writeable


def test_probabilities(scenes):
    two = np.mean([len(s.objects) == 2 for s in scenes])
    static = np.mean([s.camera == "static" for s in scenes])
    assert 0.25 < two < 0.35 and 0.76 < static < 0.84
    motions = Counter(o.motion for s in scenes for o in s.objects)
    assert set(motions) == set(MOTIONS)


def test_objects_stay_inside_the_canvas_and_apart(scenes):
    for scene in scenes:
        for o in scene.objects:
            left, right, up, down = reach(o.shape, o.motion)[:, None] * o.radii
            x, y = o.trajectory.T
            assert np.all(x - left >= -1e-3) and np.all(x + right <= 63 + 1e-3)
            assert np.all(y - up >= -1e-3) and np.all(y + down <= 63 + 1e-3)
        if len(scene.objects) == 2:
            a, b = scene.objects
            distance = np.hypot(*(a.trajectory - b.trajectory).T)
            bound = BOUND_RADIUS[a.shape] * a.radii + BOUND_RADIUS[b.shape] * b.radii
            assert np.all(distance > bound + MIN_GAP - 1e-3)
            assert np.all(distance > a.radii + b.radii + 2)


def _camera_shift(camera: str) -> np.ndarray:
    return {"pan left": 1.0, "pan right": -1.0}.get(camera, 0.0) * np.arange(FRAMES)


def test_straight_motion_moves_one_or_two_pixels_per_frame(scenes):
    seen = set()
    for scene in scenes:
        if scene.camera == "zoom in":
            continue
        for o in scene.objects:
            if o.motion not in STRAIGHT_MOTIONS:
                continue
            world = o.trajectory - np.stack([_camera_shift(scene.camera), np.zeros(FRAMES)], 1)
            step = np.diff(world, axis=0)
            expected = np.array(STRAIGHT_MOTIONS[o.motion]) * SPEEDS[o.speed]
            np.testing.assert_allclose(step, np.broadcast_to(expected, step.shape), atol=1e-4)
            seen.add(o.speed)
    assert seen == {"slow", "fast"}


def test_other_motions(scenes):
    for scene in scenes:
        zoom = np.linspace(1.0, 1.3, FRAMES) if scene.camera == "zoom in" else np.ones(FRAMES)
        for o in scene.objects:
            world_radii = o.radii / zoom
            if o.motion == "spinning":
                np.testing.assert_allclose(o.angles, 20.0 * np.arange(FRAMES))
            else:
                assert not np.any(o.angles)
            end = {"growing": 1.6, "shrinking": 0.6}.get(o.motion, 1.0)
            np.testing.assert_allclose(world_radii, o.radius * np.linspace(1.0, end, FRAMES), rtol=1e-5)
            if o.motion in ("still", "spinning", "growing", "shrinking") and scene.camera == "static":
                assert np.all(o.trajectory == o.trajectory[0])


def test_bouncing_reflects_at_the_walls(scenes):
    bounced = 0
    for scene in scenes:
        times = sorted((f + 0.5) / FPS for o in scene.objects for f in o.bounce_frames)
        np.testing.assert_allclose(scene.bounce_times, times)
        for o in scene.objects:
            if o.motion != "bouncing":
                assert o.bounce_frames == ()
                continue
            speed = np.hypot(*np.diff(o.trajectory, axis=0).T)
            assert np.all(speed <= 2.5 + 1e-3)
            # A velocity component flips sign exactly in the frame steps that hold a bounce.
            velocity = np.diff(o.trajectory, axis=0)
            flips = np.sum(np.sign(velocity[1:]) != np.sign(velocity[:-1]))
            assert flips <= len(o.bounce_frames)
            assert all(0 <= f <= FRAMES - 1 for f in o.bounce_frames)
            bounced += bool(o.bounce_frames)
    assert bounced > 20


def test_deterministic_and_varied():
    a, b = sample_scene(np.random.default_rng(5)), sample_scene(np.random.default_rng(5))
    assert scene_to_dict(a) == scene_to_dict(b)
    assert scene_to_dict(a) != scene_to_dict(sample_scene(np.random.default_rng(6)))


def test_scene_to_dict_is_json(scenes):
    for scene in scenes[:50]:
        data = json.loads(json.dumps(scene_to_dict(scene)))
        assert data["world_version"] == 1 and len(data["objects"]) == len(scene.objects)
        assert len(data["objects"][0]["trajectory"]) == FRAMES


def test_seed_splits():
    assert split_of(0) == split_of(EVAL_SEED_START - 1) == "train"
    assert split_of(EVAL_SEED_START) == "eval"
    with pytest.raises(ValueError):
        split_of(-1)
