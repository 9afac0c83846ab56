"""Accuracy of the judge (engine/eval) on the world's eval split, clean and degraded side by side.

    python scripts/eval_judge.py --n 1000 [--degrade] [--workers 1]

Without --degrade only the clean column is computed. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.eval import ClipScore, degrade_audio, degrade_video, judge_clip, score_clip  # noqa: E402
from engine.world import EVAL_SEED_START, sample  # noqa: E402

OBJECT_FIELDS = ("colour", "shape", "size", "motion", "timbre")
CLIP_FIELDS = ("background", "texture", "camera")


def _score(args: tuple[int, bool]) -> tuple[ClipScore, float]:
    seed, degraded = args
    clip = sample(seed)
    video, audio = clip.video, clip.audio
    if degraded:
        video, audio = degrade_video(video, seed), degrade_audio(audio, seed)
    start = time.perf_counter()
    reading = judge_clip(video, audio)
    elapsed = time.perf_counter() - start
    return score_clip(reading.video, reading.audio, clip.scene), elapsed


def _evaluate(seeds: list[int], degraded: bool, workers: int) -> tuple[list[ClipScore], float]:
    jobs = [(s, degraded) for s in seeds]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_score, jobs, chunksize=16))
    else:
        results = [_score(j) for j in jobs]
    return [r[0] for r in results], float(np.mean([r[1] for r in results]))


def _rows(scores: list[ClipScore]) -> dict[str, str]:
    def pct(hits: int, total: int) -> str:
        return f"{100.0 * hits / total:6.2f} %" if total else "     -  "

    rows = {}
    for field in OBJECT_FIELDS:
        values = [v for s in scores for v in getattr(s, field)]
        rows[field] = pct(sum(values), len(values))
    for field in CLIP_FIELDS:
        rows[field] = pct(sum(getattr(s, field) for s in scores), len(scores))
    errors = np.array([e for s in scores for e in s.pitch_error], dtype=np.float64)
    errors = np.where(np.isfinite(errors), errors, 12.0)  # an unheard object counts as an octave off
    for q in (50, 95):
        rows[f"pitch error p{q} (st)"] = f"{np.percentile(errors, q):8.4f}" if errors.size else "     -  "
    rows["pitch error <= 0.5 st"] = pct(int(np.sum(errors <= 0.5)), errors.size)
    found, total = sum(s.bounces_found for s in scores), sum(s.bounces for s in scores)
    rows["bounce onsets +-1 frame"] = pct(found, total)
    rows["object count"] = pct(sum(s.objects == s.judged_objects for s in scores), len(scores))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="eval clips (seeds from EVAL_SEED_START)")
    parser.add_argument("--degrade", action="store_true", help="also score degraded clips")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    seeds = [EVAL_SEED_START + i for i in range(args.n)]
    columns: dict[str, dict[str, str]] = {}
    timings = []
    for degraded in (False, True) if args.degrade else (False,):
        scores, seconds = _evaluate(seeds, degraded, args.workers)
        name = "degraded" if degraded else "clean"
        timings.append(f"{name} {1000 * seconds:.1f} ms/clip")
        for part, keep in (("all", lambda s: True), ("1 obj", lambda s: s.objects == 1),
                           ("2 obj", lambda s: s.objects == 2)):
            columns[f"{name} {part}"] = _rows([s for s in scores if keep(s)])
    names = list(columns)
    width = max(len(r) for r in next(iter(columns.values())))
    print(f"judge accuracy on {args.n} eval clips (seeds {seeds[0]}..{seeds[-1]}); " + ", ".join(timings))
    print(" " * width + " | " + " | ".join(f"{n:>15}" for n in names))
    for row in next(iter(columns.values())):
        print(f"{row:<{width}} | " + " | ".join(f"{columns[n][row]:>15}" for n in names))


if __name__ == "__main__":
    main()
