"""Fixtures shared by the Engine's tests: a tiny random Engine and one world clip, per test module."""

import pytest

from engine.pipeline import Engine
from engine.world import sample
from tests.engine.test_pipeline import tiny_components


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(*tiny_components())


@pytest.fixture(scope="module")
def clip():
    return sample(5)
