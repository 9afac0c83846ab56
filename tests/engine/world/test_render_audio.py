"""Sound: pitch follows the screen height, timbre the shape, loudness the size; walls click."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.world import AUDIO_SAMPLES, SAMPLE_RATE, pitch, render_audio, sample
from engine.world.render_audio import click


def _spectrum(x: np.ndarray, n: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    magnitude = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    return np.fft.rfftfreq(n, 1 / SAMPLE_RATE), magnitude


def _peak(x: np.ndarray) -> float:
    freqs, magnitude = _spectrum(x)
    return float(freqs[np.argmax(magnitude)])


def test_pitch_formula():
    assert pitch(63) == pytest.approx(220.0) and pitch(0) == pytest.approx(880.0)
    assert pitch(31.5) == pytest.approx(440.0)


@pytest.mark.parametrize("y", [6.0, 20.0, 31.5, 57.0])
def test_still_pitch_matches_the_contract(make_object, make_scene, y):
    audio = render_audio(make_scene(make_object("red", "circle", y=y, radius=6.0)))
    assert audio.shape == (AUDIO_SAMPLES,) and audio.dtype == np.float32
    assert _peak(audio) == pytest.approx(pitch(y), abs=1.0)


def test_moving_pitch_follows_each_frame(make_object, make_scene):
    obj = make_object("red", "circle", y=50.0, radius=6.0, velocity=(0.0, -2.0))
    audio = render_audio(make_scene(obj))
    for k in (2, 8, 14):
        frame = audio[k * 2000 + 500 : k * 2000 + 1500]  # 1000 samples around the frame's centre
        assert _peak(frame) == pytest.approx(pitch(obj.trajectory[k, 1]), rel=0.02)
    assert np.abs(np.diff(audio)).max() < 0.1  # the glide has no clicks


def test_sampled_clip_pitch():
    for seed in range(300):
        clip = sample(seed)
        (obj,) = clip.scene.objects if len(clip.scene.objects) == 1 else (None,)
        if obj is not None and obj.motion == "still" and obj.shape == "circle":
            assert _peak(clip.audio) == pytest.approx(pitch(obj.trajectory[0, 1]), abs=1.0)
            return
    pytest.fail("no still circle in 300 seeds")


@pytest.mark.parametrize("shape", ["circle", "square", "triangle", "star"])
def test_loudness_follows_the_radius(make_object, make_scene, shape):
    for radius in (5.0, 12.0):
        audio = render_audio(make_scene(make_object("red", shape, radius=radius)))
        assert np.abs(audio).max() == pytest.approx(0.08 + 0.02 * radius, rel=0.01)


@pytest.mark.parametrize("shape,harmonics", [
    ("circle", {2: 0.0, 3: 0.0}), ("square", {2: 0.0, 3: 1 / 3, 5: 1 / 5}),
    ("triangle", {2: 0.0, 3: 1 / 9, 5: 1 / 25}), ("star", {2: 1 / 2, 3: 1 / 3, 8: 1 / 8}),
])
def test_timbre_follows_the_shape(make_object, make_scene, shape, harmonics):
    y = 40.0
    freqs, magnitude = _spectrum(render_audio(make_scene(make_object("red", shape, y=y))))

    def level(f: float) -> float:
        return magnitude[np.abs(freqs - f) < 3].max()

    fundamental = level(pitch(y))
    for n, ratio in harmonics.items():
        assert level(n * pitch(y)) / fundamental == pytest.approx(ratio, rel=0.05, abs=0.01)


def test_mix_is_normalised_to_peak_only_when_louder(make_object, make_scene):
    loud = make_scene(make_object("red", "star", x=16, radius=24.0),
                      make_object("blue", "star", x=48, radius=24.0))
    assert np.abs(render_audio(loud)).max() == pytest.approx(0.9, abs=1e-6)
    quiet = make_scene(make_object("red", "circle", x=16), make_object("blue", "circle", x=48))
    assert 0.3 < np.abs(render_audio(quiet)).max() < 0.9


def test_bounce_adds_a_click_at_its_time(make_object, make_scene):
    scene = make_scene(make_object("red", "circle", radius=5.0), bounce_times=(0.7,))
    difference = render_audio(scene) - render_audio(dataclasses.replace(scene, bounce_times=()))
    start = round(0.7 * SAMPLE_RATE)
    changed = np.nonzero(np.abs(difference) > 1e-6)[0]
    assert changed[0] == start and changed[-1] < start + 480
    np.testing.assert_allclose(difference[start : start + 480], click(), atol=1e-6)
    assert 0.3 < np.abs(click()).max() <= 0.5
    envelope = np.abs(click()).reshape(10, 48).max(axis=1)
    assert envelope[-1] < 0.05 * envelope[0]  # 30 ms at tau 6 ms: exp(-5) of the start


def test_sampled_bounces_click():
    for seed in range(300):
        clip = sample(seed)
        if clip.scene.bounce_times:
            quiet = render_audio(dataclasses.replace(clip.scene, bounce_times=()))
            start = round(clip.scene.bounce_times[0] * SAMPLE_RATE)
            assert np.abs(clip.audio - quiet)[start : start + 48].max() > 0.05
            return
    pytest.fail("no bounce in 300 seeds")
