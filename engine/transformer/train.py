"""Train the generator on a task mixture over the token cache, on one process or under torchrun.

    python -m engine.transformer.dataset --weights weights --clips 20000 --out runs/token_cache
    python -m engine.transformer.train --weights weights --cache runs/token_cache --out runs/transformer \
        --val-cache runs/token_cache_eval --steps 20000
    torchrun --nproc_per_node 8 -m engine.transformer.train --cache runs/token_cache --out runs/transformer

The shipped `weights/transformer` (2 CPU processes, ~2.65 s/step, 2,400 steps, resumed once):
    torchrun --nproc_per_node 2 -m engine.transformer.dataset --weights weights --clips 4000 --out runs/token_cache_v2
    torchrun --nproc_per_node 2 -m engine.transformer.dataset --weights weights --clips 256 --split eval \
        --out runs/token_cache_eval_v2
    torchrun --nproc_per_node 2 -m engine.transformer.train --weights weights --cache runs/token_cache_v2 \
        --val-cache runs/token_cache_eval_v2 --out runs/transformer/main --no-export --steps 2400 \
        --batch-size 12 --d-model 256 --layers 4 --heads 4 --lr 1e-3 --warmup 200 --eval-every 400 \
        --eval-examples 12 --task-weights "text_to_video=0.3,text_to_image=0.03,unconditional=0.03,video_to_audio=0.1"
    (then runs/transformer/main/best -> weights/transformer)

`--init DIR` starts from saved weights (config.json + safetensors; their config wins over the width
flags); a fresh optimizer then warms up again, so give it a peak lr near where the old run ended.

Every row of a batch is one task instance: the task is drawn from `--task-weights`, the clip
uniformly from the cache, and the sequence laid out by `engine.tasks.build_sequence` (VideoPoet
layout); `collate` pads a mixed batch. Loss: next-token cross-entropy on the output tokens that are
not given (in/outpainting's kept tokens and image_to_video/extend's first frame carry none).
A `--masked-share` of the video-output rows trains the same backbone for MAGVIT's masked decoding
instead (`masked_row`): a cosine-schedule share of the unknown output tokens becomes [MASK], the
known ones stay in place (COMMIT), the row attends bidirectionally and each masked position
predicts its own token. Their losses are logged as `masked_<task>`.
`--object-weight W` counts the target tokens in cells an object covers W times in the loss
(`object_focus.py`; logged and held-out losses stay plain means), in the tasks `--object-tasks`
names (default: all). Training runs under bf16 autocast
on CUDA and on CPUs with native bf16 (`--no-amp` turns it off).
Captions are dropped (text slots hidden) with probability `--caption-dropout` for tasks whose
prompt is required and `--optional-caption-dropout` for tasks where the user may leave it out, so
classifier-free guidance and prompt-free requests both have training signal.

Draws come from a generator seeded by (seed, step, rank), so ranks see different data and a resumed
run sees exactly what it would have seen. Rank 0 logs one JSON line per `--log-every` steps (loss,
per-task losses, tokens/s) to stdout and `<out>/log.jsonl`, keeps `<out>/checkpoint.pt`
(resumable), evaluates the per-task loss on `--val-cache` (eval-split clips) every `--eval-every`
steps keeping the best model in `<out>/best/`, and at the end copies the best (or last) model to
`--export` (default `<weights>/transformer`) with save_pretrained.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist

from engine.components import config_to_dict
from engine.device import bf16_autocast_pays
from engine.masks import OUTPAINT_PRESETS, outpaint_mask, pixel_to_token_mask
from engine.tasks import IGNORE, build_sequence, collate, get_task
from engine.tasks.sequence import Sequence
from engine.training import distributed as D
from engine.training.run import JsonLog, RunClock, eval_and_checkpoint, export_weights, set_learning_rate, warmup_cosine
from engine.transformer.dataset import TokenCache
from engine.transformer.model import Transformer, TransformerConfig
from engine.transformer.object_focus import ObjectFocus
from engine.transformer.vocab import MASK_INDEX, Vocab

TRAIN_TASKS: tuple[str, ...] = (
    "text_to_video", "text_to_image", "image_to_video", "extend", "interpolate", "inpaint", "outpaint", "stylize",
    "video_to_audio", "audio_to_video", "unconditional",
)
DEFAULT_WEIGHTS = {
    "text_to_video": 0.22, "text_to_image": 0.04, "image_to_video": 0.09, "extend": 0.09, "interpolate": 0.05,
    "inpaint": 0.07, "outpaint": 0.07, "stylize": 0.09, "video_to_audio": 0.11, "audio_to_video": 0.09,
    "unconditional": 0.06,
}
OPTIONAL_PROMPT = {"image_to_video", "extend", "interpolate", "inpaint", "outpaint", "audio_to_video"}
IMAGE_SHARE = 0.2  # in/outpainting examples made on a single image (latent frame 0)


def _task_items(text: str | None, flag: str) -> list[tuple[str, str]]:
    """"a=1,b" -> [("a", "1"), ("b", "")], every name checked against TRAIN_TASKS."""
    items = [(name.strip(), value) for name, _, value in (item.partition("=") for item in (text or "").split(","))
             if name.strip()]
    unknown = sorted({name for name, _ in items} - set(TRAIN_TASKS))
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)} in {flag}; known: {', '.join(TRAIN_TASKS)}")
    return items


def parse_task_weights(text: str | None) -> dict[str, float]:
    """"text_to_video=0.3,stylize=0.2" -> weights over TRAIN_TASKS (unnamed tasks keep the default)."""
    weights = dict(DEFAULT_WEIGHTS) | {name: float(value) for name, value in _task_items(text, "--task-weights")}
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("task weights must be >= 0 and not all zero")
    return weights


def parse_task_list(text: str | None) -> frozenset[str] | None:
    """"text_to_video,stylize" -> those task names; None or empty -> None (every task)."""
    return frozenset(name for name, _ in _task_items(text, "--object-tasks")) or None


# ---- examples ----------------------------------------------------------------------------------
def _random_box_mask(shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    """(t, h, w) token mask: a box of random size, static or moving one token per latent frame."""
    t, h, w = shape
    bh = int(torch.randint(1, h + 1, (1,), generator=g))
    bw = int(torch.randint(1, w + 1, (1,), generator=g))
    top = int(torch.randint(0, h - bh + 1, (1,), generator=g))
    left = int(torch.randint(0, w - bw + 1, (1,), generator=g))
    dy, dx = (torch.randint(-1, 2, (2,), generator=g).tolist() if torch.rand(1, generator=g) < 0.5 else (0, 0))
    mask = torch.zeros(shape, dtype=torch.bool)
    for k in range(t):
        y = min(max(top + dy * k, 0), h - bh)
        x = min(max(left + dx * k, 0), w - bw)
        mask[k, y:y + bh, x:x + bw] = True
    return mask


def make_example(cache: TokenCache, index: int, task: str, g: torch.Generator, vocab: Vocab, *,
                 caption_dropout: float, optional_dropout: float) -> tuple[Sequence, torch.Tensor, torch.Tensor]:
    """One training sequence -> (Sequence with targets, text (Lt, D), text_mask (Lt,) all False = no prompt)."""
    info = cache.info
    L, D = info["text_max_tokens"], info["text_dim"]
    video = cache.video[index]
    text, text_mask = cache.text_of(index)
    kwargs: dict = {}
    if task == "text_to_video" or task == "unconditional":
        output = video
    elif task == "text_to_image":
        output = video[:1]
    elif task == "image_to_video":
        output, kwargs = video, {"input_video": video[:1]}
    elif task == "extend":
        output, kwargs = cache.ext_next[index], {"input_video": cache.ext_prev[index]}
    elif task == "interpolate":  # first and last pixel frames, each encoded as an image
        output, kwargs = video, {"input_video": torch.cat((video[:1], cache.last_image[index]))}
    elif task in ("inpaint", "outpaint"):
        source = video[:1] if torch.rand(1, generator=g) < IMAGE_SHARE else video
        if task == "inpaint":
            mask = _random_box_mask(tuple(source.shape), g)
        else:
            preset = OUTPAINT_PRESETS[int(torch.randint(len(OUTPAINT_PRESETS), (1,), generator=g))]
            pixels = outpaint_mask(preset)
            frames = 1 + (source.shape[0] - 1) * info["temporal_factor"]
            mask = pixel_to_token_mask(pixels[None].repeat(frames, 0), info["temporal_factor"],
                                       info["spatial_factor"])
        hidden = source.masked_fill(mask, MASK_INDEX)
        output, kwargs = source, {"input_video": hidden, "known": ~mask}
    elif task == "stylize":
        output, kwargs = cache.styled[index], {"control_video": cache.control[index]}
        text, text_mask = cache.text_of(index, styled=True)
    elif task == "video_to_audio":
        output, kwargs = cache.audio[index], {"input_video": video}
    elif task == "audio_to_video":
        output, kwargs = video, {"input_audio": cache.audio[index]}
    else:
        raise ValueError(f"no training examples for task {task!r}")
    has_text = task not in ("video_to_audio", "unconditional")
    seq = build_sequence(task, vocab, output_shape=tuple(output.shape), text_len=L if has_text else 0,
                         output=output, **kwargs)
    drop = optional_dropout if task in OPTIONAL_PROMPT else caption_dropout
    if not has_text:
        return seq, torch.zeros(L, D), torch.zeros(L, dtype=torch.bool)
    if torch.rand(1, generator=g) < drop:
        text_mask = torch.zeros_like(text_mask)
    return seq, text, text_mask


def masked_row(seq: Sequence, g: torch.Generator) -> tuple[Sequence, torch.Tensor]:
    """Turn a sequence into a masked-mode (MAGVIT / MaskGIT) row -> (sequence, targets (L,)).

    A cosine-schedule share of the unknown output tokens becomes [MASK]; the known ones (first
    frame, kept region) stay in place inside the canvas (COMMIT conditioning). The whole row attends
    bidirectionally (prefix = the row) and each masked position predicts its own token.
    """
    unknown = (~seq.known).nonzero().squeeze(1) + seq.output.start  # (U,) sequence positions
    ratio = math.cos(math.pi / 2 * float(torch.rand(1, generator=g)))
    hidden = unknown[torch.randperm(len(unknown), generator=g)[:max(1, math.ceil(ratio * len(unknown)))]]
    targets = torch.full_like(seq.ids, IGNORE)
    targets[hidden] = seq.ids[hidden]
    return replace(seq, ids=seq.ids.index_fill(0, hidden, seq.vocab.mask), prefix_len=len(seq)), targets


def make_batch(cache: TokenCache, vocab: Vocab, tasks: list[str], probs: torch.Tensor, batch_size: int,
               g: torch.Generator, caption_dropout: float, optional_dropout: float, masked_share: float = 0.0,
               focus: ObjectFocus | None = None):
    """-> (Batch, text (B, Lt, D), text_mask (B, Lt), row names: the task, "masked_"-prefixed for masked rows).

    All rows of a batch share one task, drawn from `probs`: tasks differ in length (320 to 817
    tokens), and a mixed batch would pad every row to its longest one. With `focus`, the batch
    carries per-target loss weights (`Batch.weights`) that favour the objects' tokens.
    """
    seqs, targets, texts, masks, names, weights = [], [], [], [], [], []
    drawn = tasks[int(torch.multinomial(probs, 1, generator=g))]
    for _ in range(batch_size):
        task = drawn
        index = int(torch.randint(len(cache), (1,), generator=g))
        seq, text, text_mask = make_example(cache, index, task, g, vocab, caption_dropout=caption_dropout,
                                            optional_dropout=optional_dropout)
        target = None
        if seq.modality == "video" and torch.rand(1, generator=g) < masked_share:
            (seq, target), task = masked_row(seq, g), f"masked_{task}"
        if focus is not None:
            weights.append(focus.row_weights(seq, index, masked=target is not None))
        seqs.append(seq)
        targets.append(target)
        texts.append(text)
        masks.append(text_mask)
        names.append(task)
    batch = collate(seqs, targets)
    if focus is not None:
        batch.weights = torch.nn.utils.rnn.pad_sequence(weights, batch_first=True, padding_value=1.0)
    return batch, torch.stack(texts), torch.stack(masks), names


def batch_losses(model, batch, text, text_mask, device, amp: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> (loss to train on, per-row loss sums (B,), per-row target counts (B,)).

    The loss is the mean over targets, weighted by `batch.weights` when the batch has them; the sums
    and counts stay unweighted, so logged and held-out losses mean the same with or without them."""
    ids, grid, targets = batch.ids.to(device), batch.grid.to(device), batch.targets.to(device)
    context = torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext()
    with context:
        per_token = model(ids, batch.prefix_len.to(device), text.to(device), text_mask.to(device), grid,
                          targets=targets)  # (B, L), 0 where there is no target
    has_target = targets != IGNORE
    counts, sums = has_target.sum(1), per_token.sum(1)
    if batch.weights is None:
        return sums.sum() / counts.sum().clamp(min=1), sums.detach(), counts
    w = batch.weights.to(device) * has_target  # (B, L)
    return (per_token * w).sum() / w.sum().clamp(min=1), sums.detach(), counts


