"""scripts/eval_generator.py's split of caption scores by train / held-out words."""

import importlib.util
import sys
from pathlib import Path

import pytest

from engine.world import EVAL_SEED_START, sample
from engine.world.captions import COLOUR_WORDS, SHAPE_WORDS

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


@pytest.fixture()
def script(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("eval_generator", SCRIPTS / "eval_generator.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "eval_generator", module)
    spec.loader.exec_module(module)
    return module


def expected_key(name: str, caption: str, words: dict, value: str) -> str:
    padded = " " + caption.replace(",", " ").replace(":", " ") + " "
    held = any(f" {w} " in padded for w in words[value][1])
    return f"{name}_held_out_word" if held else f"{name}_train_word"


def test_scores_are_split_by_the_word_the_caption_used(script):
    seen = set()
    for index in range(60):
        clip = sample(EVAL_SEED_START + index)
        objects = clip.scene.objects
        scores = {"colour": [float(i) for i in range(len(objects))], "shape": [10.0 + i for i in range(len(objects))]}
        split = script.word_split(clip.caption, clip.scene, scores)
        assert sum(len(v) for k, v in split.items() if k.startswith("colour")) == len(objects)
        for i, obj in enumerate(objects):
            colour_key = expected_key("colour", clip.caption, COLOUR_WORDS, obj.colour)
            shape_key = expected_key("shape", clip.caption, SHAPE_WORDS, obj.shape)
            assert float(i) in split[colour_key] and 10.0 + i in split[shape_key]
            seen |= {colour_key, shape_key}
    assert seen == {"colour_train_word", "colour_held_out_word", "shape_train_word", "shape_held_out_word"}


def test_a_train_word_inside_a_longer_word_is_not_taken_for_a_held_out_one(script):
    clip = sample(EVAL_SEED_START)
    obj = clip.scene.objects[0]
    word = COLOUR_WORDS[obj.colour][1][0]
    caption = f"a {word}s-like {obj.colour} shape"  # the held-out word only as part of another word
    split = script.word_split(caption, clip.scene, {"colour": [1.0] * 2, "shape": [1.0] * 2})
    assert "colour_held_out_word" not in split
