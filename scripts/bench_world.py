"""Throughput of the Moving Shapes world: clips per second for video only, audio only and full clips.

Measure on one core, as the requirement (>= 100 full clips/s) is stated:

    OMP_NUM_THREADS=1 taskset -c 0 python scripts/bench_world.py --n 500

Each figure renders up to --n seeds or runs for --seconds, whichever comes first, after a warm-up
that fills the background caches. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.world import render_audio, render_video, sample, sample_scene  # noqa: E402


def rate(work: Callable[[int], object], n: int, seconds: float) -> tuple[float, int]:
    """(items per second, items done) for work(i), i = 0, 1, ... until n items or the time is up."""
    start = time.perf_counter()
    done = 0
    while done < n and time.perf_counter() - start < seconds:
        work(done)
        done += 1
    return done / (time.perf_counter() - start), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="clips per figure (at most)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time per figure (at most)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    args = parser.parse_args()

    for seed in range(args.seed, args.seed + 200):  # warm the per-(background, texture, camera) caches
        sample(seed)
    scenes = [sample_scene(np.random.default_rng(args.seed + i)) for i in range(args.n)]
    figures = {
        "scene only": lambda i: sample_scene(np.random.default_rng(args.seed + i)),
        "video only": lambda i: render_video(scenes[i]),
        "audio only": lambda i: render_audio(scenes[i]),
        "full clips": lambda i: sample(args.seed + i),
    }
    for name, work in figures.items():
        per_second, done = rate(work, args.n, args.seconds)
        print(f"{name:>11}: {per_second:8.1f} clips/s ({done} clips)")


if __name__ == "__main__":
    main()
