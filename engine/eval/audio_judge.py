"""The audio half of the judge: per-voice pitch tracks, timbres and click onsets from samples alone.

Pitch: one Hann window of 2048 samples centred on each video frame (the world puts frame k's pitch
at sample 2000 k + 1000), zero-padded to 16384 points (about 1 Hz per bin, refined by a parabola
on the log magnitude). Each of the four timbres has its fundamental as its strongest partial, so
the strongest peak in the voice range (190-950 Hz) is a fundamental; its harmonics are then masked
and the strongest remaining peak, if loud enough, is the second voice's fundamental. Peaks are
linked into at most two voices frame to frame by the nearest (extrapolated) pitch.

Timbre: per frame and voice, the energy in a band around each harmonic h (wide enough for the
glide within the window), relative to the fundamental's, with the noise floor removed; harmonics
that share a band with the other voice's partials are skipped. The median ratios over frames are
matched to the world's four harmonic templates.

Onsets: a wall click is broadband noise; above 7.3 kHz no partial exists (8 x 880 Hz = 7040 Hz), so
the high-passed envelope rising above its floor marks a click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.world.palette import FPS, SAMPLE_RATE, TIMBRES

WINDOW = 2048
NFFT = 16384
HOP = SAMPLE_RATE // FPS  # samples per video frame
VOICE_RANGE = (190.0, 950.0)  # Hz: the world's 220-880 Hz with a margin
MAX_HARMONIC = 8
MIN_PEAK = 5.0  # spectral magnitude (about 0.01 of a full-scale tone) under which a frame is silent
LOBE_HZ = 14.0  # half width of a Hann window's main lobe (2048 samples at 16 kHz: 15.6 Hz)
NEW_VOICE = 0.06  # log-pitch cost of starting a voice (about one semitone)
SECOND_VOICE = 0.1  # a second fundamental must reach this fraction of the first
CLICK_CUTOFF = 7300.0  # Hz
CLICK_MERGE = 0.04  # s: onsets closer than this are one click
CLICK_OVER_FLOOR = 3.0  # the 2 ms envelope of white noise rarely reaches 3x its median
CLICK_MIN = 0.02  # high-band RMS a click reaches (the world's start near 0.085)
TEMPLATES = {
    shape: np.array([abs(harm.get(n, 0.0)) / abs(harm[1]) for n in range(1, MAX_HARMONIC + 1)])
    for shape, harm in TIMBRES.items()
}


@dataclass(frozen=True, eq=False)
class VoiceReading:
    """One hum: its pitch per video frame (Hz, NaN where silent) and its timbre."""

    pitch: np.ndarray  # (T,)
    timbre: str  # the shape whose timbre it has: circle | square | triangle | star
    harmonics: np.ndarray  # (8,) median amplitude of harmonics 1-8 relative to the fundamental


@dataclass(frozen=True, eq=False)
class AudioReading:
    """What a sound track holds: up to two voices and the click onsets."""

    voices: list[VoiceReading]
    onsets: np.ndarray  # (K,) seconds


def _spectra(audio: np.ndarray, frames: int, sample_rate: int) -> np.ndarray:
    """(frames, NFFT // 2 + 1) magnitude spectra of Hann windows centred on the video frames."""
    hop = sample_rate // FPS
    padded = np.pad(audio.astype(np.float64), (WINDOW, WINDOW))
    starts = np.arange(frames) * hop + hop // 2 - WINDOW // 2 + WINDOW
    segments = padded[starts[:, None] + np.arange(WINDOW)] * np.hanning(WINDOW)
    return np.abs(np.fft.rfft(segments, NFFT, axis=1))


def _refine(spec: np.ndarray, i: int) -> float:
    """Sub-bin peak position by a parabola through the log magnitudes around bin i."""
    a, b, c = np.log(spec[i - 1: i + 2] + 1e-12)
    denom = a - 2 * b + c
    return i + (0.5 * (a - c) / denom if denom < 0 else 0.0)


def _harmonic_bins(f0: float, hz: float, glide: float = 0.0) -> list[tuple[int, int]]:
    """Bin ranges around harmonics 1-8 of f0: the Hann main lobe plus the pitch glide (Hz over
    one window) times the harmonic number."""
    bands = []
    for h in range(1, MAX_HARMONIC + 1):
        half = LOBE_HZ + h * glide / 2
        bands.append((int((h * f0 - half) / hz), int((h * f0 + half) / hz) + 1))
    return bands


def _frame_pitches(spec: np.ndarray, hz: float) -> list[float]:
    """Up to two fundamentals (Hz) of one frame's magnitude spectrum."""
    lo, hi = int(VOICE_RANGE[0] / hz), int(VOICE_RANGE[1] / hz)
    band = spec[lo:hi]
    first = lo + int(np.argmax(band))
    if spec[first] < MIN_PEAK:
        return []
    f1 = _refine(spec, first) * hz
    masked = spec.copy()
    for h, (a, b) in enumerate(_harmonic_bins(f1, hz, 0.03 * f1), start=1):
        if h == 1 or masked[a:b].max(initial=0.0) < 0.6 * spec[first]:  # louder: another voice there
            masked[a:b] = 0.0
    second = lo + int(np.argmax(masked[lo:hi]))
    peak = masked[second]
    is_peak = peak >= masked[second - 3: second + 4].max()
    if peak < max(MIN_PEAK, SECOND_VOICE * spec[first]) or not is_peak:
        return [f1]
    return [f1, _refine(spec, second) * hz]


def _link(peaks: list[list[float]]) -> np.ndarray:
    """(T, 2) pitch tracks from per-frame peak lists.

    Each frame's peaks go to the voices in the way that keeps them nearest (in log pitch) to the
    voices' linear extrapolations, so crossing voices keep their identity; a voice not yet heard
    costs NEW_VOICE (about a semitone) to start. A lone peak in a two-voice clip is often both
    voices merged, so it is kept in the track but not extrapolated from.
    """
    tracks = np.full((len(peaks), 2), np.nan)
    history: list[list[tuple[int, float]]] = [[], []]

    def cost(v: int, k: int, f: float) -> float:
        h = history[v]
        if not h:
            return NEW_VOICE
        guess = h[-1][1]
        if len(h) >= 2:
            (k0, g0), (k1, g1) = h[-2], h[-1]
            guess = g1 + (g1 - g0) / (k1 - k0) * (k - k1)
        return abs(float(np.log(f)) - guess)

    for k, found in enumerate(peaks):
        if len(found) == 1:
            options = [{0: found[0]}, {1: found[0]}]
        elif len(found) == 2:
            options = [{0: found[0], 1: found[1]}, {0: found[1], 1: found[0]}]
        else:
            continue
        assign = min(options, key=lambda a: sum(cost(v, k, f) for v, f in a.items()))
        for v, f in assign.items():
            tracks[k, v] = f
            if len(found) == 2 or not history[1 - v]:
                history[v].append((k, float(np.log(f))))
    return tracks


def _harmonic_ratios(spec: np.ndarray, voice: tuple[float, float], other: tuple[float, float], hz: float,
                     floor: float) -> np.ndarray:
    """(8,) amplitude of harmonics 1-8 relative to the first; NaN where a partial of the other voice
    shares the band. Voices are (pitch, glide) in Hz; the energy in each band, less the noise
    floor, is robust to the glide smearing a peak."""
    mine = _harmonic_bins(voice[0], hz, voice[1])
    theirs = _harmonic_bins(other[0], hz, other[1]) if np.isfinite(other[0]) else []
    energy = np.full(MAX_HARMONIC, np.nan)
    for h, (a, b) in enumerate(mine):
        if b * hz >= CLICK_CUTOFF or (h > 0 and any(a < d and c < b for c, d in theirs)):
            continue
        energy[h] = max(float(np.sum(spec[a:b] ** 2)) - floor * (b - a), 0.0)
    if not np.isfinite(energy[0]) or energy[0] <= 0:
        return np.full(MAX_HARMONIC, np.nan)
    return np.sqrt(energy / energy[0])


def _glides(track: np.ndarray) -> np.ndarray:
    """(T,) pitch change (Hz) over one analysis window, from the neighbouring frames."""
    filled = np.where(np.isfinite(track), track, np.nan)
    step = np.abs(np.diff(filled))
    before = np.concatenate([[np.nan], step])
    after = np.concatenate([step, [np.nan]])
    glide = np.fmax(before, after) * WINDOW / HOP
    return np.nan_to_num(glide, nan=0.0)


def classify_timbre(ratios: np.ndarray) -> str:
    """Nearest harmonic template (shape name) over the harmonics that were measured."""
    ok = np.isfinite(ratios)
    ok[0] = False
    if not ok.any():
        return "circle"
    return min(TEMPLATES, key=lambda s: float(np.sum((ratios[ok] - TEMPLATES[s][ok]) ** 2)))


def onsets(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Click onsets (s): where the envelope above CLICK_CUTOFF rises far above its floor."""
    spectrum = np.fft.rfft(audio.astype(np.float64))
    spectrum[: int(CLICK_CUTOFF * audio.size / sample_rate)] = 0.0
    high = np.fft.irfft(spectrum, audio.size)
    width = max(1, sample_rate // 500)  # 2 ms
    envelope = np.sqrt(np.convolve(high**2, np.ones(width) / width, mode="same"))
    threshold = max(CLICK_OVER_FLOOR * np.median(envelope), CLICK_MIN)
    above = envelope > threshold
    starts = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    times: list[float] = []
    for s in starts / sample_rate:
        if not times or s - times[-1] > CLICK_MERGE:
            times.append(float(s))
    return np.asarray(times)


def judge_audio(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> AudioReading:
    """Read a mono waveform: voices (pitch per video frame, timbre) and click onsets."""
    frames = audio.size * FPS // sample_rate
    if frames == 0:
        return AudioReading([], onsets(audio, sample_rate))
    hz = sample_rate / NFFT
    spectra = _spectra(audio, frames, sample_rate)
    lo, hi = int(100 / hz), int(CLICK_CUTOFF / hz)
    floors = np.median(spectra[:, lo:hi] ** 2, axis=1)
    peaks = [_frame_pitches(s, hz) for s in spectra]
    two = sum(len(p) == 2 for p in peaks) >= 0.3 * max(1, sum(len(p) > 0 for p in peaks))
    tracks = _link(peaks) if two else np.array([[p[0] if p else np.nan] for p in peaks])
    voices = []
    for v in range(tracks.shape[1]):
        if not np.isfinite(tracks[:, v]).any():
            continue
        other = tracks[:, 1 - v] if tracks.shape[1] == 2 else np.full(frames, np.nan)
        glide, other_glide = _glides(tracks[:, v]), _glides(other)
        ratios = np.array([
            _harmonic_ratios(spectra[k], (tracks[k, v], glide[k]), (other[k], other_glide[k]), hz, floors[k])
            if np.isfinite(tracks[k, v]) else np.full(MAX_HARMONIC, np.nan) for k in range(frames)
        ])
        median = np.array([np.median(col[np.isfinite(col)]) if np.isfinite(col).any() else np.nan
                           for col in ratios.T])
        voices.append(VoiceReading(tracks[:, v], classify_timbre(median), median))
    return AudioReading(voices, onsets(audio, sample_rate))


def compare_audio_readings(original: AudioReading,
                           recon: AudioReading) -> tuple[list[float], list[bool], list[bool]]:
    """A reconstruction against its original: (pitch error in semitones per original voice, against
    the recon voice closest in pitch; whether that voice kept the timbre; per original click onset,
    whether the recon has one within one video frame)."""
    errors, timbres = [], []
    for voice in original.voices:
        best, timbre = float("inf"), False
        for candidate in recon.voices:
            both = np.isfinite(voice.pitch) & np.isfinite(candidate.pitch)
            if both.any():
                error = float(np.median(np.abs(12 * np.log2(candidate.pitch[both] / voice.pitch[both]))))
                if error < best:
                    best, timbre = error, candidate.timbre == voice.timbre
        errors.append(best)
        timbres.append(timbre)
    kept = [bool(np.any(np.abs(recon.onsets - t) <= 1 / FPS)) for t in original.onsets]
    return errors, timbres, kept
