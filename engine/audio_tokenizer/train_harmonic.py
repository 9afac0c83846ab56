"""Train the harmonic decoder (harmonic.py) on a trained codec's frozen tokens, one process or torchrun.

    python -m engine.audio_tokenizer.train_harmonic --init weights/audio_tokenizer --out runs/harmonic
    torchrun --nproc_per_node 2 -m engine.audio_tokenizer.train_harmonic --init weights/audio_tokenizer ...

The encoder and codebooks of `--init` are kept exactly (so its tokens, every token cache and the
generator stay valid); the decoder is replaced by a harmonic one and trained alone. Supervision is
what the world's renderer used for each clip (`voice_targets`): every object's pitch and peak
amplitude at each latent frame's centre and its shape, i.e. its timbre; voice slots are ordered by
pitch. No waveform loss is needed: synthesis from the right controls is the world's hum, up to the
wavetable's interpolation. Each rank encodes a pool of `--pool` training clips once (disjoint seeds;
encoding dominates a step otherwise) and draws batches from it.

The run resumes from `<out>/checkpoint.pt`; every `--eval-every` steps rank 0 decodes eval-split
clips and asks the judge what it hears kept: each voice's timbre and its pitch within 0.5 semitone.
The best model by (timbre kept, pitch kept) goes to `<out>/best/`, and `--export` copies it to the
shipped folder at the end. The shipped run is in README.md ("Harmonic decoder").
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio_tokenizer.model import AudioTokenizer
from engine.eval import compare_audio_readings, judge_audio
from engine.training import distributed as D
from engine.training.data import audio_batch, eval_seeds
from engine.training.run import JsonLog, RunClock, set_learning_rate, warmup_cosine
from engine.world import sample
from engine.world.palette import LOUDNESS, PEAK, SAMPLES_PER_FRAME, TIMBRES, pitch
from engine.world.render_audio import TABLE_SIZE, mix_audio
from engine.world.scene import Scene

SHAPES = tuple(TIMBRES)  # timbre id i is the shape SHAPES[i]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init", type=Path, required=True,
                   help="a trained codec (its encoder and codebooks stay); one with a harmonic decoder "
                        "already is trained further (its width and blocks win)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--blocks", type=int, default=6)
    p.add_argument("--pool", type=int, default=4096, help="training clips encoded once per rank")
    p.add_argument("--batch-size", type=int, default=32, help="clips per rank per step")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--pitch-weight", type=float, default=10.0, help="L1 on log2 Hz of the voices present")
    p.add_argument("--amplitude-weight", type=float, default=10.0, help="L1 on every slot's amplitude")
    p.add_argument("--timbre-weight", type=float, default=0.3, help="cross-entropy of the voices' timbres")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (and export) after this long; 0 = none")
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-clips", type=int, default=64)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed-offset", type=int, default=3_000_000, help="first world seed of the pools")
    p.add_argument("--export", type=Path, default=None, help="save the best model here at the end")
    p.add_argument("--device", default=None)
    return p.parse_args(argv)


def timbre_partials() -> torch.Tensor:
    """(K, 8) the world's partial amplitudes per timbre, scaled like its wavetables (peak 1)."""
    phase = 2 * np.pi * np.arange(TABLE_SIZE + 1) / TABLE_SIZE  # the wavetables' sampling
    rows = []
    for shape in SHAPES:
        peak = np.abs(sum(a * np.sin(n * phase) for n, a in TIMBRES[shape].items())).max()
        rows.append([TIMBRES[shape].get(n, 0.0) / peak for n in range(1, 9)])
    return torch.tensor(rows, dtype=torch.float32)


def mix_scale(scene: Scene) -> float:
    """The factor render_audio scaled this scene's mix by (1 unless it peaked above PEAK)."""
    peak = np.abs(mix_audio(scene)).max()
    return float(PEAK / peak) if peak > PEAK else 1.0


