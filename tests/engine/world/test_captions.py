"""Captions: they name what is true, and the eval split's phrasings never appear in training."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.world import caption, held_out_phrases, sample_scene, template_pattern
from engine.world.captions import (
    BACKGROUND_WORDS,
    CAMERA_WORDS,
    COLOUR_WORDS,
    DIRECTION_WORDS,
    MOTION_PHRASES,
    PAIR_TEMPLATES,
    SHAPE_WORDS,
    SINGLE_TEMPLATES,
    SIZE_WORDS,
    SPEED_WORDS,
)

N = 3000


def _has(text: str, words) -> bool:
    flat = [w for group in words for entry in group for w in ((entry,) if isinstance(entry, str) else entry)]
    return any(re.search(rf"(?<![\w-]){re.escape(w.strip(', '))}(?![\w-])", text) for w in flat)


@pytest.fixture(scope="module")
def captioned():
    scenes = [sample_scene(np.random.default_rng(seed)) for seed in range(N)]
    # Caption generators seeded apart from the scenes' (a fresh generator per seed would correlate).
    train = [caption(s, np.random.default_rng(N + i), "train") for i, s in enumerate(scenes)]
    evaluation = [caption(s, np.random.default_rng(N + i), "eval") for i, s in enumerate(scenes)]
    return scenes, train, evaluation


def test_captions_name_colour_shape_motion_and_background(captioned):
    scenes, train, evaluation = captioned
    for scene, *texts in zip(scenes, train, evaluation, strict=True):
        for text in texts:
            assert text == text.strip() and "  " not in text and not re.search(r"\ba [aeiou]", text)
            assert _has(text, BACKGROUND_WORDS[scene.background])
            for o in scene.objects:
                assert _has(text, COLOUR_WORDS[o.colour]) and _has(text, SHAPE_WORDS[o.shape])
                phrases = DIRECTION_WORDS.get(o.motion) or MOTION_PHRASES[o.motion]
                assert _has(text, phrases), (text, o.motion)


def test_optional_attributes_are_named_about_half_the_time(captioned):
    scenes, train, _ = captioned
    singles = [(s, t) for s, t in zip(scenes, train, strict=True) if len(s.objects) == 1]
    size = np.mean([_has(t, SIZE_WORDS[s.objects[0].size]) for s, t in singles])
    camera = np.mean([_has(t, CAMERA_WORDS[s.camera]) for s, t in singles])
    movers = [(s, t) for s, t in singles if s.objects[0].speed]
    speed = np.mean([_has(t, SPEED_WORDS[s.objects[0].speed]) for s, t in movers])
    for share in (size, camera, speed):
        assert 0.4 < share < 0.6


def test_train_never_uses_held_out_phrases(captioned):
    _, train, evaluation = captioned
    held_out = held_out_phrases()
    assert len(held_out) > 30
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p in sorted(held_out)))
    assert not [t for t in train if pattern.search(t)]
    assert np.mean([bool(pattern.search(t)) for t in evaluation]) > 0.9


def test_templates_are_split(captioned):
    scenes, train, evaluation = captioned
    for scene, t, e in zip(scenes, train, evaluation, strict=True):
        templates = SINGLE_TEMPLATES if len(scene.objects) == 1 else PAIR_TEMPLATES
        assert any(template_pattern(x).fullmatch(t) for x in templates[0])
        assert not any(template_pattern(x).fullmatch(t) for x in templates[1])
        assert any(template_pattern(x).fullmatch(e) for x in templates[1])


def test_caption_is_deterministic_and_varied(captioned):
    scenes, train, _ = captioned
    assert caption(scenes[0], np.random.default_rng(N), "train") == train[0]
    assert len(set(train)) > 0.95 * N
    with pytest.raises(ValueError):
        caption(scenes[0], np.random.default_rng(0), "test")
