"""Tiny seeded configs shared by the audio tokenizer tests."""

import pytest
import torch

from engine.audio_tokenizer import AudioTokenizer, AudioTokenizerConfig


def tiny_config(**overrides) -> AudioTokenizerConfig:
    values = {"channels": 4, "strides": (2, 4), "dilations": (1, 3), "latent_dim": 8, "levels": 3,
              "codebook_size": 32, "clip_samples": 1000}
    return AudioTokenizerConfig(**{**values, **overrides})


@pytest.fixture
def tiny_model() -> AudioTokenizer:
    torch.manual_seed(0)
    return AudioTokenizer(tiny_config()).eval()


@pytest.fixture
def audio() -> torch.Tensor:
    torch.manual_seed(1)
    t = torch.arange(1000) / 16_000
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t)
    return (tone + 0.05 * torch.randn(2, 1, 1000)).clamp(-1, 1)  # (2, 1, N)
