"""The audio judge hears pitch, timbre and clicks in synthetic sounds and in world clips."""

from __future__ import annotations

import numpy as np
import pytest

from engine.eval import compare_audio_readings, degrade_audio, judge_audio
from engine.world import EVAL_SEED_START, sample
from engine.world.palette import pitch
from engine.world.render_audio import click

RATE = 16000
T = np.arange(34000) / RATE


def _tone(freq: float, harmonics: dict[int, float], amplitude: float = 0.2) -> np.ndarray:
    return amplitude * sum(a * np.sin(2 * np.pi * n * freq * T) for n, a in harmonics.items())


def _semitones(a: np.ndarray, b: float) -> np.ndarray:
    return np.abs(12 * np.log2(a / b))


def test_sine_440_is_heard_at_440_as_a_circle() -> None:
    reading = judge_audio(_tone(440.0, {1: 1.0}))
    (voice,) = reading.voices
    assert np.all(_semitones(voice.pitch, 440.0) < 0.25)
    assert voice.timbre == "circle"
    assert reading.onsets.size == 0


@pytest.mark.parametrize(("shape", "harmonics"), [
    ("square", {1: 1, 3: 1 / 3, 5: 1 / 5, 7: 1 / 7}),
    ("triangle", {1: 1, 3: -1 / 9, 5: 1 / 25, 7: -1 / 49}),
    ("star", {n: 1 / n for n in range(1, 9)}),
])
def test_timbres_are_told_apart(shape: str, harmonics: dict[int, float]) -> None:
    (voice,) = judge_audio(_tone(300.0, harmonics)).voices
    assert voice.timbre == shape
    assert np.all(_semitones(voice.pitch, 300.0) < 0.25)


def test_two_voices_are_separated() -> None:
    sound = _tone(250.0, {n: 1 / n for n in range(1, 9)}) + _tone(620.0, {1: 1.0}, 0.15)
    voices = sorted(judge_audio(sound).voices, key=lambda v: np.nanmedian(v.pitch))
    assert [v.timbre for v in voices] == ["star", "circle"]
    assert np.all(_semitones(voices[0].pitch, 250.0) < 0.25)
    assert np.all(_semitones(voices[1].pitch, 620.0) < 0.25)


def test_click_is_found_at_its_time() -> None:
    sound = _tone(500.0, {1: 1.0})
    start = int(0.7 * RATE)
    n = np.arange(480)
    sound[start:start + n.size] += 0.5 * np.exp(-n / 96) * np.random.default_rng(0).uniform(-1, 1, n.size)
    onsets = judge_audio(sound).onsets
    assert onsets.size == 1 and abs(onsets[0] - 0.7) < 0.005


def test_silence_has_no_voice() -> None:
    reading = judge_audio(np.zeros(34000, dtype=np.float32))
    assert reading.voices == [] and reading.onsets.size == 0


@pytest.mark.parametrize("degraded", [False, True], ids=["clean", "degraded"])
def test_world_clip_pitch_and_bounces(degraded: bool) -> None:
    seed = EVAL_SEED_START + 4  # two objects, one of them bouncing with two clicks
    clip = sample(seed)
    audio = degrade_audio(clip.audio, seed) if degraded else clip.audio
    reading = judge_audio(audio)
    assert len(reading.voices) == len(clip.scene.objects) == 2
    for obj in clip.scene.objects:
        truth = pitch(obj.trajectory[:, 1].astype(np.float64))
        best = min(reading.voices, key=lambda v: np.nanmedian(_semitones(v.pitch, truth)))
        assert np.nanmedian(_semitones(best.pitch, truth)) < 0.1
        assert best.timbre == obj.shape
    assert len(clip.scene.bounce_times) == 2
    for t in clip.scene.bounce_times:
        assert np.min(np.abs(reading.onsets - t)) < 1 / 8


def test_a_reconstruction_is_compared_voice_by_voice_and_click_by_click() -> None:
    square = {n: 1.0 / n for n in (1, 3, 5, 7)}
    original = judge_audio(_tone(440.0, square) + _click_at(1.0))
    same = compare_audio_readings(original, original)
    assert same == ([0.0], [True], [True])
    sharp_circle = judge_audio(_tone(440.0 * 2 ** (1 / 12), {1: 1.0}))  # a semitone up, no harmonics, no click
    errors, timbres, clicks = compare_audio_readings(original, sharp_circle)
    assert errors == [pytest.approx(1.0, abs=0.1)] and timbres == [False] and clicks == [False]
    errors, timbres, _ = compare_audio_readings(original, judge_audio(np.zeros_like(T)))
    assert errors == [float("inf")] and timbres == [False]  # nothing heard: no voice to match


def _click_at(seconds: float) -> np.ndarray:
    out = np.zeros_like(T)
    start = int(seconds * RATE)
    out[start:start + click().size] = click()
    return out
