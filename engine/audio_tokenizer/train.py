"""Train the audio tokenizer on the world's sounds, on one CPU process or under torchrun.

    python -m engine.audio_tokenizer.train --out runs/audio_tokenizer --max-minutes 60
    torchrun --nproc_per_node 2 -m engine.audio_tokenizer.train --out runs/audio_tokenizer

Each step draws fresh world clips (disjoint seeds per rank and step) and random crops of them.
The first `--wave-steps` train on the waveform L1 alone: from a random start the spectral losses
drive the output to near-silence (any misplaced energy costs more in the many quiet bins than the
missing tones) and stay there, since magnitudes give no direction at zero; measured on one batch,
120 steps of mel + STFT ended at output RMS 0.015 (target 0.19), while 120 waveform steps reached
RMS 0.19 and the spectral losses then fell from 6.4 to 3.6 in 120 more. The first
`--quantize-after` steps train a plain autoencoder; only then are the codebooks fitted
(from batch latents) and used. Quantizing from step 0 collapsed the latent here: the commitment
loss and EMA codebooks won against the weak early reconstruction gradient, the encoder emitted a
handful of vectors (1.5 % of level-0 codes used, extra levels no help at step 200).

`--init DIR --decoder-only --refiner-blocks 4` is the second stage: it keeps a trained codec's
encoder and codebooks (so its tokens, every token cache and the generator stay valid), adds the
spectral refiner (model.py) to the decoder and trains the decoder alone. Whole clips are encoded
(the tokens the generator sees) and then cropped, latent frames and samples alike. `--complex-weight`
adds an L1 on the magnitude-compressed complex STFT (losses.py), which pins the phase the magnitude
losses leave free; `--partials-weight` a log-magnitude L1 that only counts bins within 40 dB of the
clip's peak (the harmonics). The shipped stage 2 (README.md has how it was resumed and grown):
    torchrun --nproc_per_node 2 -m engine.audio_tokenizer.train --out runs/audio_tokenizer/refiner \
        --init weights/audio_tokenizer --decoder-only --refiner-blocks 4 --lr 3e-4 --warmup 100 \
        --wave-steps 0 --wave-weight 0 --complex-weight 1 --partials-weight 10 --crop 8000 \
        --batch-size 8 --eval-every 200 --eval-clips 32 --max-minutes 60 --export weights/audio_tokenizer

`--adversarial-weight` / `--feature-weight` train the decoder against a multi-resolution
spectrogram discriminator (discriminator.py: hinge + feature matching, its own AdamW at `--disc-lr`;
it checkpoints to `<out>/discriminator.pt`). `--click-weight` adds an L1 on the log envelope above
7.3 kHz, where only the wall clicks sound. It is for training the whole codec: a decoder alone
cannot learn the clicks from the shipped tokens, which barely hold them (README.md, "What is
missing").

The run resumes from `<out>/checkpoint.pt`; every `--eval-every` steps rank 0 measures, on
eval-split clips, the held-out spectral distance and what the judge hears kept: each voice's
timbre, and each click within one video frame. It keeps the best model in `<out>/best/`
(save_pretrained); `--export` copies that to the shipped folder when the run ends. "Best" means
the mean of those two shares (the timbre alone when no clip clicks), with ties going to the lower
spectral distance; `--select spectral` goes by the distance alone. The two do not agree: a
stage-2 run's spectral distance kept falling while its timbre went from 44.6 to 32.5 %.
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.audio_tokenizer.discriminator import MultiScaleDiscriminator, discriminator_loss, generator_losses
from engine.audio_tokenizer.losses import MultiScaleSpectralLoss, click_loss, complex_spectral_loss, partials_loss
from engine.audio_tokenizer.model import AudioTokenizer, AudioTokenizerConfig
from engine.audio_tokenizer.rvq import RVQOutput
from engine.audio_tokenizer.stft import STFT
from engine.eval import AudioReading, compare_audio_readings, judge_audio
from engine.training import distributed as D
from engine.training.data import audio_batch, eval_seeds
from engine.training.run import JsonLog, RunClock, set_learning_rate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--channels", type=int, default=AudioTokenizerConfig.channels)
    p.add_argument("--strides", type=int, nargs="+", default=list(AudioTokenizerConfig.strides))
    p.add_argument("--dilations", type=int, nargs="+", default=list(AudioTokenizerConfig.dilations))
    p.add_argument("--latent-dim", type=int, default=AudioTokenizerConfig.latent_dim)
    p.add_argument("--levels", type=int, default=AudioTokenizerConfig.levels)
    p.add_argument("--codebook-size", type=int, default=AudioTokenizerConfig.codebook_size)
    p.add_argument("--restart-after", type=int, default=AudioTokenizerConfig.restart_after)
    p.add_argument("--refiner-blocks", type=int, default=AudioTokenizerConfig.refiner_blocks,
                   help="ConvNeXt blocks of the decoder's spectral refiner (0: none)")
    p.add_argument("--refiner-width", type=int, default=AudioTokenizerConfig.refiner_width)
    p.add_argument("--refiner-fft", type=int, default=AudioTokenizerConfig.refiner_fft)
    p.add_argument("--init", type=Path, default=None,
                   help="start from these weights (their config wins, but for the refiner flags)")
    p.add_argument("--decoder-only", action="store_true",
                   help="train the decoder alone on the --init codec's frozen tokens")
    p.add_argument("--batch-size", type=int, default=16, help="clips per rank per step")
    p.add_argument("--crop", type=int, default=8000, help="samples per training crop (0 = whole clip)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--commitment", type=float, default=0.25, help="weight of the quantizer commitment loss")
    p.add_argument("--wave-weight", type=float, default=10.0, help="weight of the waveform L1 loss")
    p.add_argument("--complex-weight", type=float, default=0.0,
                   help="weight of the L1 on the compressed complex STFT (phase as well as magnitude)")
    p.add_argument("--partials-weight", type=float, default=0.0,
                   help="weight of the log-magnitude L1 on the bins within 40 dB of the clip's peak")
    p.add_argument("--click-weight", type=float, default=0.0,
                   help="weight of the L1 between log envelopes above 7.3 kHz (the wall clicks)")
    p.add_argument("--adversarial-weight", type=float, default=0.0,
                   help="weight of the hinge loss against a multi-resolution spectrogram discriminator")
    p.add_argument("--feature-weight", type=float, default=0.0,
                   help="weight of the discriminator feature matching (with --adversarial-weight)")
    p.add_argument("--disc-lr", type=float, default=3e-4, help="discriminator learning rate")
    p.add_argument("--select", choices=("judge", "spectral"), default="judge",
                   help="best model by the judge (timbre and clicks kept) or by spectral distance")
    p.add_argument("--wave-steps", type=int, default=200,
                   help="first steps trained on the waveform L1 alone (spectral losses alone stall in silence)")
    p.add_argument("--quantize-after", type=int, default=400,
                   help="train as a plain autoencoder for this many steps, then fit codebooks and quantize")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop (and export) after this long; 0 = no limit")
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--eval-clips", type=int, default=32)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--seed-offset", type=int, default=0, help="first world seed of the training stream")
    p.add_argument("--export", type=Path, default=None, help="save the best model here at the end")
    p.add_argument("--device", default=None)
    return p.parse_args(argv)


def random_crops(audio: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, N) -> (B, 1, crop) windows at random offsets (the whole clip when crop is 0 or >= N)."""
    n = audio.shape[-1]
    if crop <= 0 or crop >= n:
        return audio
    starts = torch.randint(0, n - crop + 1, (audio.shape[0],), generator=generator)
    return torch.stack([audio[i, :, s: s + crop] for i, s in enumerate(starts.tolist())])


