"""Scoring a judge's reading against a scene's ground truth: the only module that reads scenes.

Objects are matched to readings by the Hungarian method on the mean distance between the judged
track and the true screen trajectory (pairs over MATCH_PX apart stay unmatched; an unmatched true
object is wrong on every attribute). Voices are matched to objects the same way on the median
pitch distance; when there are fewer voices than objects, an object is compared with the nearest
voice (two hums at one pitch are one peak).

What a viewer can see (the expected camera and motion):
- A pan moves the content sideways, which only the checker texture shows. Over plain, stripes
  (horizontal) and gradient (vertical) a pan is invisible: the expected camera is "static" and a
  still or straight-moving object is expected to read as its on-screen velocity, the object's
  own velocity plus the content shift (e.g. a still object under "pan left" reads "right", a
  slow "left" object reads "still"). Bouncing, spinning, growing and shrinking keep their class.
- A zoom scales everything, which every texture shows and, over a plain background, the
  objects' common 1.3x growth shows; the expected camera is "zoom in" and motions are the
  objects' own.
- Otherwise the truth is expected as it is.
Bounce onsets count as found when a judged onset lies within one frame (1/8 s) of the true time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.eval.audio_judge import AudioReading
from engine.eval.motion import direction_class
from engine.eval.video_judge import VideoReading
from engine.world import ObjectTruth, Scene
from engine.world.palette import FPS, SPEEDS, STRAIGHT_MOTIONS, pitch

MATCH_PX = 8.0
ONSET_TOLERANCE = 1.0 / FPS
PANS = {"pan left": 1.0, "pan right": -1.0}  # on-screen content shift, px/frame in x


@dataclass(frozen=True)
class ClipScore:
    """Per-clip correctness; lists hold one entry per true object, in scene order."""

    objects: int
    judged_objects: int
    colour: list[bool]
    shape: list[bool]
    size: list[bool]
    motion: list[bool]
    background: bool
    texture: bool
    camera: bool
    pitch_error: list[float]  # median |semitones| over the frames both are voiced; NaN if no voice
    timbre: list[bool]
    bounces: int  # true wall bounces
    bounces_found: int  # of those, with a judged onset within ONSET_TOLERANCE


def pan_visible(scene: Scene) -> bool:
    """Whether the scene's texture shows a pan (only the checker has vertical edges)."""
    return scene.texture == "checker"


def expected_camera(scene: Scene) -> str:
    """The camera a viewer can see (see the module docstring)."""
    return "static" if scene.camera in PANS and not pan_visible(scene) else scene.camera


def expected_motion(obj: ObjectTruth, scene: Scene) -> str:
    """The motion class a viewer can see (see the module docstring)."""
    straight = obj.motion == "still" or obj.motion in STRAIGHT_MOTIONS
    if not straight or scene.camera not in PANS or pan_visible(scene):
        return obj.motion
    direction = np.asarray(STRAIGHT_MOTIONS.get(obj.motion, (0, 0)), dtype=np.float64)
    velocity = direction * (SPEEDS[obj.speed] if obj.speed else 0.0) + (PANS[scene.camera], 0.0)
    return direction_class(velocity)


def _match(cost: np.ndarray, limit: float) -> dict[int, int]:
    """Rows (truth) to columns (readings) by the Hungarian method, dropping pairs over the limit."""
    if cost.size == 0:
        return {}
    rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e6))
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= limit}


def _track_cost(truth: np.ndarray, judged: np.ndarray) -> float:
    d = np.hypot(*(judged - truth).T)
    return float(np.mean(d[np.isfinite(d)])) if np.isfinite(d).any() else np.inf


def _semitones(judged: np.ndarray, truth: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(12.0 * np.log2(judged / truth))


def _pitch_scores(scene: Scene, audio: AudioReading) -> tuple[list[float], list[bool]]:
    true_pitch = [pitch(o.trajectory[:, 1].astype(np.float64)) for o in scene.objects]
    if not audio.voices:
        return [np.nan] * len(true_pitch), [False] * len(true_pitch)
    cost = np.array([[np.nanmedian(d) if np.isfinite(d := _semitones(v.pitch, t)).any() else np.inf
                      for v in audio.voices] for t in true_pitch])
    pairs = _match(cost, np.inf)
    errors, timbres = [], []
    for i, obj in enumerate(scene.objects):
        j = pairs.get(i, int(np.argmin(cost[i])))
        errors.append(float(cost[i, j]))
        timbres.append(audio.voices[j].timbre == obj.shape)
    return errors, timbres


def score_clip(video: VideoReading, audio: AudioReading, scene: Scene) -> ClipScore:
    """Compare a clip's readings with its scene."""
    truths = scene.objects
    cost = np.array([[_track_cost(t.trajectory, r.track) for r in video.objects] for t in truths])
    pairs = _match(cost.reshape(len(truths), len(video.objects)), MATCH_PX)

    def per_object(check) -> list[bool]:
        return [i in pairs and bool(check(t, video.objects[pairs[i]])) for i, t in enumerate(truths)]

    errors, timbres = _pitch_scores(scene, audio)
    found = sum(bool(np.any(np.abs(audio.onsets - t) <= ONSET_TOLERANCE)) for t in scene.bounce_times)
    return ClipScore(
        objects=len(truths),
        judged_objects=len(video.objects),
        colour=per_object(lambda t, r: r.colour == t.colour),
        shape=per_object(lambda t, r: r.shape == t.shape),
        size=per_object(lambda t, r: r.size == t.size),
        motion=per_object(lambda t, r: r.motion == expected_motion(t, scene)),
        background=video.background == scene.background,
        texture=video.texture == scene.texture,
        camera=video.camera == expected_camera(scene),
        pitch_error=errors,
        timbre=timbres,
        bounces=len(scene.bounce_times),
        bounces_found=found,
    )
