"""Train the text encoder's pooling head on the frozen per-token embeddings (issue 4).

    HF_HUB_OFFLINE=1 python -m engine.text_encoder.train_pooling        # -> weights/text_encoder/pooling
    python -m engine.text_encoder.train_pooling --scenes 64 --steps 20 --out /tmp/pooling   # smoke run

Data: `training_cases(--scenes)` (below): world training seeds 0.., every caption in the world
grammar's train split, so no evaluation seed, held-out template or held-out synonym is ever seen.
MiniLM embeds the captions once (frozen, one thread: most of the run time), then only the head trains.

Loss: symmetric InfoNCE at temperature `--temperature`. For each anchor the target is its own
paraphrase; the other candidates are the batch's other paraphrases (other scenes) and all the batch's
contrasts (hard negatives: one attribute changed, half of them sharing the anchor's wording). The
same again with the paraphrase as query and the anchors as candidates. AdamW, 50 warm-up steps, then
cosine decay; a batch is `--batch` distinct scenes (4 x batch captions). Seeded: the same command
gives the same weights on the same machine.

The defaults were chosen on a pseudo split (the last train synonym of every list held out from
training and used as the "held-out" words), not on the real held-out synonyms; see README.md.

Caption cases (shared with scripts/eval_text_encoder.py): a case is one world scene (`sample_scene`
of a world seed) captioned four times:

- anchor: the scene in the train phrasing (random draws A);
- paraphrase: the same scene with fresh draws B, in the case's split;
- reworded contrast: the scene with one attribute changed (the first object's colour, shape or
  direction of motion, or the background; the attribute cycles with the seed), fresh draws C, in
  the case's split: it differs from the anchor in wording as much as the paraphrase does;
- minimal contrast: the changed scene with the anchor's draws A in the train phrasing, so it is
  (nearly always) the anchor with only the changed attribute's word(s) swapped.

A case is won when cos(anchor, paraphrase) > cos(anchor, contrast).

Splits: `training_cases` takes world training seeds (below EVAL_SEED_START) and captions everything
in the train split (train templates and train synonyms only: the pooling head never sees a held-out
phrase). `eval_cases` takes evaluation seeds (EVAL_SEED_START on) and phrases the paraphrase and the
reworded contrast in the eval split (held-out templates always, held-out synonyms for about half of
the words); with `split="train"` it gives the control: new scenes and draws, but known words.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.text_encoder.encoder import (
    CONFIG_PATH,
    POOLING_SUBFOLDER,
    PoolingHead,
    PoolingHeadConfig,
    TextEncoder,
    TextEncoderConfig,
)
from engine.world import BACKGROUNDS, EVAL_SEED_START, OBJECT_COLOURS, SHAPES, caption, sample_scene
from engine.world.scene import Scene

ATTRIBUTES = ("colour", "shape", "motion", "background")
CONTRASTS = ("reworded", "minimal")
CAPTION_KEYS = ("anchor", "paraphrase", *CONTRASTS)
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "up-left": "down-right",
            "down-right": "up-left", "up-right": "down-left", "down-left": "up-right",
            "still": "bouncing", "bouncing": "still", "growing": "shrinking", "shrinking": "growing",
            "spinning": "still"}
WARMUP_STEPS = 50


@dataclass(frozen=True)
class CaptionCase:
    seed: int  # the world seed of the scene
    attribute: str  # the attribute the contrasts change
    anchor: str
    paraphrase: str
    reworded: str
    minimal: str


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
    elif attribute == "motion":  # the opposite direction, or the opposite non-straight motion
        first = dataclasses.replace(first, motion=OPPOSITE[first.motion])
    else:
        raise ValueError(f"unknown attribute {attribute!r}")
    return dataclasses.replace(scene, objects=(first, *scene.objects[1:]))


def caption_case(seed: int, split: str) -> CaptionCase:
    """The case of a world seed; `split` phrases the paraphrase and the reworded contrast."""
    scene = sample_scene(np.random.default_rng(seed))
    attribute = ATTRIBUTES[seed % len(ATTRIBUTES)]
    changed = change(scene, attribute, np.random.default_rng((seed, 1)))
    anchor_draws = (seed, 2)
    return CaptionCase(
        seed=seed,
        attribute=attribute,
        anchor=caption(scene, np.random.default_rng(anchor_draws), "train"),
        paraphrase=caption(scene, np.random.default_rng((seed, 3)), split),
        reworded=caption(changed, np.random.default_rng((seed, 4)), split),
        minimal=caption(changed, np.random.default_rng(anchor_draws), "train"),
    )


def training_cases(n: int, start: int = 0) -> list[CaptionCase]:
    """Cases of the training seeds [start, start + n), every caption in the train split."""
    if start < 0 or n < 1 or start + n > EVAL_SEED_START:
        raise ValueError(f"training seeds must lie in [0, {EVAL_SEED_START}), got [{start}, {start + n})")
    return [caption_case(seed, "train") for seed in range(start, start + n)]


def eval_cases(n: int, split: str = "eval") -> list[CaptionCase]:
    """Cases of the first `n` evaluation seeds; split "eval" (held-out phrasings) or "train" (control)."""
    return [caption_case(EVAL_SEED_START + i, split) for i in range(n)]


def win_rates(embeddings: dict[str, torch.Tensor], attributes: list[str]) -> dict[str, dict[str, float]]:
    """{contrast: {"all": rate, attribute: rate, ...}} from unit embeddings (N, D) per caption key."""
    anchor = embeddings["anchor"]
    paraphrase = (anchor * embeddings["paraphrase"]).sum(-1)
    labels = np.array(attributes)
    rates = {}
    for contrast in CONTRASTS:
        won = (paraphrase > (anchor * embeddings[contrast]).sum(-1)).cpu().numpy()
        rates[contrast] = {"all": float(won.mean())}
        rates[contrast].update({a: float(won[labels == a].mean()) for a in ATTRIBUTES if (labels == a).any()})
    return rates



def embed_captions(encoder: TextEncoder, captions: list[str], batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen per-token embeddings (N, L, dim) float16 and masks (N, L), L the longest caption."""
    parts = [encoder.encode(captions[i:i + batch], pad_to_max=False) for i in range(0, len(captions), batch)]
    length = max(p.mask.shape[1] for p in parts)
    tokens = torch.cat([F.pad(p.tokens, (0, 0, 0, length - p.tokens.shape[1])) for p in parts]).half()
    mask = torch.cat([F.pad(p.mask, (0, length - p.mask.shape[1])) for p in parts])
    return tokens, mask


