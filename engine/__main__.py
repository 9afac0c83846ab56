"""Command line: `python -m engine world --seed 7 --out clip.mp4` (more commands as tasks land).

Writes the MP4 (H.264 + AAC) and a JSON of what was rendered beside it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.media import write_mp4
from engine.world import EVAL_SEED_START, FPS, SAMPLE_RATE, sample, sample_pair, scene_to_dict


def _world(args: argparse.Namespace) -> None:
    seed = args.seed + (EVAL_SEED_START if args.split == "eval" else 0)
    clips = sample_pair(seed) if args.pair else (sample(seed),)
    out = Path(args.out)
    for index, clip in enumerate(clips):
        path = out if index == 0 else out.with_name(f"{out.stem}-styled{out.suffix}")
        write_mp4(path, clip.video, fps=FPS, audio=clip.audio, sample_rate=SAMPLE_RATE, scale=args.scale)
        info = {"seed": clip.seed, "split": clip.split, "caption": clip.caption, "scene": scene_to_dict(clip.scene)}
        path.with_suffix(".json").write_text(json.dumps(info, indent=2))
        print(f"{path}  {clip.caption}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m engine", description="MagPoet engine")
    commands = parser.add_subparsers(dest="command", required=True)
    world = commands.add_parser("world", help="render a Moving Shapes clip by seed")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument("--split", choices=["train", "eval"], default="train")
    world.add_argument("--pair", action="store_true", help="render a stylisation pair")
    world.add_argument("--scale", type=int, default=1, help="upscale factor for viewing (4 -> 256x256)")
    world.add_argument("--out", default="clip.mp4")
    world.set_defaults(run=_world)
    args = parser.parse_args(argv)
    if args.command == "world" and not 0 <= args.seed < EVAL_SEED_START:
        parser.error(f"--seed must be in [0, {EVAL_SEED_START})")
    args.run(args)


if __name__ == "__main__":
    main()
