"""Sound of a scene: each object hums at a pitch that follows its height; walls click.

Per object (v1):
- Pitch f = 220 * 2^(2 * (1 - y / 63)) Hz from the SCREEN centroid y. Frame k's value sits at the
  centre of its samples (sample k * 2000 + 1000); y is interpolated linearly per sample in between
  (held before the first and after the last centre) and the phase is the running sum of f / 16 kHz
  (summed in closed form per frame interval, where f is geometric), so the pitch glides without
  clicks. Every object starts at phase 0.
- Timbre from `palette.TIMBRES`: circle sine; square harmonics 1, 3, 5, 7 at 1/n; triangle
  harmonics 1, 3, 5, 7 at 1/n^2 with alternating signs (the triangle wave's series); star
  harmonics 1-8 at 1/n. Each one-period waveform is normalised to peak 1 and read from a
  4096-entry table with linear interpolation. The highest partial (8 x 880 Hz) is below Nyquist,
  so no harmonic is ever dropped.
- Peak amplitude 0.08 + 0.02 * r with r the screen radius, interpolated like y.

A wall bounce (`Scene.bounce_times`) adds 30 ms of white noise with an exponential decay of
time constant 6 ms and amplitude 0.5, starting at the sample nearest the bounce time. The noise
burst is one fixed draw, so rendering is a pure function of the scene. The sum is scaled to peak
0.9 only when it is louder.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from engine.world.palette import (
    AUDIO_SAMPLES,
    BASE_FREQ,
    CLICK_AMPLITUDE,
    CLICK_SECONDS,
    CLICK_TAU,
    EDGE,
    LOUDNESS,
    PEAK,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    TIMBRES,
)
from engine.world.scene import Scene

TABLE_SIZE = 4096
_HALF = SAMPLES_PER_FRAME // 2  # frame k's value sits at sample k * 2000 + 1000
_RAMP = np.arange(SAMPLES_PER_FRAME) / SAMPLES_PER_FRAME
_STEPS = np.arange(SAMPLES_PER_FRAME + 1, dtype=np.float64)


@cache
def wavetable(shape: str) -> np.ndarray:
    """One period of the shape's timbre, peak 1, with the first entry repeated at the end."""
    phase = 2 * np.pi * np.arange(TABLE_SIZE + 1) / TABLE_SIZE
    wave = sum(a * np.sin(n * phase) for n, a in TIMBRES[shape].items())
    return wave / np.abs(wave).max()


@cache
def click() -> np.ndarray:
    """The wall click: a fixed white-noise burst with an exponential envelope."""
    n = np.arange(round(CLICK_SECONDS * SAMPLE_RATE))
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, n.size)
    return CLICK_AMPLITUDE * np.exp(-n / (CLICK_TAU * SAMPLE_RATE)) * noise


def _intervals(per_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) values, (18, 1) each, of the 18 intervals of 2000 samples between frame centres.

    Interval j covers samples [2000 j - 1000, 2000 j + 1000): the first and the last hold the end
    frames' values (they hang 1000 samples outside the clip), the 16 others go from frame j - 1 to j.
    """
    v = per_frame.astype(np.float64)
    return np.r_[v[0], v][:, None], np.r_[v, v[-1]][:, None]


def hum(shape: str, heights: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(34000,) float64 tone of one object from its per-frame screen heights and radii.

    Works in place where it can: large temporaries cost page faults that dominate the runtime.
    """
    y0, y1 = _intervals(heights)
    start_freq = BASE_FREQ * np.exp2(2.0 * (1.0 - y0 / EDGE))
    # With y linear in time, f is geometric over each interval: f_i = f_0 q^i. The running sum of
    # f / SAMPLE_RATE is then f_0 (q^i - 1) / (q - 1) / SAMPLE_RATE, evaluated with expm1.
    log_q = (2.0 * np.log(2.0) / EDGE) * (y0 - y1) / SAMPLES_PER_FRAME
    flat = log_q[:, 0] == 0.0
    cycles = np.expm1(_STEPS * log_q)  # (18, 2001)
    cycles[~flat] /= np.expm1(log_q[~flat])
    cycles[flat] = _STEPS
    cycles *= start_freq / SAMPLE_RATE  # cycles since the interval's start
    cycles[1:, :-1] += np.cumsum(cycles[:-1, -1])[:, None]
    cycles = cycles[:, :-1].ravel()[_HALF : _HALF + AUDIO_SAMPLES]
    cycles -= cycles[0]
    cycles -= np.floor(cycles)
    cycles *= TABLE_SIZE  # float64, so always < TABLE_SIZE
    index = cycles.astype(np.intp)
    cycles -= index  # the fraction between table entries
    table = wavetable(shape)
    wave = np.take(table, index)
    index += 1
    wave += cycles * (np.take(table, index) - wave)
    r0, r1 = _intervals(radii)
    amplitude = LOUDNESS[0] + LOUDNESS[1] * (r0 + (r1 - r0) * _RAMP)
    wave *= amplitude.ravel()[_HALF : _HALF + AUDIO_SAMPLES]
    return wave


def mix_audio(scene: Scene) -> np.ndarray:
    """(34000,) float64 sum of the scene's hums and clicks, before any scaling to PEAK."""
    audio = np.zeros(AUDIO_SAMPLES)
    for obj in scene.objects:
        audio += hum(obj.shape, obj.trajectory[:, 1], obj.radii)
    burst = click()
    for t in scene.bounce_times:
        start = round(t * SAMPLE_RATE)
        end = min(start + burst.size, AUDIO_SAMPLES)
        audio[start:end] += burst[: end - start]
    return audio


def render_audio(scene: Scene) -> np.ndarray:
    """(34000,) float32 mono sound of a scene in [-1, 1] at 16 kHz."""
    audio = mix_audio(scene)
    peak = np.abs(audio).max()
    if peak > PEAK:
        audio *= PEAK / peak
    return audio.astype(np.float32)