def contrastive_loss(anchor: torch.Tensor, paraphrase: torch.Tensor, reworded: torch.Tensor,
                     minimal: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE over unit embeddings (B, D): row i's positive is paraphrase i (anchor i)."""
    target = torch.arange(anchor.shape[0])
    hard = torch.cat([reworded, minimal])
    forward = F.cross_entropy(anchor @ torch.cat([paraphrase, hard]).T / temperature, target)
    backward = F.cross_entropy(paraphrase @ torch.cat([anchor, hard]).T / temperature, target)
    return (forward + backward) / 2


def learning_rate(step: int, steps: int, peak: float) -> float:
    warmup = min(1.0, (step + 1) / WARMUP_STEPS)
    return peak * warmup * 0.5 * (1 + math.cos(math.pi * step / steps))


def train_head(tokens: torch.Tensor, mask: torch.Tensor, config: PoolingHeadConfig,
               args: argparse.Namespace) -> PoolingHead:
    """tokens (4, S, L, dim), mask (4, S, L) in CAPTION_KEYS order -> the trained head (eval mode)."""
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    head = PoolingHead(config).train()
    optimizer = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scenes, batch = tokens.shape[1], min(args.batch, tokens.shape[1])
    start = time.perf_counter()
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr)
        pick = torch.randperm(scenes, generator=generator)[:batch]
        x, m = tokens[:, pick].flatten(0, 1), mask[:, pick].flatten(0, 1)
        length = int(m.sum(1).max())  # drop the padding columns no caption of this batch reaches
        anchor, paraphrase, reworded, minimal = head(x[:, :length], m[:, :length]).split(batch)
        loss = contrastive_loss(anchor, paraphrase, reworded, minimal, args.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            print(json.dumps({"step": step + 1, "loss": round(loss.item(), 4), "lr": round(group["lr"], 6),
                              "s": round(time.perf_counter() - start, 1)}), flush=True)
    return head.eval()


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG_PATH, help="the text encoder's config.json")
    parser.add_argument("--out", type=Path, default=CONFIG_PATH.parent / POOLING_SUBFOLDER)
    parser.add_argument("--scenes", type=int, default=1500, help="training scenes (4 captions each)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=64, help="scenes per step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--out-dim", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=100)
    args = parser.parse_args(argv)
    if min(args.scenes, args.steps, args.batch, args.log_every, args.threads) < 1 or args.temperature <= 0:
        parser.error("--scenes, --steps, --batch, --log-every, --threads and --temperature must be positive")
    return args


def main(argv: Iterable[str] | None = None) -> Path:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    encoder = TextEncoder(TextEncoderConfig.load(args.config))  # MiniLM alone: any shipped head is not read
    cases = training_cases(args.scenes)
    captions = [getattr(case, key) for key in CAPTION_KEYS for case in cases]
    tokens, mask = embed_captions(encoder, captions)
    shape = (len(CAPTION_KEYS), len(cases))
    tokens, mask = tokens.unflatten(0, shape), mask.unflatten(0, shape)
    print(json.dumps({"captions": len(captions), "longest_caption_tokens": tokens.shape[2],
                      "embed_s": round(time.perf_counter() - start, 1)}), flush=True)
    config = PoolingHeadConfig(dim=encoder.config.dim, heads=args.heads, out_dim=args.out_dim)
    head = train_head(tokens, mask, config, args)
    out = head.save_pretrained(args.out)
    print(json.dumps({"saved": str(out), "parameters": head.num_parameters(),
                      "total_s": round(time.perf_counter() - start, 1)}), flush=True)
    return out


if __name__ == "__main__":
    main()
