"""Captions: natural English for a scene, from synonym lists and sentence templates.

Every caption names each object's colour, shape and motion, and the background colour. Each
object's size, each straight mover's speed, the texture and the camera are each named with
probability 1/2 (a static camera as "with a static camera" and the like). Captions are lower case
without a final full stop, e.g. "a small crimson star drifts slowly to the left on a white
background" or "two shapes: a blue box bouncing around and a yellow ball moving up, over sand with
stripes".

Splits (v1): every word list and template list is a pair (train, held-out). Training captions use
only the train entries, never a held-out one. Evaluation captions always use a held-out template,
and for every word that has held-out synonyms they pick one with probability 1/2 (otherwise a train
word), so prompt fidelity is measured on phrasings the model has not memorised. Held-out templates
start with a phrase no train template can produce ("there is", "in this clip,", "we see", "a pair
of shapes,"), which `template_pattern` makes testable.
"""

from __future__ import annotations

import re

import numpy as np

from engine.world.palette import STRAIGHT_MOTIONS
from engine.world.scene import ObjectTruth, Scene

Words = tuple[tuple[str, ...], tuple[str, ...]]  # (train, held-out)

COLOUR_WORDS: dict[str, Words] = {
    "red": (("red", "crimson", "scarlet"), ("ruby",)),
    "orange": (("orange", "amber"), ("tangerine",)),
    "yellow": (("yellow", "golden"), ("lemon",)),
    "green": (("green", "emerald"), ("jade",)),
    "cyan": (("cyan", "turquoise", "aqua"), ("teal",)),
    "blue": (("blue", "cobalt"), ("sapphire",)),
    "purple": (("purple", "violet"), ("amethyst",)),
    "pink": (("pink", "rose"), ("fuchsia",)),
}
SHAPE_WORDS: dict[str, Words] = {
    "circle": (("circle", "ball", "disc", "dot"), ("orb",)),
    "square": (("square", "box", "block"), ("tile",)),
    "triangle": (("triangle",), ("wedge",)),
    "star": (("star",), ("five-pointed star",)),
}
SIZE_WORDS: dict[str, Words] = {
    "small": (("small", "little", "tiny"), ("petite",)),
    "medium": (("medium", "medium-sized"), ("mid-sized",)),
    "large": (("large", "big"), ("huge",)),
}
BACKGROUND_WORDS: dict[str, Words] = {
    "black": (("black",), ("ebony",)),
    "white": (("white",), ("ivory",)),
    "gray": (("gray", "grey"), ("slate",)),
    "sand": (("sand", "sandy", "beige"), ("khaki",)),
}
TEXTURE_ADJECTIVES: dict[str, Words] = {
    "plain": (("plain", "solid"), ("unpatterned",)),
    "stripes": (("striped",), ("banded",)),
    "checker": (("checkered", "checkerboard"), ("chequered",)),
    "gradient": (("gradient",), ("ombre",)),
}
TEXTURE_NOUNS: dict[str, Words] = {  # "... with <noun>"; a plain background has none
    "plain": ((), ()),
    "stripes": (("stripes", "horizontal stripes"), ("bands",)),
    "checker": (("a checkerboard pattern", "checks"), ("a chequered pattern",)),
    "gradient": (("a gradient", "a vertical gradient"), ("an ombre fade",)),
}
BACKGROUND_FORMS = ("on a {c} background", "over a {c} background", "against a {c} backdrop")
BACKGROUND_WITH_FORMS = ("on a {c} background with {t}", "over {c} with {t}")
CAMERA_WORDS: dict[str, Words] = {  # trailing clauses
    "static": ((", with a static camera", ", the camera holding still"),
               (", filmed on a locked-off camera",)),
    "pan left": ((", as the camera pans left", ", with the camera panning to the left"),
                 (", the camera tracking left",)),
    "pan right": ((", as the camera pans right", ", with the camera panning to the right"),
                  (", the camera tracking right",)),
    "zoom in": ((", as the camera zooms in", ", with the camera zooming in"), (", the camera pushing in",)),
}
SPEED_WORDS: dict[str, Words] = {
    "slow": (("slowly", "gently"), ("unhurriedly",)),
    "fast": (("quickly", "fast", "rapidly"), ("swiftly",)),
}
MOVE_VERBS: tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = (
    (("moves", "moving"), ("drifts", "drifting"), ("slides", "sliding"), ("travels", "travelling")),
    (("glides", "gliding"), ("heads", "heading")),
)
DIRECTION_WORDS: dict[str, Words] = {
    "left": (("to the left", "left", "leftward"), ("toward the left edge",)),
    "right": (("to the right", "right", "rightward"), ("toward the right edge",)),
    "up": (("up", "upward", "upwards"), ("toward the top edge",)),
    "down": (("down", "downward", "downwards"), ("toward the bottom edge",)),
    "up-left": (("up and to the left", "diagonally up-left", "up-left"), ("toward the top-left corner",)),
    "up-right": (("up and to the right", "diagonally up-right", "up-right"),
                 ("toward the top-right corner",)),
    "down-left": (("down and to the left", "diagonally down-left", "down-left"),
                  ("toward the bottom-left corner",)),
    "down-right": (("down and to the right", "diagonally down-right", "down-right"),
                   ("toward the bottom-right corner",)),
}
MOTION_PHRASES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    # (finite, participle) verb phrases of the motions that are not straight
    "still": ((("stays still", "staying still"), ("sits still", "sitting still"),
               ("rests in place", "resting in place"), ("does not move", "not moving")),
              (("remains motionless", "remaining motionless"),
               ("holds its position", "holding its position"))),
    "bouncing": ((("bounces around", "bouncing around"), ("bounces off the walls", "bouncing off the walls"),
                  ("bounces", "bouncing")),
                 (("ricochets around", "ricocheting around"),
                  ("rebounds off the edges", "rebounding off the edges"))),
    "spinning": ((("spins", "spinning"), ("spins in place", "spinning in place"), ("rotates", "rotating")),
                 (("twirls", "twirling"), ("whirls around", "whirling around"))),
    "growing": ((("grows", "growing"), ("gets bigger", "getting bigger"), ("expands", "expanding")),
                (("swells", "swelling"), ("balloons", "ballooning"))),
    "shrinking": ((("shrinks", "shrinking"), ("gets smaller", "getting smaller")),
                  (("contracts", "contracting"), ("dwindles", "dwindling"))),
}
SINGLE_TEMPLATES: Words = (
    ("{obj} {moves} {bg}{cam}", "{obj} {moving} {bg}{cam}", "{bg}, {obj} {moves}{cam}",
     "a clip of {obj} {moving} {bg}{cam}", "{obj}, {moving}, {bg}{cam}"),
    ("there is {obj} {moving} {bg}{cam}", "in this clip, {obj} {moves} {bg}{cam}",
     "we see {obj} that {moves} {bg}{cam}"),
)
PAIR_TEMPLATES: Words = (
    ("two shapes: {obj1} {moving1} and {obj2} {moving2}, {bg}{cam}",
     "{obj1} {moves1} and {obj2} {moves2} {bg}{cam}", "{bg}, {obj1} {moves1} while {obj2} {moves2}{cam}"),
    ("a pair of shapes, {obj1} {moving1} and {obj2} {moving2}, {bg}{cam}",
     "in this clip, {obj1} {moves1} and {obj2} {moves2} {bg}{cam}",
     "we see {obj1} {moving1} beside {obj2} {moving2} {bg}{cam}"),
)


