"""Hostile or broken uploads: each gives its own MediaError quickly, without a memory spike."""

from __future__ import annotations

import contextlib
import resource
import struct
import time
import wave
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.media import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaLimits,
    MediaTooLargeError,
    UnsupportedMediaError,
    read_audio,
    read_image,
    read_video,
)

MAX_SECONDS = 10.0
MAX_RSS_GROWTH_MB = 500


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Fail if the body takes over 10 s or raises this process's peak RSS by over 500 MB."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kb) / 1024
    assert elapsed < MAX_SECONDS, f"took {elapsed:.1f} s"
    assert growth_mb < MAX_RSS_GROWTH_MB, f"peak RSS grew by {growth_mb:.0f} MB"


def expect(error: type[MediaError], read: Callable[[Path], object], path: Path) -> MediaError:
    with bounded(), pytest.raises(error) as info:
        read(path)
    assert str(path.parent) not in str(info.value) and path.name not in str(info.value)
    return info.value


def png_of_zeros(path: Path, side: int) -> Path:
    """A valid 1-bit greyscale PNG of ``side`` x ``side``: a few KB on disk, side**2 pixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


@pytest.mark.parametrize("read", [read_video, read_audio, read_image])
def test_zero_byte_file(tmp_path: Path, read: Callable[[Path], object]) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    expect(EmptyMediaError, read, empty)


def test_missing_file(tmp_path: Path) -> None:
    expect(EmptyMediaError, read_video, tmp_path / "nothing.mp4")


def test_truncated_mp4(tmp_path: Path, clip_mp4: Path, ffmpeg_cli) -> None:
    data = clip_mp4.read_bytes()
    front = tmp_path / "front.mp4"  # index first (faststart): the index survives, the frames do not
    front.write_bytes(data[: len(data) * 3 // 10])
    expect(CorruptMediaError, read_video, front)
    expect(CorruptMediaError, read_audio, front)
    back_full = tmp_path / "back_full.mp4"  # index last: 30 % has no index at all
    ffmpeg_cli("-i", str(clip_mp4), "-c", "copy", str(back_full))
    back = tmp_path / "back.mp4"
    back.write_bytes(back_full.read_bytes()[: back_full.stat().st_size * 3 // 10])
    expect(CorruptMediaError, read_video, back)


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 100)
    expect(UnsupportedMediaError, read_video, fake)
    expect(UnsupportedMediaError, read_audio, fake)
    expect(UnsupportedMediaError, read_image, fake)


@pytest.mark.parametrize("name", ["list.m3u8", "list.mp4"])
def test_hls_playlist_is_refused(tmp_path: Path, clip_mp4: Path, name: str) -> None:
    playlist = tmp_path / name
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:2.125,\n{clip_mp4}\n#EXT-X-ENDLIST\n")
    err = expect(UnsupportedMediaError, read_video, playlist)
    assert "Playlists" in str(err)
    expect(UnsupportedMediaError, read_audio, playlist)


INDIRECTIONS = [
    "ffconcat version 1.0\nfile clip.mp4\n",
    "file:///etc/passwd\n",
    "v=0\no=- 0 0 IN IP4 127.0.0.1\n",
]


@pytest.mark.parametrize("text", INDIRECTIONS)
def test_other_indirections_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.mp4"
    path.write_text(text)
    expect(UnsupportedMediaError, read_video, path)


def test_decompression_bomb_png(tmp_path: Path) -> None:
    bomb = png_of_zeros(tmp_path / "bomb.png", 20_000)  # 400 MP: PIL's own bomb check refuses it
    assert bomb.stat().st_size < 200_000
    expect(MediaTooLargeError, read_image, bomb)
    big = png_of_zeros(tmp_path / "big.png", 5_000)  # 25 MP: under PIL's check, over our 16.7 MP
    expect(MediaTooLargeError, read_image, big)


def test_truncated_png(tmp_path: Path) -> None:
    png = png_of_zeros(tmp_path / "ok.png", 500)
    cut = tmp_path / "cut.png"
    cut.write_bytes(png.read_bytes()[:60])
    expect(CorruptMediaError, read_image, cut)


def test_ten_minute_wav(tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    with wave.open(str(long), "wb") as w:  # 600 s of silence at 16 kHz: 19 MB, under the size limit
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(bytes(600 * 16_000 * 2))
    expect(MediaTooLargeError, read_audio, long)


def test_video_over_duration_limit(tmp_path: Path, ffmpeg_cli) -> None:
    long = tmp_path / "long.mp4"
    gray = "color=c=gray:s=64x64:r=8:d=61"  # one second over the 60 s limit
    ffmpeg_cli("-f", "lavfi", "-i", gray, "-c:v", "libx264", "-preset", "ultrafast", str(long))
    expect(MediaTooLargeError, read_video, long)
    assert read_video(long, limits=MediaLimits(max_duration_s=120)).shape == (17, 64, 64, 3)


def test_limits_on_size_and_resolution(clip_mp4: Path) -> None:
    expect(MediaTooLargeError, lambda p: read_video(p, limits=MediaLimits(max_bytes=1000)), clip_mp4)
    expect(MediaTooLargeError, lambda p: read_video(p, limits=MediaLimits(max_side=32)), clip_mp4)
    expect(MediaTooLargeError, lambda p: read_video(p, limits=MediaLimits(max_pixels=32 * 32)), clip_mp4)


def test_audio_only_mp4_has_no_video(tmp_path: Path, ffmpeg_cli) -> None:
    m4a = tmp_path / "sound.mp4"
    tone = "sine=frequency=440:sample_rate=16000:duration=2"
    ffmpeg_cli("-f", "lavfi", "-i", tone, "-c:a", "aac", str(m4a))
    err = expect(EmptyMediaError, read_video, m4a)
    assert "no video" in str(err)
    assert read_audio(m4a).shape == (34_000,)


def test_video_without_audio_track(tmp_path: Path, clip: tuple[np.ndarray, np.ndarray]) -> None:
    from engine.media import write_mp4

    silent = write_mp4(tmp_path / "silent.mp4", clip[0])
    assert "no audio" in str(expect(EmptyMediaError, read_audio, silent))


def test_image_given_as_video(tmp_path: Path) -> None:
    expect(UnsupportedMediaError, read_video, png_of_zeros(tmp_path / "still.png", 64))


def test_file_names_are_not_ffmpeg_syntax(tmp_path: Path, clip_mp4: Path) -> None:
    odd = tmp_path / "-i concat:a.mp4|b.mp4 %d.mp4"
    odd.write_bytes(clip_mp4.read_bytes())
    assert read_video(odd).shape == (17, 64, 64, 3)
