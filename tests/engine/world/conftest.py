"""Hand-built scenes for the world tests, as fixtures (importlib mode: test modules cannot import
each other)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.world import FRAMES, ObjectTruth, Scene


def _object(colour: str = "red", shape: str = "circle", x: float = 31.5, y: float = 31.5, radius: float = 8.0,
            velocity: tuple[float, float] = (0.0, 0.0), angle: float = 0.0) -> ObjectTruth:
    """An object at a constant screen velocity (still by default), optionally rotated."""
    steps = np.arange(FRAMES, dtype=np.float32)[:, None]
    trajectory = np.array([x, y], dtype=np.float32) + steps * np.array(velocity, dtype=np.float32)
    return ObjectTruth(colour, shape, "medium", radius, "still", None, trajectory,
                       np.full(FRAMES, radius, np.float32), np.full(FRAMES, angle, np.float32), ())


def _scene(*objects: ObjectTruth, background: str = "black", texture: str = "plain",
           camera: str = "static", bounce_times: tuple[float, ...] = ()) -> Scene:
    return Scene(tuple(objects), background, texture, camera, bounce_times)


@pytest.fixture
def make_object():
    return _object


@pytest.fixture
def make_scene():
    return _scene
