"""Scoring compares readings with the truth, and the expected classes follow what a viewer sees."""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.eval import degrade_audio, degrade_video, expected_camera, expected_motion, judge_clip, score_clip
from engine.world import EVAL_SEED_START, sample


def test_correct_reading_scores_full_marks() -> None:
    clip = sample(EVAL_SEED_START + 25)  # two objects
    reading = judge_clip(clip.video, clip.audio)
    score = score_clip(reading.video, reading.audio, clip.scene)
    assert score.objects == score.judged_objects == 2
    assert all(score.colour) and all(score.shape) and all(score.motion) and all(score.timbre)
    assert score.background and score.texture and score.camera
    assert max(score.pitch_error) < 0.1


def test_wrong_colour_scores_zero() -> None:
    clip = sample(EVAL_SEED_START + 0)
    reading = judge_clip(clip.video, clip.audio)
    (obj,) = reading.video.objects
    wrong = "blue" if obj.colour != "blue" else "red"
    bad_video = dataclasses.replace(reading.video, objects=[dataclasses.replace(obj, colour=wrong)])
    score = score_clip(bad_video, reading.audio, clip.scene)
    assert score.colour == [False] and score.shape == [True]


def test_missing_object_and_far_track_score_zero() -> None:
    clip = sample(EVAL_SEED_START + 0)
    reading = judge_clip(clip.video, clip.audio)
    (obj,) = reading.video.objects
    moved = dataclasses.replace(obj, track=obj.track + 20.0)
    for objects in ([], [moved]):
        score = score_clip(dataclasses.replace(reading.video, objects=objects), reading.audio, clip.scene)
        assert score.colour == score.shape == score.motion == [False]


def test_missing_bounce_onset_lowers_recall() -> None:
    clip = sample(EVAL_SEED_START + 4)  # two wall bounces
    reading = judge_clip(degrade_video(clip.video, 1), degrade_audio(clip.audio, 1))
    full = score_clip(reading.video, reading.audio, clip.scene)
    deaf = score_clip(reading.video, dataclasses.replace(reading.audio, onsets=np.zeros(0)), clip.scene)
    assert (full.bounces, full.bounces_found, deaf.bounces_found) == (2, 2, 0)


def _with(scene, **changes):
    return dataclasses.replace(scene, **changes)


def test_invisible_pan_expects_the_on_screen_motion() -> None:
    scene = sample(EVAL_SEED_START + 0).scene
    obj = scene.objects[0]
    still = dataclasses.replace(obj, motion="still", speed=None)
    slow_left = dataclasses.replace(obj, motion="left", speed="slow")
    plain_pan = _with(scene, camera="pan left", texture="plain")
    checker_pan = _with(scene, camera="pan left", texture="checker")
    assert expected_motion(still, plain_pan) == "right"
    assert expected_motion(slow_left, plain_pan) == "still"
    assert expected_motion(still, checker_pan) == "still"
    assert expected_motion(dataclasses.replace(obj, motion="growing", speed=None), plain_pan) == "growing"
    assert expected_camera(plain_pan) == "static" and expected_camera(checker_pan) == "pan left"
    assert expected_camera(_with(scene, camera="zoom in", texture="plain")) == "zoom in"
