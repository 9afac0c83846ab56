"""Seeded degradations for the judge's robustness figures: what an imperfect generated clip looks like.

Video, in this order: Gaussian blur (sigma 1 px, per frame, spatial only), additive Gaussian noise
(sigma 0.05 on the [0, 1] pixel scale), a colour shift (one gain per channel drawn from
[0.9, 1.1]), then rounding back to uint8. Audio: additive white noise of sigma 0.01.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BLUR_SIGMA = 1.0
NOISE_SIGMA = 0.05
GAIN_RANGE = (0.9, 1.1)
AUDIO_NOISE_SIGMA = 0.01


def degrade_video(video: np.ndarray, seed: int) -> np.ndarray:
    """Blurred, noisy, colour-shifted copy of a (T, H, W, 3) uint8 video."""
    rng = np.random.default_rng(seed)
    x = video.astype(np.float32) / 255.0
    x = ndimage.gaussian_filter(x, sigma=(0, BLUR_SIGMA, BLUR_SIGMA, 0), mode="nearest")
    x = x + rng.normal(0.0, NOISE_SIGMA, x.shape).astype(np.float32)
    x = x * rng.uniform(*GAIN_RANGE, size=3).astype(np.float32)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def degrade_audio(audio: np.ndarray, seed: int) -> np.ndarray:
    """Copy of a mono float waveform with white noise added, clipped to [-1, 1]."""
    rng = np.random.default_rng(seed)
    noisy = audio.astype(np.float32) + rng.normal(0.0, AUDIO_NOISE_SIGMA, audio.shape).astype(np.float32)
    return np.clip(noisy, -1.0, 1.0)