def voice_targets(scene: Scene, frames: int, hop: int, voices: int) -> tuple[torch.Tensor, torch.Tensor]:
    """((frames, voices, 2) log2 Hz and peak amplitude, (frames, voices) timbre id) at each latent
    frame's centre, slots ordered by pitch (low first); a slot with no object has amplitude 0."""
    at = hop * np.arange(frames) + hop / 2
    centres = SAMPLES_PER_FRAME * np.arange(len(scene.objects[0].radii)) + SAMPLES_PER_FRAME / 2
    scale = mix_scale(scene)
    heights = np.stack([np.interp(at, centres, o.trajectory[:, 1]) for o in scene.objects])  # (O, frames)
    radii = np.stack([np.interp(at, centres, o.radii) for o in scene.objects])
    shapes = np.array([SHAPES.index(o.shape) for o in scene.objects])
    log2_hz = np.log2(pitch(heights))
    order = np.argsort(log2_hz, axis=0, kind="stable")[:voices]  # (slots, frames): object per slot
    frame = np.arange(frames)
    controls, timbre = torch.zeros(frames, voices, 2), torch.zeros(frames, voices, dtype=torch.long)
    slots = order.shape[0]
    controls[:, :slots, 0] = torch.from_numpy(log2_hz[order, frame].T).float()
    controls[:, :slots, 1] = torch.from_numpy((LOUDNESS[0] + LOUDNESS[1] * radii[order, frame].T) * scale).float()
    timbre[:, :slots] = torch.from_numpy(shapes[order].T)
    return controls, timbre


@torch.no_grad()
def encode_pool(model: AudioTokenizer, seeds: list[int], chunk: int = 32) -> dict[str, torch.Tensor]:
    """Quantized latents (N, D, T) as float16 and voice targets of the clips of `seeds`."""
    latents, controls, timbres = [], [], []
    for i in range(0, len(seeds), chunk):
        clips = [sample(s) for s in seeds[i:i + chunk]]
        audio = torch.stack([torch.from_numpy(c.audio)[None] for c in clips])
        latent = model.quantizer.dequantize(model.encode(audio))  # (B, D, T)
        latents.append(latent.half())
        for clip in clips:
            c, k = voice_targets(clip.scene, latent.shape[-1], model.config.hop, model.config.harmonic_voices)
            controls.append(c)
            timbres.append(k)
    return {"latent": torch.cat(latents), "controls": torch.stack(controls), "timbre": torch.stack(timbres)}


