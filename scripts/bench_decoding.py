"""Masked (MaskGIT) vs autoregressive decoding, side by side: speed, forward passes, and quality.

    python scripts/bench_decoding.py --weights weights --runs 10
    python scripts/bench_decoding.py --weights weights --runs 10 --score 100 --sweep 4,8,12,16,24 \
        --out runs/bench_decoding.json

Every mode decodes the same eval-split captions with the same seeds (prompt i, seed i), and the
modes take turns prompt by prompt, so a change in the machine's load hits them alike:
- speed: `Engine.generate("text_to_video")` + `write_mp4` to disk (prompt to MP4; the clip's sound
  included unless --no-audio), median over --runs after one warm-up per mode, with the median of
  each stage (info["timings"]) and the transformer forward passes per clip, video stage and total;
- quality (--score K): K held-out captions per mode, the clip judged against its caption's scene
  as scripts/eval_generator.py scores text_to_video (colour, shape, motion per object; background;
  every attribute right), without sound since the judge reads the pixels;
- steps sweep (--sweep 4,8,12,16,24): one masked mode per step count (--steps is added to it).
Prints a markdown table (and one JSON with everything to --out); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval_generator import caption_scores  # noqa: E402

from engine.device import describe_device  # noqa: E402
from engine.media import write_mp4  # noqa: E402
from engine.pipeline import Engine  # noqa: E402
from engine.world import EVAL_SEED_START, sample  # noqa: E402

SCORES = ("colour", "shape", "motion", "background", "all_right")


def modes(steps: int, sweep: list[int]) -> dict[str, dict]:
    """Label -> Engine.generate decoding settings; the autoregressive baseline first."""
    out = {"autoregressive": {"decoding": "autoregressive"}}
    for n in sorted({steps, *sweep}):
        out[f"masked-{n}"] = {"decoding": "masked", "steps": n}
    return out


def time_modes(engine: Engine, settings: dict[str, dict], runs: int, common: dict) -> dict[str, dict]:
    """Prompt -> MP4 on disk for every mode, prompts interleaved -> per mode medians and passes."""
    times: dict[str, list[float]] = defaultdict(list)
    infos: dict[str, list[dict]] = defaultdict(list)
    for decoding in settings.values():  # warm-up
        engine.generate("text_to_video", prompt=sample(EVAL_SEED_START).caption, seed=0, **decoding, **common)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            prompt = sample(EVAL_SEED_START + run).caption
            for label, decoding in settings.items():
                start = time.perf_counter()
                result = engine.generate("text_to_video", prompt=prompt, seed=run, **decoding, **common)
                write_mp4(Path(tmp) / f"{label}-{run}.mp4", result.video, fps=result.fps, audio=result.audio,
                          sample_rate=result.sample_rate)
                times[label].append(time.perf_counter() - start)
                infos[label].append(result.info)
    report = {}
    for label, values in times.items():
        info = infos[label]
        stages = {k: statistics.median(i["timings"].get(k, 0.0) for i in info) for k in info[0]["timings"]}
        report[label] = {
            "prompt_to_mp4_s": {"median": statistics.median(values), "min": min(values), "max": max(values)},
            "stage_median_s": stages,
            "forward_passes_video": statistics.median(i["forward_passes_by_stage"]["generate"] for i in info),
            "forward_passes_total": statistics.median(i["forward_passes"] for i in info),
            "guidance_used": info[0]["settings"]["guidance_used"],
        }
    return report


def score_modes(engine: Engine, settings: dict[str, dict], k: int, common: dict) -> dict[str, dict]:
    """K held-out captions per mode, judged against their scenes -> mean of each attribute score."""
    values: dict[str, dict[str, list[float]]] = {label: defaultdict(list) for label in settings}
    for index in range(k):
        clip = sample(EVAL_SEED_START + index)
        for label, decoding in settings.items():
            result = engine.generate("text_to_video", prompt=clip.caption, seed=index, **decoding,
                                     **{**common, "with_audio": False})
            for name, v in caption_scores(result.video, clip.scene).items():
                values[label][name] += v
    return {label: {name: float(np.mean(v[name])) for name in SCORES} | {"clips": k}
            for label, v in values.items()}


def markdown(settings: dict[str, dict], speed: dict[str, dict], quality: dict[str, dict] | None) -> str:
    head = ["decoding", "steps", "passes / clip (video)", "passes / clip (total)", "prompt to MP4 (median s)",
            "generate (s)", "sound (s)"]
    if quality:
        head += list(SCORES)
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, decoding in settings.items():
        s = speed[label]
        cells = [decoding["decoding"], str(decoding.get("steps", "-")), f"{s['forward_passes_video']:.0f}",
                 f"{s['forward_passes_total']:.0f}", f"{s['prompt_to_mp4_s']['median']:.3f}",
                 f"{s['stage_median_s'].get('generate', 0.0):.3f}", f"{s['stage_median_s'].get('sound', 0.0):.3f}"]
        if quality:
            cells += [f"{quality[label][name]:.3f}" for name in SCORES]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights folder or Hub id (default: the shipped weights/)")
    p.add_argument("--device", default=None, help="default: CUDA when present, else the CPU")
    p.add_argument("--runs", type=int, default=10, help="timed prompts per mode (the median is reported)")
    p.add_argument("--steps", type=int, default=12, help="masked decoding steps of the headline comparison")
    p.add_argument("--sweep", default="", help="more masked step counts, e.g. 4,8,12,16,24")
    p.add_argument("--score", type=int, default=0, help="judge K held-out captions per mode (0: no scoring)")
    p.add_argument("--guidance-scale", type=float, default=None, help="default: the Engine's; 0 turns it off")
    p.add_argument("--no-audio", action="store_true", help="time the video only (no video_to_audio stage)")
    p.add_argument("--float-passes", action="store_true",
                   help="float32 full passes: masked steps and the fit (default: the Engine's, bf16 where native)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sweep = [int(n) for n in args.sweep.split(",") if n.strip()]
    settings = modes(args.steps, sweep)
    common = {"with_audio": not args.no_audio}
    if args.guidance_scale is not None:
        common["guidance_scale"] = args.guidance_scale or None
    engine = Engine.from_pretrained(args.weights, device=args.device, bf16_passes=False if args.float_passes else None)
    speed = time_modes(engine, settings, args.runs, common)
    quality = score_modes(engine, settings, args.score, common) if args.score else None
    report = {"runs": args.runs, "score_clips": args.score, "device": describe_device(engine.device),
              "models": engine.versions(), "with_audio": common["with_audio"], "speed": speed, "quality": quality}
    print(markdown(settings, speed, quality))
    ar, masked = speed["autoregressive"], speed[f"masked-{args.steps}"]
    print(f"\nmasked-{args.steps} vs autoregressive: prompt to MP4 speed-up "
          f"{ar['prompt_to_mp4_s']['median'] / masked['prompt_to_mp4_s']['median']:.2f}x (autoregressive median / "
          f"masked median), {ar['forward_passes_video'] / masked['forward_passes_video']:.0f}x fewer video passes "
          f"({report['device']}, {args.runs} runs)")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