def build_model(args: argparse.Namespace) -> tuple[AudioTokenizer, nn.Module]:
    """The codec, and the part of it that trains (all of it, or the decoder alone)."""
    if args.decoder_only and args.init is None:
        raise ValueError("--decoder-only needs --init: a decoder alone cannot learn untrained tokens")
    torch.manual_seed(0)  # identical initial weights on every rank
    if args.init is None:
        model = AudioTokenizer(AudioTokenizerConfig(
            channels=args.channels, strides=tuple(args.strides), dilations=tuple(args.dilations),
            latent_dim=args.latent_dim, levels=args.levels, codebook_size=args.codebook_size,
            restart_after=args.restart_after, refiner_blocks=args.refiner_blocks,
            refiner_width=args.refiner_width, refiner_fft=args.refiner_fft))
    else:
        model = with_refiner(AudioTokenizer.from_pretrained(args.init), args.refiner_blocks, args.refiner_width,
                             args.refiner_fft)
    if not args.decoder_only:
        return model, model
    model.encoder.requires_grad_(False)
    model.quantizer.requires_grad_(False)
    return model, model.decoder


def with_refiner(model: AudioTokenizer, blocks: int, width: int, fft: int) -> AudioTokenizer:
    """`model` with a fresh (identity) refiner of `blocks` x `width` when it has none and one is asked."""
    if blocks == 0 or model.config.refiner_blocks:
        return model
    grown = AudioTokenizer(replace(model.config, refiner_blocks=blocks, refiner_width=width, refiner_fft=fft))
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or not all(k.startswith("decoder.refiner.") for k in missing):
        raise ValueError(f"cannot add a refiner: missing {missing}, unexpected {unexpected}")
    return grown