def _choose(rng: np.random.Generator, words: tuple, split: str):
    """A train entry, or for the eval split a held-out one with probability 1/2 when there is one."""
    train, held_out = words
    pool = held_out if split == "eval" and held_out and rng.random() < 0.5 else train
    return pool[int(rng.integers(len(pool)))]


def _maybe(rng: np.random.Generator) -> bool:
    return bool(rng.random() < 0.5)


def _object_phrase(obj: ObjectTruth, rng: np.random.Generator, split: str) -> tuple[str, str, str]:
    """(noun phrase, finite verb phrase, participle verb phrase) of one object."""
    words = [_choose(rng, COLOUR_WORDS[obj.colour], split), _choose(rng, SHAPE_WORDS[obj.shape], split)]
    if _maybe(rng):
        words.insert(0, _choose(rng, SIZE_WORDS[obj.size], split))
    if obj.motion in STRAIGHT_MOTIONS:
        finite, participle = _choose(rng, MOVE_VERBS, split)
        direction = _choose(rng, DIRECTION_WORDS[obj.motion], split)
        adverb = f" {_choose(rng, SPEED_WORDS[obj.speed], split)}" if _maybe(rng) else ""
        finite, participle = f"{finite}{adverb} {direction}", f"{participle}{adverb} {direction}"
    else:
        finite, participle = _choose(rng, MOTION_PHRASES[obj.motion], split)
    return "a " + " ".join(words), finite, participle


