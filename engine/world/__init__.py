"""The Moving Shapes world (v1): procedural clips with sound, captions and ground truth.

The numbers are the contract in `world.md`; `palette.py` holds them and the modules' docstrings
record the decisions the contract leaves open. Typical use:

    from engine.world import sample, sample_pair, EVAL_SEED_START
    clip = sample(7)                      # train split
    clip = sample(EVAL_SEED_START + 7)    # eval split: held-out caption phrasings
"""

from engine.world.captions import caption, held_out_phrases, template_pattern
from engine.world.clip import Clip, render, sample, sample_pair, split_of
from engine.world.palette import (
    AUDIO_SAMPLES,
    BACKGROUNDS,
    CAMERAS,
    EVAL_SEED_START,
    FPS,
    FRAMES,
    MOTIONS,
    OBJECT_COLOURS,
    SAMPLE_RATE,
    SHAPES,
    SIZE,
    SIZES,
    TEXTURES,
    WORLD_VERSION,
    pitch,
    second_tone,
)
from engine.world.render_audio import render_audio
from engine.world.render_video import render_video
from engine.world.scene import ObjectTruth, Scene, restyle, sample_scene, scene_to_dict

__all__ = [
    "AUDIO_SAMPLES", "BACKGROUNDS", "CAMERAS", "EVAL_SEED_START", "FPS", "FRAMES", "MOTIONS",
    "OBJECT_COLOURS", "SAMPLE_RATE", "SHAPES", "SIZE", "SIZES", "TEXTURES", "WORLD_VERSION",
    "Clip", "ObjectTruth", "Scene", "caption", "held_out_phrases", "pitch", "render", "render_audio",
    "render_video", "restyle", "sample", "sample_pair", "sample_scene", "scene_to_dict", "second_tone",
    "split_of", "template_pattern",
]
