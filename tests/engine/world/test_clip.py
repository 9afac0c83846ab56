"""The public API: sample and sample_pair."""

from __future__ import annotations

import numpy as np

from engine.world import (
    EVAL_SEED_START,
    WORLD_VERSION,
    Clip,
    sample,
    sample_pair,
    sample_scene,
    scene_to_dict,
)


def test_clip_shapes_and_types():
    clip = sample(11)
    assert isinstance(clip, Clip) and WORLD_VERSION == 1
    assert clip.video.shape == (17, 64, 64, 3) and clip.video.dtype == np.uint8
    assert clip.audio.shape == (34000,) and clip.audio.dtype == np.float32
    assert np.abs(clip.audio).max() <= 0.9 + 1e-6 and clip.seed == 11 and clip.split == "train"
    assert isinstance(clip.caption, str) and clip.caption


def test_deterministic_by_seed_and_seeds_differ():
    a, b, c = sample(3), sample(3), sample(4)
    np.testing.assert_array_equal(a.video, b.video)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.caption == b.caption and scene_to_dict(a.scene) == scene_to_dict(b.scene)
    assert not np.array_equal(a.video, c.video) and a.caption != c.caption
    assert scene_to_dict(sample_scene(3)) == scene_to_dict(a.scene)


def test_eval_split():
    assert sample(EVAL_SEED_START - 1).split == "train"
    assert sample(EVAL_SEED_START).split == "eval"


def test_pair_keeps_geometry_and_changes_looks():
    for seed in list(range(40)) + [EVAL_SEED_START + 1]:
        first, second = sample_pair(seed)
        single = sample(seed)
        np.testing.assert_array_equal(first.video, single.video)
        assert first.caption == single.caption and second.split == first.split
        a, b = first.scene, second.scene
        assert a.camera == b.camera and a.bounce_times == b.bounce_times
        assert b.background != a.background
        np.testing.assert_array_equal(first.audio, second.audio)  # colour and background make no sound
        for x, y in zip(a.objects, b.objects, strict=True):
            for field in ("shape", "size", "radius", "motion", "speed", "bounce_frames"):
                assert getattr(x, field) == getattr(y, field)
            np.testing.assert_array_equal(x.trajectory, y.trajectory)
            np.testing.assert_array_equal(x.radii, y.radii)
            assert x.colour != y.colour
        assert len({o.colour for o in b.objects}) == len(b.objects)
        assert second.caption != first.caption