def crops(model: AudioTokenizer, trained: nn.Module, audio: torch.Tensor, crop: int, quantize: bool,
          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, RVQOutput | None]:
    """(reconstruction, target, quantizer output) of a training step, each (B, 1, crop).

    The whole codec trains on random crops of the clips. The decoder alone decodes crops of the
    frozen tokens of whole clips (the tokens the generator sees), matched by the same crop of samples.
    """
    if D.unwrap(trained) is model:
        target = random_crops(audio, crop, generator)
        recon, q = trained(target, quantize=quantize)
        return recon, target, q
    hop = model.config.hop
    with torch.no_grad():
        latent = model.quantizer.dequantize(model.encode(audio))  # (B, D, frames)
        padded = model._pad(audio)
    frames = latent.shape[-1] if crop <= 0 else min(latent.shape[-1], max(1, crop // hop))
    starts = torch.randint(0, latent.shape[-1] - frames + 1, (audio.shape[0],), generator=generator).tolist()
    latent = torch.stack([latent[i, :, s:s + frames] for i, s in enumerate(starts)])
    target = torch.stack([padded[i, :, s * hop:(s + frames) * hop] for i, s in enumerate(starts)])
    return trained(latent), target, None


@torch.no_grad()
def evaluate(model: AudioTokenizer, spectral: MultiScaleSpectralLoss, audio: torch.Tensor,
             originals: list[AudioReading]) -> dict[str, float]:
    """Held-out spectral distance with 1..levels levels, codebook usage per level, and what the judge
    hears kept (timbre per voice, clicks within a frame) against its readings of the `originals`."""
    model.eval()
    device = next(model.parameters()).device
    audio = audio.to(device)
    indices = model.encode(audio)  # (B, L, T)
    out: dict[str, float] = {}
    for levels in range(1, model.config.levels + 1):
        recon = model.decode(indices[:, :levels], audio.shape[-1])
        out[f"spectral_l{levels}"] = spectral.distance(recon, audio).mean().item()
    for level in range(model.config.levels):
        used = torch.unique(indices[:, level]).numel()
        out[f"usage_l{level}"] = used / model.config.codebook_size
    out["spectral"] = out[f"spectral_l{model.config.levels}"]
    timbres, clicks = [], []
    # the judge hears the last decode above: all levels, the token layout that ships
    for original, clip in zip(originals, recon.cpu().numpy(), strict=True):
        reading = judge_audio(clip[0], model.config.sample_rate)
        _, kept_timbre, kept_click = compare_audio_readings(original, reading)
        timbres += kept_timbre
        clicks += kept_click
    out["timbre_kept"] = float(np.mean(timbres)) if timbres else 0.0
    out["clicks_kept"] = float(np.mean(clicks)) if clicks else 0.0
    out["judge"] = (out["timbre_kept"] + out["clicks_kept"]) / 2 if clicks else out["timbre_kept"]
    model.train()
    return out


def improved(metrics: dict[str, float], best: tuple[float, float], select: str) -> tuple[float, float] | None:
    """The new (judge, spectral) best when `metrics` beat `best`, else None. By the judge, ties go to the
    lower spectral distance; by spectral distance the judge is not looked at."""
    if select == "spectral":
        return (metrics["judge"], metrics["spectral"]) if metrics["spectral"] < best[1] else None
    key = (metrics["judge"], -metrics["spectral"])
    return (metrics["judge"], metrics["spectral"]) if key > (best[0], -best[1]) else None


def adversary(args: argparse.Namespace,
              info: D.DistInfo) -> tuple[nn.Module | None, torch.optim.Optimizer | None, nn.Module | None]:
    """(discriminator, its optimizer, its DDP wrapper), resumed from `<out>/discriminator.pt`, when an
    adversarial or feature-matching weight is set; else (None, None, None)."""
    if not (args.adversarial_weight or args.feature_weight):
        return None, None, None
    torch.manual_seed(1)  # identical initial weights on every rank
    disc = MultiScaleDiscriminator().to(info.device)
    optimizer = torch.optim.AdamW(disc.parameters(), lr=args.disc_lr, betas=(0.5, 0.9), weight_decay=0.0)
    D.load_checkpoint(args.out / "discriminator.pt", disc, optimizer)
    return disc, optimizer, D.wrap_ddp(disc, info)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = D.setup(args.device)
    model, trained = build_model(args)
    model.to(info.device)
    config = model.config
    spectral = MultiScaleSpectralLoss(config.sample_rate).to(info.device)
    stft = STFT(config.refiner_fft, config.hop).to(info.device)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=args.lr, betas=(0.8, 0.99), weight_decay=0.0)
    ckpt_path = args.out / "checkpoint.pt"
    step, extra = D.load_checkpoint(ckpt_path, model, optimizer)
    best = (float(extra.get("best_judge", -1.0)), float(extra.get("best_spectral", float("inf"))))
    ddp_model = D.wrap_ddp(trained, info)
    disc, disc_optimizer, ddp_disc = adversary(args, info)
    eval_audio = audio_batch(eval_seeds(args.eval_clips)) if info.is_main else None
    originals = [judge_audio(clip[0].numpy(), config.sample_rate) for clip in eval_audio] if info.is_main else []
    log = JsonLog(args.out, info.is_main)
    log({"event": "start", "step": step, "world_size": info.world_size,
         "params": model.num_parameters(), "config": asdict(config)})
    clock = RunClock(args.max_minutes, args.ckpt_minutes)
    while step < args.steps:
        trained.train()  # (again after each evaluation) the frozen encoder and quantizer stay in eval
        if trained is not model:  # mode: no quantizer dropout, no codebook updates, same tokens
            model.encoder.eval()
            model.quantizer.eval()
        set_learning_rate(optimizer, args.lr * min(1.0, (step + 1) / args.warmup))
        generator = torch.Generator().manual_seed(step * info.world_size + info.rank)
        seeds = D.rank_seeds(step, args.batch_size, info, offset=args.seed_offset)
        t0 = time.monotonic()
        recon, audio, q = crops(model, ddp_model, audio_batch(seeds).to(info.device), args.crop,
                                step >= args.quantize_after, generator)  # (B, 1, crop) each
        spec = spectral(recon, audio)
        wave = (recon - audio).abs().mean()
        commit = q.commit_loss if q is not None else wave.new_zeros(())
        cplx = complex_spectral_loss(stft, recon, audio) if args.complex_weight else wave.new_zeros(())
        partials = partials_loss(spectral, recon, audio) if args.partials_weight else wave.new_zeros(())
        clicks = click_loss(spectral, recon, audio) if args.click_weight else wave.new_zeros(())
        d_loss = adv = feat = wave.new_zeros(())
        if disc is not None:
            d_loss = discriminator_loss(ddp_disc, audio, recon)
            disc_optimizer.zero_grad(set_to_none=True)  # also drops what the decoder's last step put there
            d_loss.backward()
            disc_optimizer.step()
            adv, feat = generator_losses(disc, audio, recon)
        if step < args.wave_steps:
            loss = wave
        else:
            loss = (spec["mel"] + spec["stft"] + args.wave_weight * wave + args.commitment * commit
                    + args.complex_weight * cplx + args.partials_weight * partials + args.click_weight * clicks
                    + args.adversarial_weight * adv + args.feature_weight * feat)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % args.log_every == 0:
            values = {k: D.all_reduce_mean(v).item() for k, v in
                      {"loss": loss, "mel": spec["mel"], "stft": spec["stft"], "wave": wave,
                       "commit": commit, "complex": cplx, "partials": partials, "clicks": clicks,
                       "disc": d_loss, "adversarial": adv, "features": feat,
                       "grad_norm": grad_norm}.items()}
            log({"step": step, **{k: round(v, 5) for k, v in values.items()},
                 "sec_per_step": round(time.monotonic() - t0, 3)})
        quantized = step > args.quantize_after or args.decoder_only
        if info.is_main and quantized and (step % args.eval_every == 0 or step == args.steps):
            metrics = evaluate(model, spectral, eval_audio, originals)
            better = improved(metrics, best, args.select)
            if better is not None:
                best = better
                model.save_pretrained(args.out / "best")
            log({"step": step, "eval": {k: round(v, 5) for k, v in metrics.items()},
                 "best": {"judge": round(best[0], 5), "spectral": round(best[1], 5)}})
        out_of_time = clock.out_of_time()
        if out_of_time or step == args.steps or clock.checkpoint_due():
            D.save_checkpoint(ckpt_path, model, optimizer, step, {"best_judge": best[0], "best_spectral": best[1]})
            if disc is not None:
                D.save_checkpoint(args.out / "discriminator.pt", disc, disc_optimizer, step)
            clock.checkpointed()
        if out_of_time:
            break
    log({"event": "end", "step": step, "best_judge": best[0], "best_spectral": best[1]})
    del ddp_model, ddp_disc  # free DDP's reducer and its pending gloo work before the process group goes,
    gc.collect()  # else a rank sometimes aborts at exit ("terminate called without an active exception")
    if info.is_main and args.export is not None:
        best_dir = args.out / "best"
        source = AudioTokenizer.from_pretrained(best_dir) if best_dir.is_dir() else model
        source.save_pretrained(args.export)
        log({"event": "export", "to": str(args.export)})
    D.barrier()
    D.cleanup()


if __name__ == "__main__":
    main()
