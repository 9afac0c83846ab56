"""Command line: `python -m engine world --seed 7 --out clip.mp4` renders a world clip;
`python -m engine generate --task text_to_video --prompt "..." --seed 1 --out clip.mp4` runs the Engine
(inputs: --image, --video, --audio read through engine.media; --mask-preset or --mask for
in/outpainting; --num-clips for extend; --image and --last-image for interpolate). `--decoding masked
--steps 12` decodes with MaskGIT instead of one token at a time.

Both write the MP4 (H.264 + AAC) and a JSON of what was made (settings, versions, timings) beside it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.media import write_mp4, write_png
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


def _generate(args: argparse.Namespace, engine=None) -> None:
    import numpy as np

    from engine.media import MediaError, read_audio, read_image, read_video
    from engine.pipeline import DEFAULT_GUIDANCE, Engine, GenerationInputError

    try:
        image = read_image(args.image) if args.image else None
        last = read_image(args.last_image) if args.last_image else None
        video = read_video(args.video, frames=args.video_frames) if args.video else None
        audio = read_audio(args.audio) if args.audio else None
        mask = args.mask_preset
        if args.mask:
            mask_image = read_image(args.mask)
            mask = mask_image.mean(-1) >= 128  # white = generate
    except MediaError as error:
        raise SystemExit(f"error: {error}") from None
    if args.task in ("inpaint", "outpaint") and image is not None and video is None:
        video, image = image[None], None  # in/outpaint an image: a 1-frame video
    if args.task == "interpolate" and video is None:  # the two ends as a 2-frame video
        if image is None or last is None:
            raise SystemExit("error: interpolate needs --image (the first frame) and --last-image (the last)")
        video, image = np.stack([image, last]), None
    elif last is not None:
        raise SystemExit("error: --last-image is the last frame of interpolate")
    if engine is None:
        try:
            engine = Engine.from_pretrained(args.weights, device=args.device)
        except (FileNotFoundError, ValueError) as error:  # missing or mismatched weights
            raise SystemExit(f"error: cannot load the weights: {error}") from None
    if args.fit_steps is not None:
        engine.fit_steps = args.fit_steps

    guidance = DEFAULT_GUIDANCE if args.guidance_scale is None else args.guidance_scale or None  # 0: off
    shown = [-1]

    def progress(done: int, total: int) -> None:  # a line per 5 %
        if args.progress and (step := done * 20 // max(total, 1)) != shown[0]:
            shown[0] = step
            print(f"{done}/{total} steps", flush=True)

    try:
        result = engine.generate(args.task, prompt=args.prompt, image=image, video=video, mask=mask, audio=audio,
                                 seed=args.seed, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                                 guidance_scale=guidance,
                                 progress=progress, num_clips=args.num_clips, with_audio=not args.no_audio,
                                 decoding=args.decoding, steps=args.steps)
    except GenerationInputError as error:
        raise SystemExit(f"error: {error}") from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".png" and result.video.shape[0] == 1:
        write_png(out, result.video[0], scale=args.scale)
    else:
        write_mp4(out, result.video, fps=result.fps, audio=result.audio, sample_rate=result.sample_rate,
                  scale=args.scale)
    info = {**result.info, "inputs": {"image": args.image, "last_image": args.last_image, "video": args.video,
                                      "audio": args.audio,
                                      "mask": args.mask, "mask_preset": args.mask_preset},
            "output": {"path": str(out), "frames": int(result.video.shape[0]), "fps": result.fps,
                       "audio_samples": None if result.audio is None else int(np.asarray(result.audio).size)}}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2))
    print(f"{out}  {result.info['task']}  {result.video.shape[0]} frames  {result.info['settings']['decoding']}  "
          f"{result.info['forward_passes']} passes  {result.info['timings']['total']:.2f} s")


def main(argv: list[str] | None = None, engine=None) -> None:
    """`engine` lets tests pass a ready Engine instead of loading --weights."""
    parser = argparse.ArgumentParser(prog="python -m engine", description="MagPoet engine")
    commands = parser.add_subparsers(dest="command", required=True)
    world = commands.add_parser("world", help="render a Moving Shapes clip by seed")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument("--split", choices=["train", "eval"], default="train")
    world.add_argument("--pair", action="store_true", help="render a stylisation pair")
    world.add_argument("--scale", type=int, default=1, help="upscale factor for viewing (4 -> 256x256)")
    world.add_argument("--out", default="clip.mp4")
    world.set_defaults(run=_world)

    from engine.masks import OUTPAINT_PRESETS
    from engine.pipeline import (
        DEFAULT_DECODING,
        DEFAULT_STEPS,
        DEFAULT_TEMPERATURE,
        ENGINE_TASKS,
        GUIDANCE_BY_DECODING,
        MAX_CLIPS,
        MAX_STEPS,
    )
    from engine.tasks import DECODINGS
    from engine.video_tokenizer.fit import FIT_STEPS

    gen = commands.add_parser("generate", help="run a task with the generator and write an MP4 + JSON")
    gen.add_argument("--task", choices=ENGINE_TASKS, required=True)
    gen.add_argument("--prompt", default=None)
    gen.add_argument("--image", default=None,
                     help="an image file (image_to_video, extend, in/outpaint; the first frame of interpolate)")
    gen.add_argument("--last-image", default=None, help="interpolate: the last frame (an image file)")
    gen.add_argument("--video", default=None,
                     help="a video file (extend, inpaint, outpaint, stylize, video_to_audio; interpolate: "
                          "2 frames, read with --video-frames 2)")
    gen.add_argument("--video-frames", type=int, default=17, help="frames read from --video (17, or 1 for an image)")
    gen.add_argument("--audio", default=None, help="a sound file (audio_to_video)")
    gen.add_argument("--mask", default=None, help="a mask image, white = generate (inpaint, outpaint)")
    gen.add_argument("--mask-preset", choices=OUTPAINT_PRESETS, default=None, help="outpaint: the region kept")
    gen.add_argument("--num-clips", type=int, default=1, help=f"extend: clips to generate (<= {MAX_CLIPS})")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument("--top-p", type=float, default=None)
    gen.add_argument("--guidance-scale", type=float, default=None,
                     help="0 turns guidance off; default: the decoding mode's (autoregressive "
                          f"{GUIDANCE_BY_DECODING['autoregressive']}, masked {GUIDANCE_BY_DECODING['masked']})")
    gen.add_argument("--decoding", choices=DECODINGS, default=DEFAULT_DECODING,
                     help="autoregressive: one token per pass (KV cache); masked: MaskGIT, --steps passes")
    gen.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"masked decoding steps (1..{MAX_STEPS})")
    gen.add_argument("--fit-steps", type=int, default=None,
                     help=f"inpaint, outpaint, interpolate: steps fitting the kept pixels ({FIT_STEPS}; 0: off)")
    gen.add_argument("--no-audio", action="store_true", help="skip generating the clip's sound")
    gen.add_argument("--weights", default=None, help="weights folder or Hub id (default: the shipped weights/)")
    gen.add_argument("--device", default=None)
    gen.add_argument("--scale", type=int, default=1, help="upscale factor of the MP4 for viewing")
    gen.add_argument("--progress", action="store_true")
    gen.add_argument("--out", default="clip.mp4", help="an .mp4 (with sound), or a .png for a 1-frame result")
    gen.set_defaults(run=lambda a: _generate(a, engine))
    args = parser.parse_args(argv)
    if args.command == "world" and not 0 <= args.seed < EVAL_SEED_START:
        parser.error(f"--seed must be in [0, {EVAL_SEED_START})")
    if args.command == "generate" and args.fit_steps is not None and args.fit_steps < 0:
        parser.error("--fit-steps must be 0 (off) or more")
    args.run(args)


if __name__ == "__main__":
    main()
