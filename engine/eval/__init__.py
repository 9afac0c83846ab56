"""The judge: reads a clip's pixels and samples (never its scene) and reports what it sees.

    from engine.eval import judge_clip, score_clip
    reading = judge_clip(clip.video, clip.audio)       # ClipReading(video=..., audio=...)
    score = score_clip(reading.video, reading.audio, clip.scene)

`degrade_video` / `degrade_audio` make the blurred, noisy, colour-shifted copies the robustness
figures use; `scripts/eval_judge.py` prints the judge's accuracy on the world's eval split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.eval.audio_judge import AudioReading, VoiceReading, compare_audio_readings, judge_audio
from engine.eval.degrade import degrade_audio, degrade_video
from engine.eval.scoring import ClipScore, expected_camera, expected_motion, score_clip
from engine.eval.video_judge import ObjectReading, VideoReading, judge_video
from engine.world.palette import SAMPLE_RATE


@dataclass(frozen=True, eq=False)
class ClipReading:
    """The judge's reading of a whole clip."""

    video: VideoReading
    audio: AudioReading


def judge_clip(video: np.ndarray, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> ClipReading:
    """Read a clip: (T, H, W, 3) uint8 frames and a mono waveform."""
    return ClipReading(judge_video(video), judge_audio(audio, sample_rate))


__all__ = [
    "AudioReading", "ClipReading", "ClipScore", "ObjectReading", "VideoReading", "VoiceReading",
    "compare_audio_readings", "degrade_audio", "degrade_video", "expected_camera", "expected_motion",
    "judge_audio", "judge_clip", "judge_video", "score_clip",
]
