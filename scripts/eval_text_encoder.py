"""Does the text encoder's pooled embedding tell the world's scenes apart? Figures for issue 4.

    HF_HUB_OFFLINE=1 python scripts/eval_text_encoder.py --pairs 240

Cases (`engine/text_encoder/train_pooling.py`): for each of the first `--pairs` world evaluation seeds, an
anchor caption (train phrasing), a paraphrase of the same scene, and two contrasts with one
attribute changed (the first object's colour, shape or direction of motion, or the background):

- reworded: the changed scene captioned afresh like the paraphrase, so both differ from the anchor
  in wording and only the contrast differs in meaning;
- minimal edit: the changed scene with the anchor's random draws, so the contrast is (nearly always)
  the anchor with only the changed attribute's word(s) swapped: the hardest case for an embedding
  that weighs shared wording.

A case is won when cos(anchor, paraphrase) > cos(anchor, contrast). Two phrasings of the paraphrase
and the reworded contrast: held-out (the eval split: held-out templates, held-out synonyms for about
half the words; never seen by the pooling head) and, as a control, known (train-split words and
templates with fresh draws, on the same unseen scenes). Three pooled embeddings:

- mean: the mask-weighted mean of the frozen MiniLM tokens (the sentence-transformers embedding);
- generator projection: the mean after the shipped generator's learned text projection
  (`text_proj` in weights/transformer), as a second reference;
- pooling head: the learned head in weights/text_encoder/pooling, what `encode().pooled` returns.

Also prints the encoding time per prompt with `--threads` torch threads (one prompt per call, and
batched), and the pooling head's share of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.text_encoder import TextEncoder, load_text_encoder, mean_pool  # noqa: E402
from engine.text_encoder.train_pooling import ATTRIBUTES, CAPTION_KEYS, CONTRASTS, eval_cases, win_rates  # noqa: E402
from engine.weights import DEFAULT_WEIGHTS  # noqa: E402

Pool = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (tokens (B, L, D), mask (B, L)) -> (B, D')


def poolers(weights: Path, encoder: TextEncoder) -> dict[str, Pool]:
    """The pooled embeddings to score, by name; those whose weights are missing are left out."""
    pools: dict[str, Pool] = {"mean": mean_pool}
    if (weights / "transformer" / "model.safetensors").is_file():
        from engine.transformer import Transformer

        text_proj = Transformer.from_pretrained(weights, subfolder="transformer").text_proj
        pools["generator projection"] = lambda tokens, mask: mean_pool(text_proj(tokens), mask)
    else:
        print(f"no generator in {weights / 'transformer'}: its projection is not scored")
    if encoder.pooling is not None:
        pools["pooling head"] = encoder.pooling
    else:
        print(f"no pooling head in {weights / 'text_encoder'}: train one with "
              "`python -m engine.text_encoder.train_pooling`")
    return pools


@torch.inference_mode()
def score(encoder: TextEncoder, pools: dict[str, Pool], n: int, split: str
          ) -> dict[str, dict[str, dict[str, float]]]:
    """{pool name: win_rates} on the first n evaluation seeds with the paraphrase phrased in `split`."""
    cases = eval_cases(n, split)
    out = {key: encoder.encode([getattr(c, key) for c in cases]) for key in CAPTION_KEYS}
    attributes = [c.attribute for c in cases]
    return {name: win_rates({k: pool(e.tokens, e.mask) for k, e in out.items()}, attributes)
            for name, pool in pools.items()}


def print_table(results: dict[str, dict[str, dict[str, dict[str, float]]]], n: int) -> None:
    print(f"\n{n} pairs per row: paraphrase closer to the anchor than the one-attribute contrast")
    print(f"{'pooled embedding':<22}{'paraphrase':<12}{'contrast':<10}{'all':>8}"
          + "".join(f"{a:>12}" for a in ATTRIBUTES))
    for phrasing, by_pool in results.items():
        for name, rates in by_pool.items():
            for contrast in CONTRASTS:
                r = rates[contrast]
                print(f"{name:<22}{phrasing:<12}{contrast:<10}{r['all']:>8.1%}"
                      + "".join(f"{r[a]:>12.1%}" for a in ATTRIBUTES))


@torch.inference_mode()
def timing(encoder: TextEncoder, prompts: list[str]) -> None:
    encoder.encode(prompts[:1])  # warm-up
    start = time.perf_counter()
    singles = [encoder.encode([p]) for p in prompts]
    single = (time.perf_counter() - start) / len(prompts) * 1e3
    start = time.perf_counter()
    encoder.encode(prompts)
    batched = (time.perf_counter() - start) / len(prompts) * 1e3
    line = (f"encode time on {encoder.device} with {torch.get_num_threads()} thread(s): {single:.1f} ms per "
            f"prompt one at a time, {batched:.1f} ms per prompt in a batch of {len(prompts)}")
    if encoder.pooling is not None:
        start = time.perf_counter()
        for s in singles:
            encoder.pooling(s.tokens, s.mask)
        head = (time.perf_counter() - start) / len(prompts) * 1e3
        line += f"; of which the pooling head {head:.2f} ms per prompt"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=240)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="a weights folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--show", type=int, default=2, help="print this many example cases")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    encoder = load_text_encoder(args.weights / "text_encoder" / "config.json")
    print(f"load: {time.perf_counter() - start:.2f} s (MiniLM from the first source in the load order that "
          f"has it; pooling head: {'yes' if encoder.pooling is not None else 'none'})")
    pools = poolers(args.weights, encoder)
    for case in eval_cases(args.show):
        print(case)
    results = {phrasing: score(encoder, pools, args.pairs, split)
               for phrasing, split in (("held-out", "eval"), ("known", "train"))}
    print_table(results, args.pairs)
    cases = eval_cases(args.pairs)
    tokens = [encoder.count_tokens(getattr(c, k)) for c in cases for k in CAPTION_KEYS]
    print(f"tokens per prompt: mean {np.mean(tokens):.1f}, max {max(tokens)} (limit {encoder.config.max_tokens})")
    timing(encoder, [c.anchor for c in cases[:64]])


if __name__ == "__main__":
    main()
