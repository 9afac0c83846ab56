"""A tiny token cache (5 clips from the tiny tokenizers) shared by the trainer's tests."""

import pytest

from engine.transformer.dataset import build_cache
from tests.engine.test_pipeline import tiny_components


@pytest.fixture(scope="module")
def components():
    return tiny_components()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, components):
    video, audio, text, _ = components
    out = tmp_path_factory.mktemp("cache")
    build_cache(out, 5, video, audio, text, shard_size=3, batch_size=2, log=lambda line: None)
    return out
