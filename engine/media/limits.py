"""The model's native media format and the limits applied to untrusted uploads."""

from __future__ import annotations

from dataclasses import dataclass

FPS = 8
"""Frames per second of a clip."""
CLIP_FRAMES = 17
"""Frames in one clip (2.125 s at 8 fps)."""
FRAME_SIZE = 64
"""Width and height of a frame in pixels."""
SAMPLE_RATE = 16_000
"""Audio sample rate in Hz (mono, float32 in [-1, 1])."""
CLIP_SAMPLES = 34_000
"""Audio samples in one clip (2.125 s at 16 kHz)."""


@dataclass(frozen=True)
class MediaLimits:
    """Firm limits for uploads, checked before anything is decoded in full.

    ``max_side`` and ``max_pixels`` are separate so that a long panorama (8192 x 1024) passes while
    a square of the same side (8192 x 8192, 67 MP) does not.
    """

    max_bytes: int = 50 * 1024 * 1024
    max_duration_s: float = 60.0
    max_side: int = 8192
    max_pixels: int = 4096 * 4096
    max_frames: int = 60 * 120
    """Frames the container claims (duration x frame rate): 60 s at 120 fps."""
    timeout_s: float = 20.0
    """Wall-clock limit for each ffmpeg run (probe or decode)."""


DEFAULT_LIMITS = MediaLimits()