def stat_names(tasks: list[str], masked: bool) -> list[str]:
    """The loss columns: every task, then "masked_<task>" for the video tasks when masked rows train."""
    return tasks + ([f"masked_{t}" for t in tasks if get_task(t).output == "video"] if masked else [])


def task_stats(names: list[str], row_names: list[str], sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(2, len(names)) loss sums and target counts per column."""
    out = torch.zeros(2, len(names), dtype=torch.float64)
    for row, name in enumerate(row_names):
        out[0, names.index(name)] += float(sums[row])
        out[1, names.index(name)] += float(counts[row])
    return out


@torch.no_grad()
def evaluate(model: Transformer, cache: TokenCache, vocab: Vocab, tasks: list[str], device: torch.device,
             examples_per_task: int, batch_size: int, amp: bool, masked: bool) -> dict[str, float]:
    """Per-task held-out loss on fixed examples (same draws every time), captions kept; with
    `masked`, also each video task's masked-mode loss on the same examples."""
    was_training = model.training
    model.eval()
    names = stat_names(tasks, masked)
    stats = torch.zeros(2, len(names), dtype=torch.float64)
    for name in names:
        task = name.removeprefix("masked_")
        g = torch.Generator().manual_seed(1234)
        rows = []
        for i in range(examples_per_task):
            seq, text, mask = make_example(cache, i % len(cache), task, g, vocab, caption_dropout=0.0,
                                           optional_dropout=0.0)
            seq, target = masked_row(seq, g) if name != task else (seq, None)
            rows.append((seq, target, text, mask))
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            batch = collate([r[0] for r in chunk], [r[1] for r in chunk])
            text, mask = torch.stack([r[2] for r in chunk]), torch.stack([r[3] for r in chunk])
            _, sums, counts = batch_losses(model, batch, text, mask, device, amp)
            stats += task_stats(names, [name] * len(chunk), sums, counts)
    model.train(was_training)
    per_task = {t: float(stats[0, i] / stats[1, i]) for i, t in enumerate(names) if stats[1, i] > 0}
    return {"val_loss": float(stats[0].sum() / stats[1].sum()), **{f"val_{k}": v for k, v in per_task.items()}}


def longest_sequence(cache: TokenCache, vocab: Vocab) -> int:
    """Length of the longest sequence any task builds from this cache (sets max_seq_len)."""
    g = torch.Generator().manual_seed(0)
    return max(len(make_example(cache, 0, t, g, vocab, caption_dropout=0, optional_dropout=0)[0]) for t in TRAIN_TASKS)


def learning_rate(step: int, args: argparse.Namespace) -> float:
    return warmup_cosine(step, args.steps, args.warmup, args.lr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("weights"),
                   help="the tokenizers the cache must come from (checked when present) and the default export")
    p.add_argument("--cache", type=Path, default=Path("runs/token_cache"))
    p.add_argument("--val-cache", type=Path, default=None, help="an eval-split cache for held-out losses")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--export", type=Path, default=None, help="default <weights>/transformer")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=16, help="sequences per rank per step")
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--task-weights", default=None, help='e.g. "text_to_video=0.3,stylize=0.2"')
    p.add_argument("--caption-dropout", type=float, default=0.1)
    p.add_argument("--optional-caption-dropout", type=float, default=0.5)
    p.add_argument("--object-weight", type=float, default=1.0,
                   help="loss weight of video tokens in cells an object covers (1 = plain mean; object_focus.py)")
    p.add_argument("--object-tasks", default=None,
                   help='the tasks --object-weight applies to, e.g. "text_to_video,stylize" (default: all)')
    p.add_argument("--masked-share", type=float, default=0.3,
                   help="share of video-output rows trained in masked (MAGVIT) mode; 0 = autoregressive only")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--eval-examples", type=int, default=32, help="held-out examples per task")
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop and checkpoint after this")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--allow-stale-cache", action="store_true",
                   help="train even when the cache came from other tokenizer weights than --weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", type=Path, default=None,
                   help="start from these weights (config.json + safetensors; its config wins over the flags)")
    p.add_argument("--device", default=None)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="bf16 autocast on CUDA, and on CPUs with native bf16 (engine.device.bf16_autocast_pays)")
    defaults = TransformerConfig()
    p.add_argument("--d-model", type=int, default=defaults.d_model)
    p.add_argument("--layers", type=int, default=defaults.n_layers)
    p.add_argument("--heads", type=int, default=defaults.n_heads)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--max-seq-len", type=int, default=0, help="0: the longest task sequence of the cache")
    return p.parse_args(argv)


