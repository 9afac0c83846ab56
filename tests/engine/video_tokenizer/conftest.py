"""Tiny seeded configs shared by the video tokenizer tests."""

import pytest
import torch

from engine.video_tokenizer.model import VideoTokenizer, VideoTokenizerConfig


def tiny_config(**overrides) -> VideoTokenizerConfig:
    values = {"patch_size": 4, "channels": (8, 12, 16), "spatial_down": (True, False),
              "temporal_down": (True, True), "num_res_blocks": 1, "bits": 6}
    return VideoTokenizerConfig(**{**values, **overrides})


@pytest.fixture
def make_config():
    return tiny_config


@pytest.fixture
def tiny_model() -> VideoTokenizer:
    """A tiny tokenizer whose zero-initialised residual branches are perturbed, so every layer acts."""
    torch.manual_seed(0)
    model = VideoTokenizer(tiny_config())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture
def video() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(2, 3, 17, 32, 32) * 2 - 1  # (B, 3, T, H, W)
