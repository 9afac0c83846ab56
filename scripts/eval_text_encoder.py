"""Does the frozen text encoder tell the world's scenes apart? Figures for issue 4.

    HF_HUB_OFFLINE=1 python scripts/eval_text_encoder.py --pairs 240

For each world scene: an anchor caption (train phrasing), a paraphrase (the same scene captioned
again with the eval phrasing: held-out templates, held-out synonyms half the time) and a contrast
(one attribute changed: the first object's colour, shape or direction of motion, or the
background). A case counts when cos(anchor, paraphrase) > cos(anchor, contrast) on the pooled
embeddings. Two kinds of contrast are scored:

- reworded: the changed scene captioned afresh in the eval phrasing, like the paraphrase, so both
  differ from the anchor in wording and only the contrast differs in meaning;
- minimal edit: the changed scene captioned with the anchor's random draws, so the contrast is
  (nearly always) the anchor with only the changed attribute's word(s) swapped: the hardest case for
  a sentence embedding, which weighs shared wording heavily.

Also prints the encoding time per prompt (one prompt per call, and batched).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.text_encoder import load_text_encoder  # noqa: E402
from engine.world import BACKGROUNDS, OBJECT_COLOURS, SHAPES, caption, sample_scene  # noqa: E402
from engine.world.scene import Scene  # noqa: E402

ATTRIBUTES = ("colour", "shape", "motion", "background")
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "up-left": "down-right",
            "down-right": "up-left", "up-right": "down-left", "down-left": "up-right",
            "still": "bouncing", "bouncing": "still", "growing": "shrinking", "shrinking": "growing",
            "spinning": "still"}


def change(scene: Scene, attribute: str, rng: np.random.Generator) -> Scene:
    """The scene with one attribute of its first object (or its background) changed."""
    first = scene.objects[0]
    if attribute == "background":
        others = [b for b in BACKGROUNDS if b != scene.background]
        return dataclasses.replace(scene, background=str(rng.choice(others)))
    if attribute == "colour":
        used = {o.colour for o in scene.objects}
        others = [c for c in OBJECT_COLOURS if c not in used]
        first = dataclasses.replace(first, colour=str(rng.choice(others)))
    elif attribute == "shape":
        spinning = first.motion == "spinning"  # a circle never spins
        others = [s for s in SHAPES if s != first.shape and not (s == "circle" and spinning)]
        first = dataclasses.replace(first, shape=str(rng.choice(others)))
    else:  # motion: the opposite direction, or the opposite non-straight motion (same caption draws)
        first = dataclasses.replace(first, motion=OPPOSITE[first.motion])
    return dataclasses.replace(scene, objects=(first, *scene.objects[1:]))


def build_cases(n: int, seed: int = 0) -> list[dict[str, str]]:
    cases = []
    for i in range(n):
        scene = sample_scene(np.random.default_rng(seed + i))
        attribute = ATTRIBUTES[i % len(ATTRIBUTES)]
        changed = change(scene, attribute, np.random.default_rng((seed + i, 1)))
        anchor_draws = (seed + i, 2)
        cases.append({
            "attribute": attribute,
            "anchor": caption(scene, np.random.default_rng(anchor_draws), "train"),
            "paraphrase": caption(scene, np.random.default_rng((seed + i, 3)), "eval"),
            "reworded": caption(changed, np.random.default_rng((seed + i, 4)), "eval"),
            "minimal": caption(changed, np.random.default_rng(anchor_draws), "train"),
        })
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=240)
    parser.add_argument("--show", type=int, default=4, help="print this many example cases")
    args = parser.parse_args()

    t0 = time.perf_counter()
    encoder = load_text_encoder()
    print(f"load: {time.perf_counter() - t0:.2f} s (from the first source in the load order that has it)")
    cases = build_cases(args.pairs)
    keys = ("anchor", "paraphrase", "reworded", "minimal")
    emb = {k: encoder.encode([c[k] for c in cases]).pooled for k in keys}  # (N, 384) each
    cos = {k: (emb["anchor"] * emb[k]).sum(-1) for k in keys[1:]}
    for case in cases[: args.show]:
        print({k: case[k] for k in ("attribute", *keys)})
    print(f"\n{len(cases)} cases; paraphrase closer to the anchor than the contrast:")
    print(f"{'contrast':<14}{'all':>8}" + "".join(f"{a:>12}" for a in ATTRIBUTES))
    attrs = np.array([c["attribute"] for c in cases])
    for kind in ("reworded", "minimal"):
        win = (cos["paraphrase"] > cos[kind]).numpy()
        cells = "".join(f"{win[attrs == a].mean():>12.1%}" for a in ATTRIBUTES)
        print(f"{kind:<14}{win.mean():>8.1%}{cells}")
    print(f"mean cos: paraphrase {cos['paraphrase'].mean():.3f}, "
          f"reworded contrast {cos['reworded'].mean():.3f}, "
          f"minimal-edit contrast {cos['minimal'].mean():.3f}")
    tokens = [encoder.count_tokens(c[k]) for c in cases for k in keys]
    print(f"tokens per prompt: mean {np.mean(tokens):.1f}, max {max(tokens)} "
          f"(limit {encoder.config.max_tokens})")

    prompts = [c["anchor"] for c in cases[:64]]
    encoder.encode(prompts[:1])  # warm-up
    t0 = time.perf_counter()
    for p in prompts:
        encoder.encode([p])
    single = (time.perf_counter() - t0) / len(prompts) * 1e3
    t0 = time.perf_counter()
    encoder.encode(prompts)
    batched = (time.perf_counter() - t0) / len(prompts) * 1e3
    print(f"encode time on {encoder.device} with {torch.get_num_threads()} thread(s): "
          f"{single:.1f} ms per prompt one at a time, "
          f"{batched:.1f} ms per prompt in a batch of {len(prompts)}")


if __name__ == "__main__":
    main()