def model_config(args: argparse.Namespace, cache: TokenCache, vocab: Vocab) -> TransformerConfig:
    info = cache.info
    max_len = args.max_seq_len or longest_sequence(cache, vocab)
    return TransformerConfig(video_vocab=info["video_vocab"], audio_vocab_per_level=info["audio_vocab_per_level"],
                             audio_levels=info["audio_levels"], d_model=args.d_model, n_layers=args.layers,
                             n_heads=args.heads, max_seq_len=max_len, text_dim=info["text_dim"],
                             grid_size=tuple(info["video_latent"]), dropout=args.dropout)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = D.setup(args.device)
    cache = TokenCache(args.cache)
    if not args.allow_stale_cache:
        cache.check_matches_weights(args.weights)
    vocab = cache.vocab
    weights = parse_task_weights(args.task_weights)
    tasks = list(TRAIN_TASKS)
    probs = torch.tensor([weights[t] for t in tasks], dtype=torch.float64)
    probs /= probs.sum()
    val_cache = TokenCache(args.val_cache) if args.val_cache is not None and info.is_main else None
    focus = (ObjectFocus.for_cache(cache, args.object_weight, parse_task_list(args.object_tasks))
             if args.object_weight != 1 else None)

    torch.manual_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts them)
    if args.init is not None:
        model = Transformer.from_pretrained(args.init).train().to(info.device)
        config = model.config
        cache.check_matches_model(config)
    else:
        config = model_config(args, cache, vocab)
        model = Transformer(config).to(info.device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    ckpt_path = args.out / "checkpoint.pt"
    step, extra = D.load_checkpoint(ckpt_path, model, optimizer) if args.resume else (0, {})
    if extra and extra.get("config") != config_to_dict(config):
        raise ValueError(f"{ckpt_path} was trained with {extra['config']}, not {config_to_dict(config)}")
    best = float(extra.get("best_val_loss", math.inf))
    ddp = D.wrap_ddp(model, info)
    amp = args.amp and bf16_autocast_pays(info.device)
    log = JsonLog(args.out, info.is_main)
    log({"event": "start", "step": step, "world_size": info.world_size, "clips": len(cache),
         "params": model.num_parameters(), "config": config_to_dict(config), "task_weights": weights})

    def checkpoint() -> None:
        D.save_checkpoint(ckpt_path, model, optimizer, step,
                          {"config": config_to_dict(config), "best_val_loss": best,
                           "args": {k: str(v) for k, v in vars(args).items()}})

    def evaluate_now() -> None:
        nonlocal best
        if not info.is_main or val_cache is None:
            return
        metrics = evaluate(model, val_cache, vocab, tasks, info.device, args.eval_examples, args.batch_size, amp,
                           masked=args.masked_share > 0)
        if metrics["val_loss"] < best:
            best = metrics["val_loss"]
            model.save_pretrained(args.out / "best")
        log({"step": step, "event": "eval", **metrics, "best_val_loss": best})

    clock = RunClock(args.max_minutes, args.ckpt_minutes)
    last_log = time.monotonic()
    names = stat_names(tasks, args.masked_share > 0)
    window = torch.zeros(2, len(names), dtype=torch.float64)
    window_tokens = 0
    ddp.train()
    while step < args.steps:
        set_learning_rate(optimizer, learning_rate(step, args))
        g = torch.Generator().manual_seed(((args.seed * 1_000_003 + step) * info.world_size + info.rank) % 2**63)
        batch, text, text_mask, row_names = make_batch(cache, vocab, tasks, probs, args.batch_size, g,
                                                       args.caption_dropout, args.optional_caption_dropout,
                                                       args.masked_share, focus)
        loss, sums, counts = batch_losses(ddp, batch, text, text_mask, info.device, amp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip or math.inf)
        optimizer.step()
        step += 1
        window += task_stats(names, row_names, sums, counts)
        window_tokens += int(batch.ids.numel())
        if step % args.log_every == 0 or step == args.steps:
            stats = window.clone()
            if dist.is_initialized():
                dist.all_reduce(stats)
            per_task = {f"loss_{t}": round(float(stats[0, i] / stats[1, i]), 4)
                        for i, t in enumerate(names) if stats[1, i] > 0}
            elapsed = time.monotonic() - last_log
            log({"step": step, "loss": float(stats[0].sum() / stats[1].sum().clamp(min=1)), **per_task,
                 "grad_norm": float(grad_norm), "lr": learning_rate(step - 1, args),
                 "tokens_per_s": round(window_tokens * info.world_size / max(elapsed, 1e-9)),
                 "minutes": round(clock.minutes(), 2)})
            window.zero_()
            window_tokens, last_log = 0, time.monotonic()
        if eval_and_checkpoint(step, args.steps, args.eval_every, clock, evaluate_now, checkpoint):
            break
    if info.is_main:
        model.save_pretrained(args.out / "last")
        export = None if args.no_export else (args.export or args.weights / "transformer")
        if export is not None:
            source = args.out / ("best" if (args.out / "best").is_dir() else "last")
            export_weights(source, export)
            log({"event": "export", "from": str(source), "to": str(export), "step": step})
    del ddp  # free DDP's reducer and its pending gloo work before the process group goes,
    gc.collect()  # else a rank sometimes aborts at exit ("terminate called without an active exception")
    D.cleanup()


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    main()