def losses(decoder: torch.nn.Module, bank: torch.Tensor, latent: torch.Tensor, controls: torch.Tensor,
           timbre: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-term losses of one batch: pitch and timbre where a voice is, amplitude everywhere, and the
    timbre bank against the world's partials."""
    c = decoder(latent)  # VoiceControls, (B, T, V) each (logits (B, T, V, K))
    present = (controls[..., 1] > 0).float()
    count = present.sum().clamp(min=1.0)
    ce = F.cross_entropy(c.timbre_logits.flatten(0, 2), timbre.flatten(), reduction="none")
    return {
        "pitch": ((c.log2_hz - controls[..., 0]).abs() * present).sum() / count,
        "amplitude": (c.amplitude - controls[..., 1]).abs().mean(),
        "timbre": (ce * present.flatten()).sum() / count,
        "timbre_acc": ((c.timbre_logits.argmax(-1) == timbre).float() * present).sum() / count,
        "bank": (bank - targets).abs().mean(),
    }


@torch.no_grad()
def evaluate(model: AudioTokenizer, audio: torch.Tensor, originals: list) -> dict[str, float]:
    """Timbre kept, pitch within 0.5 semitone and the median pitch error, per voice, on eval clips."""
    model.eval()
    recon = model.decode(model.encode(audio), audio.shape[-1]).cpu().numpy()
    errors, timbres = [], []
    for original, clip in zip(originals, recon, strict=True):
        e, t, _ = compare_audio_readings(original, judge_audio(clip[0], model.config.sample_rate))
        errors += e
        timbres += t
    model.decoder.train()  # the encoder and codebooks stay in eval mode: no codebook updates
    errors = np.array(errors)
    return {"timbre_kept": float(np.mean(timbres)), "pitch_kept": float(np.mean(errors <= 0.5)),
            "pitch_median_semitones": float(np.median(errors))}


def build_model(init: Path, width: int, blocks: int) -> AudioTokenizer:
    """The `init` codec with a fresh harmonic decoder (same seed on every rank)."""
    base = AudioTokenizer.from_pretrained(init)
    if base.config.decoder == "harmonic":
        return base
    torch.manual_seed(0)
    model = AudioTokenizer(replace(base.config, decoder="harmonic", harmonic_width=width, harmonic_blocks=blocks,
                                   refiner_blocks=0))
    kept = {k: v for k, v in base.state_dict().items() if not k.startswith("decoder.")}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    if unexpected or not all(k.startswith("decoder.") for k in missing):
        raise ValueError(f"cannot keep the encoder and codebooks: missing {missing}, unexpected {unexpected}")
    return model


class _Controls(torch.nn.Module):
    """The decoder's controls as a module's forward, for DDP."""

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, latent: torch.Tensor):
        return self.decoder.controls(latent)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = D.setup(args.device)
    model = build_model(args.init, args.width, args.blocks).to(info.device)
    model.encoder.requires_grad_(False)
    model.quantizer.requires_grad_(False)
    model.encoder.eval()
    model.quantizer.eval()
    decoder = model.decoder
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=args.lr, weight_decay=0.01)
    ckpt_path = args.out / "checkpoint.pt"
    step, extra = D.load_checkpoint(ckpt_path, model, optimizer)
    best = tuple(extra.get("best", (-1.0, -1.0)))
    log = JsonLog(args.out, info.is_main)
    t0 = time.monotonic()
    pool = encode_pool(model, D.rank_seeds(0, args.pool, info, offset=args.seed_offset))
    eval_audio = audio_batch(eval_seeds(args.eval_clips)) if info.is_main else None
    originals = [judge_audio(a[0].numpy()) for a in eval_audio] if info.is_main else []
    log({"event": "start", "step": step, "world_size": info.world_size, "params": model.num_parameters(),
         "pool_minutes": round((time.monotonic() - t0) / 60, 2), "config": asdict(model.config)})
    ddp = D.wrap_ddp(_Controls(decoder), info)
    targets = timbre_partials().to(info.device)
    clock = RunClock(args.max_minutes, args.ckpt_minutes)
    while step < args.steps:
        set_learning_rate(optimizer, warmup_cosine(step, args.steps, args.warmup, args.lr, floor=0.05))
        generator = torch.Generator().manual_seed(step * info.world_size + info.rank)
        idx = torch.randint(0, pool["latent"].shape[0], (args.batch_size,), generator=generator)
        terms = losses(ddp, decoder.bank, pool["latent"][idx].float().to(info.device),
                       pool["controls"][idx].to(info.device), pool["timbre"][idx].to(info.device), targets)
        loss = (args.pitch_weight * terms["pitch"] + args.amplitude_weight * terms["amplitude"]
                + args.timbre_weight * terms["timbre"] + terms["bank"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % args.log_every == 0:
            values = {k: round(D.all_reduce_mean(v.detach()).item(), 5) for k, v in terms.items()}
            log({"step": step, "loss": round(loss.item(), 5), **values})
        if info.is_main and (step % args.eval_every == 0 or step == args.steps):
            metrics = evaluate(model, eval_audio.to(info.device), originals)
            key = (metrics["timbre_kept"], metrics["pitch_kept"])
            if key > best:
                best = key
                model.save_pretrained(args.out / "best")
            log({"step": step, "eval": {k: round(v, 5) for k, v in metrics.items()}, "best": list(best)})
        out_of_time = clock.out_of_time()
        if out_of_time or step == args.steps or clock.checkpoint_due():
            D.save_checkpoint(ckpt_path, model, optimizer, step, {"best": list(best)})
            clock.checkpointed()
        if out_of_time:
            break
    log({"event": "end", "step": step, "best": list(best)})
    del ddp
    gc.collect()
    if info.is_main and args.export is not None:
        best_dir = args.out / "best"
        (AudioTokenizer.from_pretrained(best_dir) if best_dir.is_dir() else model).save_pretrained(args.export)
        log({"event": "export", "to": str(args.export)})
    D.barrier()
    D.cleanup()


if __name__ == "__main__":
    main()
