"""Benchmark the shipped audio tokenizer: what the judge hears, spectra, codebooks, ONNX, in one run.

    python scripts/bench_audio_tokenizer.py --weights weights/audio_tokenizer --clips 512 --threads 1

On `--clips` eval-split clips, each encoded and decoded with all levels:
- judge (engine.eval.judge_audio) on the original and on the reconstruction: per original voice,
  the median |pitch difference| in semitones to the nearest reconstructed voice and whether its
  timbre class is kept; per original click onset, whether the reconstruction has one within one
  video frame (1/8 s);
- multi-scale log-mel L1 (engine.audio_tokenizer.losses) with 1..levels levels;
- codebook usage per level (share of codes used, perplexity); tokens per clip;
- ONNX parity (max |ONNX - PyTorch| over all decoded clips) and decode time for one clip, median
  over `--reps` runs after warm-up, both runtimes on the same number of threads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import median_ms  # noqa: E402

from engine.audio_tokenizer.losses import MultiScaleSpectralLoss  # noqa: E402
from engine.audio_tokenizer.model import AudioTokenizer  # noqa: E402
from engine.audio_tokenizer.onnx_export import ONNX_NAME, OnnxAudioDecoder  # noqa: E402
from engine.eval import compare_audio_readings, judge_audio  # noqa: E402
from engine.training.data import audio_batch, eval_seeds  # noqa: E402
from engine.world import SAMPLE_RATE  # noqa: E402


def codebook_usage(indices: torch.Tensor, codebook_size: int) -> list[tuple[float, float]]:
    """Per level: (share of the codebook used, perplexity of the code distribution)."""
    out = []
    for level in range(indices.shape[1]):
        counts = torch.bincount(indices[:, level].flatten(), minlength=codebook_size).double()
        p = counts[counts > 0] / counts.sum()
        out.append((float((counts > 0).double().mean()), float(torch.exp(-(p * p.log()).sum()))))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("weights/audio_tokenizer"))
    p.add_argument("--clips", type=int, default=512)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    model = AudioTokenizer.from_pretrained(args.weights)
    levels = model.config.levels
    onnx_path = args.weights / ONNX_NAME
    onnx = OnnxAudioDecoder(onnx_path, threads=args.threads) if onnx_path.is_file() else None
    spectral = MultiScaleSpectralLoss(model.config.sample_rate)

    distances: dict[int, list[torch.Tensor]] = {n: [] for n in range(1, levels + 1)}
    pitch_errors, timbres, onsets, all_indices, max_diff = [], [], [], [], 0.0
    seeds = eval_seeds(args.clips)
    for start in range(0, len(seeds), args.batch):
        audio = audio_batch(seeds[start:start + args.batch])  # (B, 1, 34000)
        n = audio.shape[-1]
        indices = model.encode(audio)  # (B, L, frames)
        all_indices.append(indices)
        for k in distances:
            distances[k].append(spectral.distance(model.decode(indices[:, :k], n), audio))
        recon = model.decode(indices, n)
        if onnx is not None:
            max_diff = max(max_diff, float((onnx.decode(indices, n) - recon).abs().max()))
        for original, decoded in zip(audio[:, 0].numpy(), recon[:, 0].numpy(), strict=True):
            e, t, o = compare_audio_readings(judge_audio(original, SAMPLE_RATE), judge_audio(decoded, SAMPLE_RATE))
            pitch_errors += e
            timbres += t
            onsets += o

    indices = torch.cat(all_indices)
    usage = codebook_usage(indices, model.config.codebook_size)
    errors = np.array(pitch_errors)
    results: dict[str, object] = {
        "weights": str(args.weights), "clips": len(seeds), "levels": levels,
        "frame_rate": model.config.frame_rate, "tokens_per_clip": int(indices[0].numel()),
        "vocab_size": model.vocab_size, "params": model.num_parameters(),
        "voices": len(errors), "pitch_error_median_semitones": float(np.median(errors)),
        "voices_within_half_semitone": float(np.mean(errors <= 0.5)),
        "timbre_kept": float(np.mean(timbres)), "onsets": len(onsets),
        "onsets_kept": float(np.mean(onsets)) if onsets else float("nan"),
        "spectral_distance": {k: float(torch.cat(v).mean()) for k, v in distances.items()},
        "codebook_usage": [u for u, _ in usage], "codebook_perplexity": [pp for _, pp in usage],
    }

    one = indices[:1]
    speed = {"decode_ms_pytorch": median_ms(lambda: model.decode(one, 34_000), args.reps)}
    if onnx is not None:
        speed["decode_ms_onnx"] = median_ms(lambda: onnx.decode(one, 34_000), args.reps)
        results.update({"onnx_max_abs_diff": max_diff, "onnx_providers": onnx.providers})
    audio = audio_batch(seeds[:1])
    speed["encode_ms_pytorch"] = median_ms(lambda: model.encode(audio), args.reps)
    results.update(speed, threads=args.threads)

    print(f"\naudio tokenizer {args.weights} | {len(seeds)} eval clips | {levels} levels x "
          f"{model.config.codebook_size} codes at {model.config.frame_rate:g} frames/s = "
          f"{results['tokens_per_clip']} tokens/clip | {model.num_parameters() / 1e6:.2f} M params\n")
    print(f"judge, reconstruction vs original: pitch error median "
          f"{results['pitch_error_median_semitones']:.3f} semitones "
          f"({100 * results['voices_within_half_semitone']:.1f} % of {len(errors)} voices within 0.5), "
          f"timbre kept {100 * results['timbre_kept']:.1f} %, onsets kept within 1 frame "
          f"{100 * results['onsets_kept']:.1f} % of {len(onsets)}")
    print("multi-scale log-mel L1 by levels used: "
          + ", ".join(f"{k}: {v:.3f}" for k, v in results["spectral_distance"].items()))
    print("codebook usage per level: "
          + ", ".join(f"{100 * u:.1f} % (perplexity {pp:.0f})" for u, pp in usage))
    if onnx is not None:
        print(f"ONNX parity: max |onnx - pytorch| = {max_diff:.2e} over all clips ({onnx.providers[0]})")
    print(f"decode ms/clip, batch 1, {args.threads} thread(s): "
          + ", ".join(f"{k.removeprefix('decode_ms_')} {v:.1f}" for k, v in speed.items() if "decode" in k)
          + f" | encode pytorch {speed['encode_ms_pytorch']:.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
