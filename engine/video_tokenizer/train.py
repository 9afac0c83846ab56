"""Train the video tokenizer on Moving Shapes clips, on one CPU process or under torchrun.

    python -m engine.video_tokenizer.train --out runs/video_tokenizer/main --steps 4000 \
        --export weights/video_tokenizer
    torchrun --nproc_per_node 2 -m engine.video_tokenizer.train --out runs/vt --steps 10

Loss = MSE + l1_weight * L1 (reconstruction) + commitment_weight * ||z - sg(q)||^2
       + entropy_weight * (per-sample entropy - gamma * batch entropy)
       [+ hard_pixel_weight * MSE of the worst pixels] [+ object_weight * MSE on and around objects].
`--init DIR` starts from saved weights (its config wins over the architecture flags);
`--decoder-only` then trains the decoder alone on the frozen encoder's tokens, so the indices, and
every model trained on them (the generator's token cache), stay valid while reconstructions improve.
Every rank draws disjoint world seeds (`rank_seeds`), so a resumed run sees exactly the data it would
have seen. Rank 0 evaluates held-out PSNR on the eval split every `--eval-every` steps, logs one JSON
line per log step to stdout and `<out>/log.jsonl`, keeps `<out>/checkpoint.pt` (resumable) and the
best model in `<out>/best` (save_pretrained), which `--export` copies at the end. The best is by
video PSNR, or with `--judge-clips K` by what the judge reads on K eval reconstructions (the mean of
colour, shape and motion kept; ties go to the higher PSNR): PSNR rises with the backgrounds while
the shapes, which the generator's prompts name, can stay blobs (session 10).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.components import config_to_dict
from engine.eval import judge_audio, judge_video, score_clip
from engine.training import distributed as D
from engine.training.data import eval_seeds, tensor_to_video, video_and_mask_batch, video_batch, video_to_tensor
from engine.training.run import JsonLog, RunClock, eval_and_checkpoint, export_weights, set_learning_rate, warmup_cosine
from engine.video_tokenizer.lfq import LFQOutput
from engine.video_tokenizer.model import VideoTokenizer, VideoTokenizerConfig
from engine.world import sample


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR in dB of tensors in [-1, 1] (as if both were scaled to [0, 1]): (B,)."""
    mse = ((x.clamp(-1, 1) - y.clamp(-1, 1)) / 2).pow(2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


def codebook_usage(indices: torch.Tensor, vocab_size: int) -> dict[str, float]:
    """Share of the vocabulary used, and perplexity exp(H) of the empirical code distribution."""
    counts = torch.bincount(indices.flatten(), minlength=vocab_size).double()
    p = counts[counts > 0] / counts.sum()
    perplexity = torch.exp(-(p * p.log()).sum())
    return {"usage": float((counts > 0).double().mean()), "perplexity": float(perplexity)}


@torch.no_grad()
def evaluate(model: VideoTokenizer, videos: torch.Tensor, batch_size: int = 8) -> dict[str, float]:
    """Reconstruction PSNR of clips and of their first frames as images, and codebook usage."""
    was_training = model.training
    model.eval()
    video_psnr, image_psnr, indices = [], [], []
    for x in videos.split(batch_size):
        idx = model.encode(x)
        indices.append(idx)
        video_psnr.append(psnr(model.decode(idx), x))
        image = x[:, :, :1]
        image_psnr.append(psnr(model.decode(model.encode(image)), image))
    model.train(was_training)
    usage = codebook_usage(torch.cat(indices), model.vocab_size)
    return {"psnr_video": float(torch.cat(video_psnr).mean()),
            "psnr_image": float(torch.cat(image_psnr).mean()), **usage}


def hard_pixel_loss(recon: torch.Tensor, x: torch.Tensor, fraction: float) -> torch.Tensor:
    """Mean squared error of the worst `fraction` of pixels. Small objects cover a few % of a clip, so
    plain MSE learns the backgrounds first and leaves them out for thousands of steps."""
    error = (recon - x).pow(2).mean(dim=1).flatten()  # (B*T*H*W,) squared error per pixel
    return error.topk(max(1, int(fraction * error.numel()))).values.mean()


def object_loss(recon: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, rim: int = 2) -> torch.Tensor:
    """Mean squared error over the pixels within `rim` px of an object (mask (B, 1, T, H, W)): the
    shapes' edges and corners, a few % of the pixels, which plain MSE trades for the background."""
    near = F.max_pool3d(mask, (1, 2 * rim + 1, 2 * rim + 1), stride=1, padding=(0, rim, rim))
    error = (recon - x).pow(2).mean(dim=1, keepdim=True)  # (B, 1, T, H, W)
    return (error * near).sum() / near.sum().clamp_min(1.0)


class JudgeEval:
    """What the judge reads on reconstructions of the given world clips, against the scenes' truth."""

    def __init__(self, seeds: list[int], device: torch.device | str = "cpu") -> None:
        clips = [sample(s) for s in seeds]
        self.videos = torch.stack([video_to_tensor(c.video) for c in clips]).to(device)  # (N, 3, T, H, W)
        self.scenes = [c.scene for c in clips]
        self.audio = [judge_audio(c.audio) for c in clips]  # score_clip wants one; sound is not scored here

    @torch.no_grad()
    def __call__(self, model: VideoTokenizer) -> dict[str, float]:
        kept: dict[str, list[bool]] = {"colour": [], "shape": [], "motion": []}
        for i, scene in enumerate(self.scenes):
            recon = tensor_to_video(model.decode(model.encode(self.videos[i:i + 1]))[0])
            score = score_clip(judge_video(recon), self.audio[i], scene)
            for name in kept:
                kept[name] += getattr(score, name)
        out = {f"judge_{k}": sum(v) / len(v) for k, v in kept.items()}
        out["judge"] = sum(out.values()) / len(kept)
        return out


def learning_rate(step: int, args: argparse.Namespace) -> float:
    return warmup_cosine(step, args.steps, args.warmup, args.lr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=8, help="clips per rank per step")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--l1-weight", type=float, default=0.2)
    p.add_argument("--hard-pixel-weight", type=float, default=0.0,
                   help="weight of the mean squared error of the worst --hard-pixel-fraction pixels")
    p.add_argument("--hard-pixel-fraction", type=float, default=0.05)
    p.add_argument("--object-weight", type=float, default=0.0,
                   help="weight of the mean squared error within 2 px of the objects (world truth)")
    p.add_argument("--judge-clips", type=int, default=0,
                   help="judge this many eval reconstructions at each eval and keep the best by the judge")
    p.add_argument("--commitment-weight", type=float, default=0.25)
    p.add_argument("--entropy-weight", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0, help="max global grad norm; 0 disables")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--eval-clips", type=int, default=32)
    p.add_argument("--ckpt-minutes", type=float, default=3.0, help="also checkpoint at every eval")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop and checkpoint after this")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--export", type=Path, default=None, help="save_pretrained the best model here at the end")
    p.add_argument("--seed", type=int, default=0, help="0-9: initial weights and data (seeds from seed x 10^8)")
    p.add_argument("--device", default=None)
    p.add_argument("--init", type=Path, default=None, help="start from these weights (config.json + safetensors)")
    p.add_argument("--decoder-only", action="store_true",
                   help="freeze encoder and quantizer (tokens unchanged) and train the decoder")
    defaults = VideoTokenizerConfig()
    p.add_argument("--bits", type=int, default=defaults.bits)
    p.add_argument("--patch-size", type=int, default=defaults.patch_size)
    p.add_argument("--channels", type=int, nargs="+", default=list(defaults.channels))
    p.add_argument("--spatial-down", type=int, nargs="*", default=[int(v) for v in defaults.spatial_down])
    p.add_argument("--temporal-down", type=int, nargs="*", default=[int(v) for v in defaults.temporal_down])
    p.add_argument("--res-blocks", type=int, default=defaults.num_res_blocks)
    return p.parse_args(argv)