def _background_phrase(scene: Scene, rng: np.random.Generator, split: str) -> str:
    colour = _choose(rng, BACKGROUND_WORDS[scene.background], split)
    if not _maybe(rng):
        return BACKGROUND_FORMS[int(rng.integers(len(BACKGROUND_FORMS)))].format(c=colour)
    if TEXTURE_NOUNS[scene.texture][0] and _maybe(rng):
        form = BACKGROUND_WITH_FORMS[int(rng.integers(len(BACKGROUND_WITH_FORMS)))]
        return form.format(c=colour, t=_choose(rng, TEXTURE_NOUNS[scene.texture], split))
    form = BACKGROUND_FORMS[int(rng.integers(len(BACKGROUND_FORMS)))]
    return form.format(c=f"{_choose(rng, TEXTURE_ADJECTIVES[scene.texture], split)} {colour}")


def caption(scene: Scene, rng: np.random.Generator, split: str) -> str:
    """A caption of the scene for the "train" or "eval" split, deterministic in the generator."""
    if split not in ("train", "eval"):
        raise ValueError(f"unknown split {split!r}")
    pool = SINGLE_TEMPLATES if len(scene.objects) == 1 else PAIR_TEMPLATES
    templates = pool[1] if split == "eval" else pool[0]
    template = templates[int(rng.integers(len(templates)))]
    slots = {}
    for i, obj in enumerate(scene.objects, start=1):
        key = "" if len(scene.objects) == 1 else str(i)
        slots[f"obj{key}"], slots[f"moves{key}"], slots[f"moving{key}"] = _object_phrase(obj, rng, split)
    slots["bg"] = _background_phrase(scene, rng, split)
    slots["cam"] = _choose(rng, CAMERA_WORDS[scene.camera], split) if _maybe(rng) else ""
    return re.sub(r"\ba(?= [aeiou])", "an", template.format(**slots))


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex that a caption made from this template fully matches (each slot matches any text)."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile(".*".join(re.escape(p) for p in parts))


def held_out_phrases() -> set[str]:
    """Every word or phrase that only the eval split may use."""
    tables = [COLOUR_WORDS, SHAPE_WORDS, SIZE_WORDS, BACKGROUND_WORDS, TEXTURE_ADJECTIVES, TEXTURE_NOUNS,
              CAMERA_WORDS, SPEED_WORDS, DIRECTION_WORDS, MOTION_PHRASES]
    groups = [held_out for table in tables for _, held_out in table.values()] + [MOVE_VERBS[1]]
    # Verb entries are (finite, participle) pairs; clauses carry their leading punctuation.
    return {p.strip(", ") for group in groups for e in group for p in ((e,) if isinstance(e, str) else e)}
