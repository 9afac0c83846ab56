"""Peer benchmark: our video tokenizer vs lucidrains' `magvit2-pytorch` VideoTokenizer, trained from
scratch on Moving Shapes for the same training time, token grid (17x64x64 -> 5x8x8) and vocabulary
(2^14 codes, LFQ). Run it with the peer's own venv (not a project requirement; it has its own torch,
used for both models so the speed comparison is fair), e.g. both at once on one thread each:

    python -m venv runs/video_tokenizer/magvit2_venv
    runs/video_tokenizer/magvit2_venv/bin/pip install torch torchvision magvit2-pytorch safetensors numpy
    for m in magvit2 ours; do nice -n 19 runs/video_tokenizer/magvit2_venv/bin/python \
        scripts/peer_magvit2.py --model $m --minutes 20 --threads 1 --out runs/video_tokenizer/peer_$m.json & done

Training: batch 8 of train-split clips (seeds 0, 1, 2, ... in order, so both models see the same
clips, the slower one a prefix), AdamW (betas 0.9 / 0.99, no weight decay), grad-norm clip 1, linear
warmup over the first 5 % of the budget then cosine to 0.1 x lr, the schedule driven by training
time. `--minutes` counts the training steps (forward, backward, optimizer) only: rendering clips is
the same for both models and is reported apart (`data_minutes`). Each model keeps its own loss:
ours is engine.video_tokenizer.train's (MSE + 0.2 L1 + 0.25 commitment + 0.1 entropy); the peer's is
its own forward(return_loss=True) with its defaults (MSE + LFQ commitment 1.0 + entropy 0.1 with
diversity gamma 2.5), its perceptual (VGG weights need a download) and GAN losses off, so both are
reconstruction + LFQ losses only. Then: PSNR on `--eval-clips` eval-split clips (video, and first
frames encoded as 1-frame videos), decode ms per clip (batch 1, median of 20), tokens per clip,
codebook usage, params, steps; JSON to `--out`.

Peer config (PEER below): init_dim 32 and the library's default 7x7x7 input / 3x3x3 output causal
convs at 64x64, compress_space to 64, 128, 128 channels (64 -> 8 px) with a residual unit (causal
3x3x3 conv, 1x1 conv, squeeze-excite) after the first two, two compress_time (17 frames, padded by
3 in front so frame 0 is alone: 20 -> 10 -> 5) and one residual unit on the latent grid; LFQ
projects 128 -> 14 channels. 2.69 M parameters (its unused discriminator is dropped) vs our 2.65 M.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_video_tokenizer.py

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from timing import median_ms  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.training.data import eval_seeds, video_batch  # noqa: E402
from engine.training.run import set_learning_rate, warmup_cosine  # noqa: E402
from engine.video_tokenizer.train import build_model, codebook_usage, parse_args, psnr, reconstruct  # noqa: E402
from engine.world import EVAL_SEED_START  # noqa: E402

BITS = 14
PEER = dict(
    image_size=64, codebook_size=2**BITS, init_dim=32,
    layers=(("compress_space", 64), "residual", ("compress_space", 128), "residual", ("compress_space", 128),
            ("compress_time", 128), ("compress_time", 128), "residual"),
    perceptual_loss_weight=0.0, use_gan=False, flash_attn=False,
)


class Peer:
    """magvit2-pytorch's VideoTokenizer behind our interface: loss, encode, decode."""

    def __init__(self, seed: int) -> None:
        from magvit2_pytorch import VideoTokenizer as MagVit2Tokenizer

        torch.manual_seed(seed)
        self.model = MagVit2Tokenizer(**PEER)
        self.model.discr = None  # built even with use_gan=False (40.7 M params); never used then

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model.parameters())  # its override: encoder, decoder, quantizer (no discr / vgg)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss, parts = self.model(x, return_loss=True)
        return loss, {"mse": float(parts.recon_loss.detach()), "lfq_aux": float(parts.lfq_aux_loss.detach())}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, return_codes=True)  # (B, t, h, w) int64

    def decode(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model.decode_from_code_indices(idx)


class Ours:
    """engine.video_tokenizer with the loss of engine.video_tokenizer.train (its default weights)."""

    def __init__(self, seed: int) -> None:
        self.args = parse_args(["--out", "unused", "--seed", str(seed), "--bits", str(BITS)])
        self.model, _ = build_model(self.args)

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model.parameters())

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        a = self.args  # the same terms as engine.video_tokenizer.train.main
        recon, q = reconstruct(self.model, self.model, x)
        mse = F.mse_loss(recon, x)
        loss = mse + a.l1_weight * F.l1_loss(recon, x) + a.commitment_weight * q.commitment \
            + a.entropy_weight * q.entropy
        return loss, {"mse": float(mse.detach()), "batch_entropy": float(q.batch_entropy.detach())}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)

    def decode(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model.decode(idx)


def train(tok: Peer | Ours, args: argparse.Namespace) -> dict[str, float]:
    params = tok.parameters()
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    budget_ms = int(args.minutes * 60_000)
    train_s = data_s = 0.0
    step = 0
    tok.model.train()
    while train_s * 1000 < budget_ms:
        start = time.perf_counter()
        seeds = list(range(step * args.batch_size, (step + 1) * args.batch_size))
        assert seeds[-1] < EVAL_SEED_START
        x = video_batch(seeds)
        data_s += time.perf_counter() - start
        start = time.perf_counter()
        set_learning_rate(optimizer, warmup_cosine(int(train_s * 1000), budget_ms, budget_ms // 20, args.lr))
        loss, parts = tok.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        train_s += time.perf_counter() - start
        step += 1
        if step % args.log_every == 0 or step == 1:
            print(json.dumps({"step": step, "loss": float(loss.detach()), **parts, "train_minutes": train_s / 60}),
                  file=sys.stderr, flush=True)
    return {"steps": step, "train_minutes": train_s / 60, "data_minutes": data_s / 60,
            "s_per_step": train_s / max(1, step), "clips_seen": step * args.batch_size}


@torch.inference_mode()
def evaluate(tok: Peer | Ours, args: argparse.Namespace) -> dict[str, float]:
    tok.model.eval()
    video_psnr, image_psnr, indices = [], [], []
    seeds = eval_seeds(args.eval_clips)
    for start in range(0, len(seeds), 8):
        x = video_batch(seeds[start:start + 8])
        idx = tok.encode(x)
        indices.append(idx)
        video_psnr.append(psnr(tok.decode(idx), x))
        image = x[:, :, :1]
        image_psnr.append(psnr(tok.decode(tok.encode(image)), image))
    indices = torch.cat(indices)
    one = indices[:1]
    return {"psnr_video": float(torch.cat(video_psnr).mean()), "psnr_image": float(torch.cat(image_psnr).mean()),
            "tokens_per_clip": int(one.numel()), "latent_grid": list(one.shape[1:]),
            **codebook_usage(indices, 2**BITS), "decode_ms": median_ms(lambda: tok.decode(one), args.reps)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=("magvit2", "ours"), required=True)
    p.add_argument("--minutes", type=float, default=20.0, help="training-step time budget")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0, help="initial weights")
    p.add_argument("--eval-clips", type=int, default=512)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--out", type=Path, required=True, help="JSON results")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    tok = Peer(args.seed) if args.model == "magvit2" else Ours(args.seed)
    results: dict[str, object] = {"model": args.model, "params": sum(q.numel() for q in tok.parameters()),
                                  "vocab_size": 2**BITS, "torch": torch.__version__,
                                  "args": {k: str(v) for k, v in vars(args).items()}}
    if args.model == "magvit2":
        from importlib.metadata import version

        results.update(magvit2_pytorch=version("magvit2-pytorch"), config=str(PEER))
    results.update(train(tok, args))
    start = time.perf_counter()
    results.update(evaluate(tok, args))
    results["eval_minutes"] = (time.perf_counter() - start) / 60
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
