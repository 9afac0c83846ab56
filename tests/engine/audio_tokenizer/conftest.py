"""Tiny seeded configs shared by the audio tokenizer tests, and a 2-process torchrun of a trainer."""

import json
import os
import subprocess
import sys
from pathlib import Path

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


def torchrun(module: str, *args: str, timeout: float = 180) -> list[dict]:
    """Run `python -m module args` under a 2-process torchrun (gloo, CPU) -> its JSON log records."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", module, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
