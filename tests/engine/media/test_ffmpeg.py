"""The ffmpeg runner's hard limits, the container whitelist and the probe parser."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.media.ffmpeg import FfmpegOutputTooLarge, FfmpegTimeout, parse_probe, run_ffmpeg
from engine.media.sniff import sniff

PROBE_TEXT = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/tmp/x.mp4':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 63 kb/s
  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
  Stream #0:1[0x2](eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080 [SAR 1:1 DAR 16:9], 29.97 fps, 29.97 tbr, 30k tbn
  Stream #0:2: Video: mjpeg (Baseline), yuvj420p(pc), 600x600 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
At least one output file must be specified
"""  # noqa: E501 - verbatim ffmpeg output


def test_parse_probe() -> None:
    info = parse_probe(PROBE_TEXT)
    assert info.duration_s == pytest.approx(62.5)
    audio, video, cover = info.streams
    assert (audio.kind, audio.sample_rate) == ("audio", 44100)
    assert (video.index, video.width, video.height, video.fps) == (1, 1920, 1080, 29.97)
    assert cover.attached_pic and info.first("video") == video
    assert parse_probe("  Duration: N/A, bitrate: N/A\n").duration_s is None


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        (b"\0\0\0\x20ftypisom", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f", "matroska"),
        (b"RIFF\0\0\0\0WAVEfmt ", "wav"),
        (b"RIFF\0\0\0\0AVI LIST", "avi"),
        (b"GIF89a", "gif"),
        (b"OggS\0", "ogg"),
        (b"fLaC\0", "flac"),
        (b"ID3\x04", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\xff\xf1\x50\x80", None),  # ADTS AAC: not on the list
        (b"#EXTM3U\n", None),
        (b"ffconcat version 1.0\n", None),
        (b"\x89PNG\r\n\x1a\n", None),
    ],
)
def test_sniff(tmp_path: Path, head: bytes, demuxer: str | None) -> None:
    path = tmp_path / "f"
    path.write_bytes(head + bytes(64))
    assert sniff(path) == demuxer


def test_run_ffmpeg_is_killed_at_deadline() -> None:
    start = time.perf_counter()
    with pytest.raises(FfmpegTimeout):  # -re: real-time, so this would run for ever
        run_ffmpeg(["-re", "-f", "lavfi", "-i", "anullsrc", "-f", "null", "-"], timeout_s=0.5)
    assert time.perf_counter() - start < 3


def test_run_ffmpeg_output_is_capped() -> None:
    with pytest.raises(FfmpegOutputTooLarge):  # endless silence to stdout, stopped at 1 MB
        run_ffmpeg(["-f", "lavfi", "-i", "anullsrc", "-f", "f32le", "-"], timeout_s=10, max_output=1 << 20)
