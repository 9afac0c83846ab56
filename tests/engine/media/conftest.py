"""Shared synthetic media for the media tests: a moving square over grey with a 440 Hz tone.

Helpers are fixtures rather than importable functions because the suite runs with
``--import-mode=importlib``, where test modules cannot import ``conftest``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from engine.media import CLIP_FRAMES, CLIP_SAMPLES, SAMPLE_RATE, write_mp4

TONE_HZ = 440.0


@pytest.fixture(scope="session")
def clip() -> tuple[np.ndarray, np.ndarray]:
    """A red 12 x 12 square moving right over grey, and a 440 Hz sine at half scale."""
    video = np.full((CLIP_FRAMES, 64, 64, 3), 128, np.uint8)
    for t in range(CLIP_FRAMES):
        x = 4 + 2 * t
        video[t, 26:38, x : x + 12] = (220, 40, 40)
    audio = 0.5 * np.sin(2 * np.pi * TONE_HZ * np.arange(CLIP_SAMPLES) / SAMPLE_RATE)
    return video, audio.astype(np.float32)


@pytest.fixture(scope="session")
def clip_mp4(tmp_path_factory: pytest.TempPathFactory, clip: tuple[np.ndarray, np.ndarray]) -> Path:
    """The clip written once, at native size, with audio."""
    video, audio = clip
    return write_mp4(tmp_path_factory.mktemp("clip") / "clip.mp4", video, audio=audio)


@pytest.fixture(scope="session")
def ffmpeg_cli() -> Callable[..., None]:
    """Make a test input with the bundled ffmpeg (trusted arguments, no shell)."""

    def run(*args: str) -> None:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    return run
