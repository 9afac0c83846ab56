"""The video judge reads world clips (clean and degraded) as their truth says, and synthetic clips as
they were drawn."""

from __future__ import annotations

import numpy as np
import pytest

from engine.eval import degrade_video, expected_camera, expected_motion, judge_video
from engine.world import EVAL_SEED_START, sample

# Eval seeds covering one and two objects, every texture, pans, a zoom, spinning, growing, bouncing.
SEEDS = [EVAL_SEED_START + s for s in (0, 3, 4, 14, 25, 32, 104, 188)]


def _match(reading, truth):
    return min(reading.objects, key=lambda o: float(np.nanmean(np.hypot(*(o.track - truth.trajectory).T))))


@pytest.mark.parametrize("degraded", [False, True], ids=["clean", "degraded"])
@pytest.mark.parametrize("seed", SEEDS)
def test_world_clip_reads_as_its_truth(seed: int, degraded: bool) -> None:
    clip = sample(seed)
    video = degrade_video(clip.video, seed) if degraded else clip.video
    reading = judge_video(video)
    scene = clip.scene
    assert (reading.background, reading.texture) == (scene.background, scene.texture)
    assert reading.camera == expected_camera(scene)
    assert len(reading.objects) == len(scene.objects)
    for truth in scene.objects:
        judged = _match(reading, truth)
        assert (judged.colour, judged.shape, judged.motion) == (
            truth.colour, truth.shape, expected_motion(truth, scene))
        assert np.nanmax(np.hypot(*(judged.track - truth.trajectory).T)) < 1.0
        assert np.nanmedian(np.abs(judged.radii / truth.radii - 1.0)) < 0.1


def _square_clip(centres: np.ndarray, half: float, colour, background) -> np.ndarray:
    """Frames of an axis-aligned square (coverage by 8x8 supersampling) over a plain background."""
    size, sub = 64, 8
    fine = (np.arange(size * sub) + 0.5) / sub - 0.5
    frames = []
    for cx, cy in centres:
        inside = (np.abs(fine[None, :] - cx) <= half) & (np.abs(fine[:, None] - cy) <= half)
        alpha = inside.reshape(size, sub, size, sub).mean(axis=(1, 3))[..., None]
        frames.append(np.asarray(background) * (1 - alpha) + np.asarray(colour) * alpha)
    return np.rint(np.stack(frames)).astype(np.uint8)


def test_synthetic_square_moving_right() -> None:
    k = np.arange(17)
    centres = np.stack([14.0 + 2.0 * k, np.full(17, 30.0)], axis=1)
    reading = judge_video(_square_clip(centres, 6.0, (45, 90, 230), (128, 128, 128)))
    assert (reading.background, reading.texture, reading.camera) == ("gray", "plain", "static")
    (obj,) = reading.objects
    assert (obj.colour, obj.shape, obj.size, obj.motion) == ("blue", "square", "small", "right")
    np.testing.assert_allclose(obj.track, centres, atol=0.05)
    np.testing.assert_allclose(obj.radii, 6.0, atol=0.1)


def test_synthetic_square_standing_still_is_still_not_moving() -> None:
    centres = np.tile([[40.0, 20.0]], (17, 1))
    (obj,) = judge_video(_square_clip(centres, 9.0, (240, 215, 40), (0, 0, 0))).objects
    assert (obj.colour, obj.shape, obj.size, obj.motion) == ("yellow", "square", "medium", "still")


def test_background_only_clip_has_no_objects() -> None:
    clip = sample(EVAL_SEED_START + 4)  # white stripes
    empty = judge_video(np.broadcast_to(clip.video[:1] * 0 + 255, clip.video.shape).copy())
    assert empty.objects == [] and empty.background == "white"
    y = np.arange(64)[:, None, None]
    checker = np.where(((y // 8) + (np.arange(64)[None, :, None] // 8)) % 2 == 0, 128, 77)
    video = np.broadcast_to(checker, (17, 64, 64, 3)).astype(np.uint8)
    reading = judge_video(video)
    assert (reading.objects, reading.background, reading.texture, reading.camera) == (
        [], "gray", "checker", "static")


def test_checker_pan_is_seen_and_removed_from_motion() -> None:
    """Content shifting right 1 px/frame over a checker is `pan left`; a square riding along is still."""
    k = np.arange(17)
    y, x = np.mgrid[0:64, 0:64]
    frames = []
    for shift in k:
        board = np.where(((y // 8) + ((x - shift) // 8)) % 2 == 0, 235, 141)[..., None] * np.ones(3)
        frames.append(board)
    video = np.stack(frames)
    square = _square_clip(np.stack([20.0 + k, np.full(17, 30.0)], axis=1), 6.0, (220, 40, 40), (0, 0, 0))
    mask = square.sum(axis=-1, keepdims=True) > 0
    video = np.where(mask, square, video).astype(np.uint8)
    reading = judge_video(video)
    assert reading.camera == "pan left"
    (obj,) = reading.objects
    assert (obj.colour, obj.motion) == ("red", "still")


def test_an_image_is_a_one_frame_video() -> None:
    clip = sample(EVAL_SEED_START + 25)
    reading = judge_video(clip.video[:1])
    assert (reading.background, reading.texture, reading.camera) == (
        clip.scene.background, clip.scene.texture, "static")
    assert sorted(o.colour for o in reading.objects) == sorted(o.colour for o in clip.scene.objects)
    assert all(o.motion == "still" and o.track.shape == (1, 2) for o in reading.objects)
