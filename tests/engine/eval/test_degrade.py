"""Degradations are seeded and of the documented strength."""

from __future__ import annotations

import numpy as np

from engine.eval import degrade_audio, degrade_video
from engine.world import EVAL_SEED_START, sample


def test_degradations_are_seeded_and_visible() -> None:
    clip = sample(EVAL_SEED_START + 3)
    a, b, c = (degrade_video(clip.video, s) for s in (5, 5, 6))
    assert a.dtype == np.uint8 and a.shape == clip.video.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    diff = a.astype(np.float64) - clip.video
    assert 5 < np.abs(diff).mean() < 40
    sound = degrade_audio(clip.audio, 5)
    assert np.array_equal(sound, degrade_audio(clip.audio, 5))
    assert abs(np.std(sound - clip.audio) - 0.01) < 0.001
