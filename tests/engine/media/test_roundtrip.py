"""Write -> read round trips: frames, pitch, durations, scale, atomic writes, resampling on read."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

import engine.media.write as write_module
from engine.media import read_audio, read_image, read_video, write_mp4, write_png, write_wav
from engine.media.ffmpeg import FfmpegResult, probe

TONE_HZ = 440.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def dominant_hz(audio: np.ndarray, rate: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * rate / audio.size)


def test_clip_round_trip(clip_mp4: Path, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, audio = clip
    frames = read_video(clip_mp4)
    assert frames.shape == (17, 64, 64, 3) and frames.dtype == np.uint8
    assert psnr(frames, video) > 32
    assert np.abs(frames[:, 0, 0].astype(int) - 128).max() <= 2  # colour matrix/range consistent
    sound = read_audio(clip_mp4)
    assert sound.shape == (34_000,) and sound.dtype == np.float32
    assert abs(dominant_hz(sound) - TONE_HZ) < 2
    # The edit list hides AAC's priming samples, so the decoded waveform lines up with the input.
    assert np.corrcoef(sound[1000:33000], audio[1000:33000])[0, 1] > 0.99


def test_container_duration_is_frames_over_fps(clip_mp4: Path) -> None:
    info = probe(clip_mp4, "mov", timeout_s=10)
    assert info.duration_s == pytest.approx(2.125, abs=0.01)  # ffmpeg prints centiseconds: 2.13
    assert [s.kind for s in info.streams] == ["video", "audio"]
    assert info.streams[0].fps == 8


def test_scale_4_gives_256_quickly(tmp_path: Path, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, audio = clip
    start = time.perf_counter()
    out = write_mp4(tmp_path / "big.mp4", video, audio=audio, scale=4)
    assert time.perf_counter() - start < 2  # ~0.05 s here; "well under 1 s" with headroom for CI
    info = probe(out, "mov", timeout_s=10)
    assert (info.streams[0].width, info.streams[0].height) == (256, 256)
    assert psnr(read_video(out), video) > 32  # lanczos 256 -> 64 gives the blocks back


def test_audio_is_fitted_to_video_duration(tmp_path: Path, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, audio = clip
    long_audio = np.concatenate([audio, audio])  # 4.25 s of sound for a 2.125 s video
    out = write_mp4(tmp_path / "long.mp4", video, audio=long_audio)
    assert probe(out, "mov", timeout_s=10).duration_s == pytest.approx(2.125, abs=0.01)


def test_failed_write_leaves_old_file_and_no_temp(
    tmp_path: Path, clip: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    video, _ = clip
    target = write_mp4(tmp_path / "out.mp4", video)
    before = target.read_bytes()

    def half_written(args: list[str], **_: object) -> FfmpegResult:
        Path(args[-1].removeprefix("file:")).write_bytes(b"\0" * 100)
        return FfmpegResult(1, b"", "simulated failure")

    monkeypatch.setattr(write_module, "run_ffmpeg", half_written)
    with pytest.raises(RuntimeError):
        write_mp4(target, video)
    with pytest.raises(ValueError):
        write_mp4(target, video.astype(np.float32))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_wav_and_png_round_trip(tmp_path: Path, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, audio = clip
    wav = write_wav(tmp_path / "a.wav", audio)
    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 34000)
    np.testing.assert_allclose(read_audio(wav), audio, atol=1e-4)
    png = write_png(tmp_path / "a.png", video[3], scale=4)
    assert psnr(read_image(png), video[3]) > 30  # lanczos rings a little at the block edges
    np.testing.assert_array_equal(read_image(write_png(tmp_path / "b.png", video[3])), video[3])


def test_read_video_resamples_crops_and_pads(tmp_path: Path, ffmpeg_cli) -> None:
    # 1.5 s of 320 x 180 at 30 fps: a white bar in the centre column, black elsewhere.
    src = tmp_path / "wide.mp4"
    bar = "color=c=black:s=320x180:r=30:d=1.5,drawbox=x=150:y=0:w=20:h=180:color=white:t=fill"
    ffmpeg_cli("-f", "lavfi", "-i", bar, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src))
    frames = read_video(src)
    assert frames.shape == (17, 64, 64, 3)
    # Centre square is 180 wide, so the 20 px bar maps to ~7 px in the middle and the edges are black.
    assert frames[0, 32, 30:34].min() > 200 and frames[0, 32, :20].max() < 20
    np.testing.assert_array_equal(frames[12], frames[16])  # 1.5 s = 12 frames, then the last repeats


def test_read_audio_resamples_and_downmixes(tmp_path: Path, ffmpeg_cli) -> None:
    src = tmp_path / "tone.ogg"
    tone = "sine=frequency=1000:sample_rate=44100:duration=1"
    ffmpeg_cli("-f", "lavfi", "-i", tone, "-ac", "2", "-c:a", "libvorbis", str(src))
    sound = read_audio(src)
    assert sound.shape == (34_000,)
    assert abs(dominant_hz(sound[:16000]) - 1000) < 2
    assert np.abs(sound[17000:]).max() == 0  # 1 s of sound, then silence
