"""Speed of the generator: prompt to MP4 on disk, decoding tokens/s, FLOPs and the matmul-peak share.

    python scripts/bench_generator.py --weights weights --runs 10 [--task text_to_video] [--threads 2]

For `--runs` eval-split captions it times `Engine.generate` + `write_mp4` (the median is the
headline), splits the time by stage (the Engine's info["timings"]), counts transformer FLOPs of one
request (matmuls of every decoded position: 2 x weights, plus attention over the cache; doubled
under guidance), measures this CPU's fp32 matmul peak (a 1024^2 GEMM), and reports the share of
that peak the decoding stage reaches. `--compile` compiles the decode step first and reports how long
that took. Prints one JSON object; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media import write_mp4  # noqa: E402
from engine.pipeline import Engine  # noqa: E402
from engine.world import EVAL_SEED_START, sample  # noqa: E402


def matmul_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def transformer_flops(model, prefix_len: int, new_tokens: int, guided: bool) -> float:
    """Forward FLOPs of a KV-cached decode: the prefix once, then each new position."""
    c = model.config
    matmul_params = sum(p.numel() for n, p in model.named_parameters()
                        if p.dim() == 2 and "emb" not in n)  # attention, MLP, text projection, head
    per_token = 2 * matmul_params
    positions = range(prefix_len + new_tokens)
    attention = sum(4 * c.n_layers * c.d_model * (min(pos, prefix_len - 1) + 1 if pos < prefix_len else pos + 1)
                    for pos in positions)
    return (per_token * len(positions) + attention) * (2 if guided else 1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None)
    p.add_argument("--task", default="text_to_video", choices=["text_to_video", "unconditional"])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    p.add_argument("--guidance-scale", type=float, default=None, help="default: the Engine's")
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--compile", action="store_true", help="compile the decode step first (Engine.compile_decoding)")
    p.add_argument("--float-decoding", action="store_true", help="float32 decode steps (default: int8 on the CPU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine.from_pretrained(args.weights, int8_decoding=False if args.float_decoding else None)
    compile_s = engine.compile_decoding() if args.compile else None
    extra = {} if args.guidance_scale is None else {"guidance_scale": args.guidance_scale or None}
    engine.generate(args.task, prompt=sample(EVAL_SEED_START).caption if args.task == "text_to_video" else None,
                    seed=0, with_audio=not args.no_audio, **extra)  # warm-up
    totals, infos = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            prompt = sample(EVAL_SEED_START + run).caption if args.task == "text_to_video" else None
            start = time.perf_counter()
            result = engine.generate(args.task, prompt=prompt, seed=run, with_audio=not args.no_audio, **extra)
            write_mp4(Path(tmp) / f"{run}.mp4", result.video, audio=result.audio)
            totals.append(time.perf_counter() - start)
            infos.append(result.info)
    stages = {k: statistics.median(i["timings"].get(k, 0.0) for i in infos) for k in infos[0]["timings"]}
    guided = infos[0]["settings"]["guidance_used"]
    video_seq = engine._seq(args.task, engine.clip_latent)
    flops = transformer_flops(engine.transformer, video_seq.prefix_len, video_seq.num_output, guided)
    if not args.no_audio:
        audio_seq = engine._seq("video_to_audio", engine.audio_latent, input_video=torch.zeros(engine.clip_latent,
                                                                                                dtype=torch.long))
        flops += transformer_flops(engine.transformer, audio_seq.prefix_len, audio_seq.num_output, False)
    decode_s = stages.get("generate", 0.0) + stages.get("sound", 0.0)
    peak = matmul_peak_gflops()
    tokens = infos[0]["tokens_generated"]
    print(json.dumps({
        "task": args.task, "runs": args.runs, "device": infos[0]["device"], "models": infos[0]["models"],
        "prompt_to_mp4_s": {"median": statistics.median(totals), "min": min(totals), "max": max(totals)},
        "stage_median_s": stages, "tokens_per_request": tokens, "decode_tokens_per_s": tokens / decode_s,
        "transformer_gflop_per_request": flops / 1e9, "matmul_peak_gflops": peak,
        "decode_share_of_peak": flops / decode_s / 1e9 / peak, "guidance": guided, "compile_s": compile_s,
    }, indent=2))


if __name__ == "__main__":
    main()