def model_config(args: argparse.Namespace) -> VideoTokenizerConfig:
    return VideoTokenizerConfig(patch_size=args.patch_size, channels=tuple(args.channels),
                                spatial_down=tuple(bool(v) for v in args.spatial_down),
                                temporal_down=tuple(bool(v) for v in args.temporal_down),
                                num_res_blocks=args.res_blocks, bits=args.bits)


def build_model(args: argparse.Namespace) -> tuple[VideoTokenizer, nn.Module]:
    """The tokenizer, and the part of it that trains (all of it, or only the decoder)."""
    if args.decoder_only and args.init is None:
        raise ValueError("--decoder-only needs --init: a decoder alone cannot learn untrained tokens")
    if args.init is not None:
        model = VideoTokenizer.from_pretrained(args.init)
    else:
        torch.manual_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts them)
        model = VideoTokenizer(model_config(args))
    if not args.decoder_only:
        return model, model
    model.encoder.requires_grad_(False)
    model.quantizer.requires_grad_(False)
    return model, model.decoder


def reconstruct(model: VideoTokenizer, trained: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, LFQOutput | None]:
    """(reconstruction (B, 3, T, H, W), LFQ output, or None when only the decoder trains)."""
    if D.unwrap(trained) is model:
        return trained(x)
    with torch.no_grad():
        codes = model.quantizer(model.encode_latent(x)).codes  # (B, bits, t, h, w), frozen tokens
    return trained(codes), None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = D.setup(args.device)
    model, trained = build_model(args)
    model.to(info.device)
    config = model.config
    optimizer = torch.optim.AdamW(trained.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    ckpt_path = args.out / "checkpoint.pt"
    step, extra = D.load_checkpoint(ckpt_path, model, optimizer) if args.resume else (0, {})
    if extra and extra.get("config") != config_to_dict(config):
        raise ValueError(f"{ckpt_path} was trained with {extra['config']}, not {config_to_dict(config)}")
    best = (float(extra.get("best_judge", -1.0)), float(extra.get("best_psnr", -math.inf)))
    ddp = D.wrap_ddp(trained, info)
    eval_videos = video_batch(eval_seeds(args.eval_clips)).to(info.device) if info.is_main else None
    judge = JudgeEval(eval_seeds(args.judge_clips), info.device) if info.is_main and args.judge_clips > 0 else None
    log = JsonLog(args.out, info.is_main)
    log({"event": "start", "step": step, "world_size": info.world_size,
         "params": model.num_parameters(), "config": config_to_dict(config)})

    def checkpoint() -> None:
        extra = {"config": config_to_dict(config), "best_judge": best[0], "best_psnr": best[1],
                 "args": {k: str(v) for k, v in vars(args).items()}}
        D.save_checkpoint(ckpt_path, model, optimizer, step, extra)

    def evaluate_now() -> None:
        nonlocal best
        if not info.is_main:
            return
        metrics = evaluate(model, eval_videos)
        if judge is not None:
            metrics.update(judge(model))
        key = (metrics.get("judge", -1.0), metrics["psnr_video"])
        if key > best:
            best = key
            model.save_pretrained(args.out / "best")
        log({"step": step, "event": "eval", **metrics, "best_judge": best[0], "best_psnr_video": best[1]})

    clock = RunClock(args.max_minutes, args.ckpt_minutes)
    ddp.train()
    while step < args.steps:
        set_learning_rate(optimizer, learning_rate(step, args))
        x, mask = video_and_mask_batch(D.rank_seeds(step, args.batch_size, info, offset=args.seed * 10**8))
        x, mask = x.to(info.device), mask.to(info.device)
        recon, q = reconstruct(model, ddp, x)  # (B, 3, T, H, W), LFQOutput or None
        mse, l1 = F.mse_loss(recon, x), F.l1_loss(recon, x)
        loss = mse + args.l1_weight * l1
        if q is not None:
            loss = loss + args.commitment_weight * q.commitment + args.entropy_weight * q.entropy
        if args.hard_pixel_weight > 0:
            loss = loss + args.hard_pixel_weight * hard_pixel_loss(recon, x, args.hard_pixel_fraction)
        if args.object_weight > 0:
            loss = loss + args.object_weight * object_loss(recon, x, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(trained.parameters(), args.grad_clip or math.inf)
        optimizer.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            terms = {"loss": loss, "mse": mse, "l1": l1, "grad_norm": grad_norm}
            if q is not None:
                terms.update(commitment=q.commitment, per_sample_entropy=q.per_sample_entropy,
                             batch_entropy=q.batch_entropy)
            stats = {k: float(D.all_reduce_mean(v.detach())) for k, v in terms.items()}
            log({"step": step, **stats, "lr": learning_rate(step - 1, args), "minutes": clock.minutes()})
        if eval_and_checkpoint(step, args.steps, args.eval_every, clock, evaluate_now, checkpoint):
            break
    if info.is_main and args.export is not None and (args.out / "best").is_dir():
        export_weights(args.out / "best", args.export)
        log({"event": "export", "to": str(args.export), "best_judge": best[0], "best_psnr_video": best[1]})
    del ddp  # free DDP's reducer and its pending gloo work before the process group goes,
    gc.collect()  # else a rank sometimes aborts at exit ("terminate called without an active exception")
    D.cleanup()


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    main()
