"""Pixels: exact contract colours inside shapes, background tones, textures under the camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.world import BACKGROUNDS, FRAMES, OBJECT_COLOURS, SIZE, render_video, sample, second_tone
from engine.world.palette import STRAIGHT_MOTIONS
from engine.world.render_video import signed_distance


def test_second_tones():
    assert second_tone("black") == (102, 102, 102)
    assert second_tone("white") == (153, 153, 153)
    assert second_tone("gray") == (77, 77, 77)
    assert second_tone("sand") == (141, 132, 108)


@pytest.mark.parametrize("shape,area", [
    ("circle", math.pi * 100), ("square", 400.0), ("triangle", 3 * math.sqrt(3) / 4 * 100),
    ("star", 5 * 10 * 4.5 * math.sin(math.radians(36))),
])
def test_shape_areas(shape, area):
    grid = np.arange(-15, 15, 0.05, dtype=np.float32)
    x, y = np.meshgrid(grid, grid)
    inside = signed_distance(shape, x, y, np.float32(10.0)) < 0
    assert inside.sum() * 0.05**2 == pytest.approx(area, rel=0.01)
    assert y[inside].max() == pytest.approx(10.0, abs=0.06)  # every shape reaches r upward


@pytest.mark.parametrize("shape", ["circle", "square", "triangle", "star"])
@pytest.mark.parametrize("background", list(BACKGROUNDS))
def test_flat_colours_inside_and_background_outside(make_object, make_scene, shape, background):
    obj = make_object("blue", shape, x=30.2, y=33.7, radius=10.0)
    video = render_video(make_scene(obj, background=background))
    assert video.shape == (FRAMES, SIZE, SIZE, 3) and video.dtype == np.uint8
    ys, xs = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    d = signed_distance(shape, xs - 30.2, 33.7 - ys, np.float32(10.0))
    assert np.all(video[:, d <= -0.5] == OBJECT_COLOURS["blue"])
    assert np.all(video[:, d >= 0.5] == BACKGROUNDS[background])
    edge = video[0, np.abs(d) < 0.5]
    assert edge.size  # blended edge pixels lie between the two colours
    lo = np.minimum(OBJECT_COLOURS["blue"], BACKGROUNDS[background])
    hi = np.maximum(OBJECT_COLOURS["blue"], BACKGROUNDS[background])
    assert np.all((edge >= lo) & (edge <= hi))


def test_shapes_point_up(make_object, make_scene):
    for shape in ("triangle", "star"):
        video = render_video(make_scene(make_object("red", shape, radius=12.0)))
        rows = np.nonzero(np.any(np.all(video[0] == OBJECT_COLOURS["red"], axis=-1), axis=1))[0]
        top, bottom = 31.5 - rows.min(), rows.max() - 31.5
        assert top > bottom + 1  # the apex is above the centroid, the base closer below it


def test_spinning_rotates_clockwise(make_object, make_scene):
    upright = render_video(make_scene(make_object("red", "triangle", radius=12.0)))[0]
    turned = render_video(make_scene(make_object("red", "triangle", radius=12.0, angle=90.0)))[0]
    red = np.all(turned == OBJECT_COLOURS["red"], axis=-1)
    cols = np.nonzero(red.any(axis=0))[0]
    assert cols.max() - 31.5 > 31.5 - cols.min() + 2  # apex turned from up to the right
    assert not np.array_equal(upright, turned)


@pytest.mark.parametrize("background", list(BACKGROUNDS))
def test_textures(make_scene, background):
    base, second = np.array(BACKGROUNDS[background]), np.array(second_tone(background))
    stripes = render_video(make_scene(background=background, texture="stripes"))[0]
    for row in range(SIZE):
        assert np.all(stripes[row] == (base if row % 8 < 4 else second))
    checker = render_video(make_scene(background=background, texture="checker"))[0]
    assert np.all(checker[0, 0] == base) and np.all(checker[0, 8] == second)
    assert np.all(checker[8, 8] == base) and np.all(checker[9, 3] == second)
    gradient = render_video(make_scene(background=background, texture="gradient"))[0]
    assert np.all(gradient[0] == base) and np.all(gradient[-1] == second)
    assert np.all(np.diff(gradient[:, 0].astype(int), axis=0) * np.sign(second - base) >= 0)


@pytest.mark.parametrize("camera,shift", [("pan left", 1), ("pan right", -1)])
def test_pan_shifts_the_texture_one_pixel_per_frame(make_scene, camera, shift):
    video = render_video(make_scene(background="sand", texture="checker", camera=camera))
    for k in range(1, FRAMES):
        np.testing.assert_array_equal(np.roll(video[0], shift * k, axis=1), video[k])


def test_zoom_scales_the_texture(make_scene):
    video = render_video(make_scene(background="white", texture="checker", camera="zoom in"))
    static = render_video(make_scene(background="white", texture="checker"))
    np.testing.assert_array_equal(video[0], static[0])
    # A checker cell spans 8 px at scale 1 and 8 * 1.3 = 10.4 px at the last frame.
    row = np.all(video[-1, 20] == BACKGROUNDS["white"], axis=-1).astype(int)
    runs = np.diff(np.nonzero(np.diff(row))[0])
    assert set(runs) <= {10, 11}


def test_sampled_clips_draw_their_objects():
    """Over many seeds, every straight mover's pixels move with its trajectory."""
    checked = 0
    for seed in range(200):
        clip = sample(seed)
        scene = clip.scene
        straight = scene.objects[0].motion in STRAIGHT_MOTIONS
        if len(scene.objects) != 1 or scene.camera != "static" or not straight:
            continue
        obj = scene.objects[0]
        mask = np.all(clip.video == OBJECT_COLOURS[obj.colour], axis=-1)
        for k in (0, FRAMES - 1):
            ys, xs = np.nonzero(mask[k])
            assert abs(xs.mean() - obj.trajectory[k, 0]) < 1.5 and ys.size > 20
        moved = np.array([np.nonzero(mask[k])[1].mean() for k in range(FRAMES)])
        step = np.mean(np.diff(moved))
        assert abs(abs(step) - abs(np.diff(obj.trajectory[:, 0]).mean())) < 0.2
        checked += 1
    assert checked > 20
