"""The token cache: world clips tokenized once, so the generator trains on tokens, not pixels.

    python -m engine.transformer.dataset --weights weights --clips 20000 --out runs/token_cache
    torchrun --nproc_per_node 2 -m engine.transformer.dataset --clips 20000 --out runs/token_cache
    python -m engine.transformer.dataset --weights weights --clips 512 --split eval --out runs/token_cache_eval
    python -m engine.transformer.dataset --weights weights --audio-from runs/token_cache --out runs/token_cache_a2

Tokenizing on the fly costs a video tokenizer pass per clip per step on a 2-core CPU; the cache
costs it once. For every world seed it stores, as safetensors shards of `--shard-size` clips:

    video     (N, t, h, w)    the clip's video tokens (image_to_video uses latent frame 0: the
                              causal tokenizer encodes frame 0 alone, so it is the image's tokens)
    last_image (N, 1, h, w)   the clip's last frame encoded as an image (interpolate's end frame)
    ext_prev  (N, t', h, w)   tokens of the clip's first `window` frames  } extend: a half-clip
    ext_next  (N, t', h, w)   tokens of its last `window` frames          } context, then what follows
    control   (N, t, h, w)    tokens of the clip's silhouette control video (engine.structure)
    styled    (N, t, h, w)    tokens of the restyled twin of the clip (world.sample_pair)
    audio     (N, L, F)       the clip's audio tokens
    text, styled_text (N, Lmax, D) float16 per-token caption embeddings, zero padded (trimmed to the
                              longest caption of the shard; `TokenCache.text_of` pads to max_tokens)
    text_len, styled_text_len (N,)   real caption tokens ([CLS] .. [SEP])
    seeds     (N,)

`window` = 1 + 2 * temporal_factor frames (9 for the default tokenizer): ext_prev is frames 0..8 and
ext_next frames 8..16, so ext_next's first latent frame is frame 8 encoded as an image, exactly what
the Engine forces when it extends a video. Shards are written atomically and skipped when present,
so a killed build resumes; under torchrun rank r builds shards r, r + W, ...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from engine.components import WORLD_VERSION, config_to_dict
from engine.structure import control_video
from engine.training.data import video_to_tensor
from engine.transformer.vocab import Vocab
from engine.world import EVAL_SEED_START, sample_pair

CACHE_VERSION = 2
MANIFEST = "manifest.json"
CLIP_FRAMES, SIZE = 17, 64
TOKEN_FIELDS = ("video", "last_image", "ext_prev", "ext_next", "control", "styled", "audio")


def state_hash(module: torch.nn.Module) -> str:
    """A short hash of the weights a tokenizer encodes with (all but its decoder's): which tokens a cache holds.

    The decoder is left out so that a decoder-only fine-tune (same tokens, better pixels) keeps every
    cache and the generator trained on it valid.
    """
    h = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        if name.startswith("decoder."):
            continue
        h.update(name.encode())
        h.update(value.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


def describe(video_tokenizer: Any, audio_tokenizer: Any, text_encoder: Any) -> dict[str, Any]:
    """What a cache depends on: token shapes, vocabularies and the tokenizers' weight hashes."""
    tf = video_tokenizer.config.temporal_factor
    window = 1 + 2 * tf
    if 2 * window - 1 > CLIP_FRAMES:
        raise ValueError(f"a temporal factor of {tf} leaves no room for two extend windows in {CLIP_FRAMES} frames")
    return {
        "version": CACHE_VERSION,
        "world_version": WORLD_VERSION,
        "video_latent": list(video_tokenizer.latent_shape(CLIP_FRAMES, SIZE, SIZE)),
        "window_frames": window,
        "window_latent": list(video_tokenizer.latent_shape(window, SIZE, SIZE)),
        "temporal_factor": tf,
        "spatial_factor": video_tokenizer.config.spatial_factor,
        "video_vocab": int(video_tokenizer.vocab_size),
        "text_dim": int(text_encoder.config.dim),
        "text_max_tokens": int(text_encoder.config.max_tokens),
        "video_tokenizer": {"config": config_to_dict(video_tokenizer.config), "weights": state_hash(video_tokenizer)},
        "text_encoder": config_to_dict(text_encoder.config),
        **describe_audio(audio_tokenizer),
    }


def describe_audio(audio_tokenizer: Any) -> dict[str, Any]:
    """The manifest entries that depend on the audio tokenizer (`retokenize_audio` replaces them)."""
    config = audio_tokenizer.config
    return {
        "audio_latent": list(audio_tokenizer.latent_shape(config.clip_samples)),
        "audio_levels": int(config.levels),
        "audio_vocab_per_level": int(config.codebook_size),
        "audio_tokenizer": {"config": config_to_dict(config), "weights": state_hash(audio_tokenizer)},
    }


@torch.no_grad()
def encode_seeds(seeds: list[int], video_tokenizer: Any, audio_tokenizer: Any, text_encoder: Any,
                 window: int) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """Tokenize the stylisation pairs of `seeds` -> (tensors, captions, styled captions)."""
    pairs = [sample_pair(s) for s in seeds]
    first = torch.stack([video_to_tensor(a.video) for a, _ in pairs])  # (n, 3, 17, 64, 64)
    styled = torch.stack([video_to_tensor(b.video) for _, b in pairs])
    control = torch.stack([video_to_tensor(control_video(a.video)) for a, _ in pairs])
    sound = torch.stack([torch.from_numpy(a.audio)[None] for a, _ in pairs])  # (n, 1, 34000)
    video_device = next(video_tokenizer.parameters()).device
    audio_device = next(audio_tokenizer.parameters()).device

    def enc(x: torch.Tensor) -> torch.Tensor:
        return video_tokenizer.encode(x.contiguous().to(video_device))

    out = {
        "video": enc(first),
        "last_image": enc(first[:, :, -1:]),
        "ext_prev": enc(first[:, :, CLIP_FRAMES - 2 * window + 1:CLIP_FRAMES - window + 1]),
        "ext_next": enc(first[:, :, CLIP_FRAMES - window:]),
        "control": enc(control),
        "styled": enc(styled),
        "audio": audio_tokenizer.encode(sound.to(audio_device)),
    }
    out = {k: v.to(torch.int32).cpu() for k, v in out.items()}
    captions, styled_captions = [a.caption for a, _ in pairs], [b.caption for _, b in pairs]
    for key, texts in (("text", captions), ("styled_text", styled_captions)):
        emb = text_encoder.encode(texts)
        lengths = emb.mask.sum(1).to(torch.int32).cpu()
        out[key] = emb.tokens[:, :int(lengths.max())].to(torch.float16).cpu().contiguous()
        out[f"{key}_len"] = lengths
    out["seeds"] = torch.tensor(seeds, dtype=torch.int64)
    return out, captions, styled_captions


def _concat_text(parts: list[torch.Tensor]) -> torch.Tensor:
    width = max(p.shape[1] for p in parts)
    return torch.cat([torch.nn.functional.pad(p, (0, 0, 0, width - p.shape[1])) for p in parts])


def build_cache(out: str | Path, clips: int, video_tokenizer: Any, audio_tokenizer: Any, text_encoder: Any, *,
                start_seed: int = 0, shard_size: int = 256, batch_size: int = 16, rank: int = 0,
                world_size: int = 1, log: Any = print) -> Path:
    """Write (or complete) a cache of `clips` world seeds from `start_seed` into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = describe(video_tokenizer, audio_tokenizer, text_encoder)
    info.update({"clips": clips, "start_seed": start_seed, "shard_size": shard_size,
                 "shards": [shard_name(i) for i in range(-(-clips // shard_size))]})
    manifest = out / MANIFEST
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if old != info:
            raise ValueError(f"{out} holds a different cache ({MANIFEST} differs); use a new --out")
    elif rank == 0:
        _atomic_write(manifest, json.dumps(info, indent=2).encode())
    video_tokenizer.eval()
    audio_tokenizer.eval()
    for index in range(rank, len(info["shards"]), world_size):
        path = out / shard_name(index)
        if path.is_file():
            continue
        seeds = list(range(start_seed + index * shard_size, start_seed + min(clips, (index + 1) * shard_size)))
        parts, captions, styled_captions = [], [], []
        for chunk in range(0, len(seeds), batch_size):
            tensors, c, s = encode_seeds(seeds[chunk:chunk + batch_size], video_tokenizer, audio_tokenizer,
                                         text_encoder, info["window_frames"])
            parts.append(tensors)
            captions += c
            styled_captions += s
        shard = {k: (_concat_text if k in ("text", "styled_text") else torch.cat)([p[k] for p in parts])
                 for k in parts[0]}
        _write_shard(path, shard, {"captions": json.dumps(captions), "styled_captions": json.dumps(styled_captions)})
        log(json.dumps({"event": "shard", "shard": path.name, "clips": len(seeds)}))
    return out


def retokenize_audio(source: str | Path, out: str | Path, audio_tokenizer: Any, *, batch_size: int = 32,
                     log: Any = print) -> Path:
    """Copy the cache at `source` to `out` with its audio re-encoded by `audio_tokenizer`.

    The video tokens and caption embeddings are what makes a cache slow to build (six video
    tokenizer passes per clip); after an audio codec update they stay valid, so only the sound of
    every seed is rendered and encoded again. `out`'s manifest is written last: a killed run leaves
    no manifest, and running it again redoes the shards.
    """
    source, out = Path(source), Path(out)
    info = json.loads((source / MANIFEST).read_text())
    if (out / MANIFEST).is_file():
        raise ValueError(f"{out} already holds a cache; use a new --out")
    out.mkdir(parents=True, exist_ok=True)
    audio_tokenizer.eval()
    device = next(audio_tokenizer.parameters()).device
    for name in info["shards"]:
        with safe_open(str(source / name), framework="pt") as f:
            shard = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not iterable)
            metadata = f.metadata()
        seeds = shard["seeds"].tolist()
        codes = []
        for start in range(0, len(seeds), batch_size):
            chunk = seeds[start:start + batch_size]
            sound = torch.stack([torch.from_numpy(sample_pair(s)[0].audio)[None] for s in chunk])  # (n, 1, N)
            with torch.no_grad():
                codes.append(audio_tokenizer.encode(sound.to(device)).to(torch.int32).cpu())
        shard["audio"] = torch.cat(codes)
        _write_shard(out / name, shard, metadata)
        log(json.dumps({"event": "shard", "shard": name, "clips": len(seeds)}))
    info.update(describe_audio(audio_tokenizer))
    _atomic_write(out / MANIFEST, json.dumps(info, indent=2).encode())
    return out


def _write_shard(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Save a shard atomically (a killed build leaves no half-written shard to skip)."""
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp_path), metadata=metadata)
    os.replace(tmp_path, path)


def _atomic_write(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


class TokenCache:
    """All shards of a cache in memory: `cache.video[i]`, `cache.text[i]` (max_tokens, D) float, ..."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        manifest = self.folder / MANIFEST
        if not manifest.is_file():
            raise FileNotFoundError(f"{self.folder} has no {MANIFEST}: "
                                    "build it with python -m engine.transformer.dataset")
        self.info = json.loads(manifest.read_text())
        if self.info.get("version") != CACHE_VERSION or self.info.get("world_version") != WORLD_VERSION:
            raise ValueError(f"{self.folder} is a cache of version {self.info.get('version')} / world "
                             f"v{self.info.get('world_version')}; rebuild it")
        missing = [s for s in self.info["shards"] if not (self.folder / s).is_file()]
        if missing:
            raise FileNotFoundError(f"{self.folder} misses {len(missing)} shards (e.g. {missing[0]}); "
                                    "finish it by running the same build command again")
        parts: list[dict[str, torch.Tensor]] = []
        for name in self.info["shards"]:
            with safe_open(str(self.folder / name), framework="pt") as f:
                parts.append({k: f.get_tensor(k) for k in f.keys()})  # noqa: SIM118 (not iterable)
        self.tensors: dict[str, torch.Tensor] = {}
        for key in parts[0]:  # text stays trimmed to the longest caption (float16); text_of pads it
            concat = _concat_text if key in ("text", "styled_text") else torch.cat
            self.tensors[key] = concat([p[key] for p in parts])
        for key in TOKEN_FIELDS:
            self.tensors[key] = self.tensors[key].long()

    def __len__(self) -> int:
        return int(self.tensors["seeds"].shape[0])

    def __getattr__(self, name: str) -> torch.Tensor:
        tensors = self.__dict__.get("tensors", {})
        if name in tensors:
            return tensors[name]
        raise AttributeError(name)

    @property
    def vocab(self) -> Vocab:
        """The generator vocabulary over this cache's video and audio codes."""
        return Vocab(self.info["video_vocab"], self.info["audio_vocab_per_level"], self.info["audio_levels"])

    def check_matches_weights(self, weights: Path) -> None:
        """Refuse a cache whose tokenizers differ from those in `weights` (a model would learn stale codes)."""
        from engine.audio_tokenizer import AudioTokenizer
        from engine.video_tokenizer import VideoTokenizer

        for name, cls in (("video_tokenizer", VideoTokenizer), ("audio_tokenizer", AudioTokenizer)):
            if not (weights / name / "model.safetensors").is_file():
                continue
            current = state_hash(cls.from_pretrained(weights, subfolder=name))
            if current != self.info[name]["weights"]:
                raise SystemExit(f"{self.folder} was built with other {name} weights than {weights / name} "
                                 f"({self.info[name]['weights']} != {current}); rebuild the cache "
                                 "or pass --allow-stale-cache")

    def check_matches_model(self, config: Any) -> None:
        """Refuse a generator config (`--init` weights) whose vocabularies or grid differ from the tokens here."""
        info = self.info
        expected = {"video_vocab": info["video_vocab"], "audio_vocab_per_level": info["audio_vocab_per_level"],
                    "audio_levels": info["audio_levels"], "text_dim": info["text_dim"],
                    "grid_size": tuple(info["video_latent"])}
        found = {k: getattr(config, k) for k in expected}
        if found != expected:
            raise SystemExit(f"--init weights expect {found}, the cache holds {expected}")

    def text_of(self, index: int, styled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(max_tokens, D) float32 embedding and (max_tokens,) bool mask of a clip's caption."""
        key = "styled_text" if styled else "text"
        L = self.info["text_max_tokens"]
        n = int(self.tensors[f"{key}_len"][index])
        text = self.tensors[key][index].float()
        return torch.nn.functional.pad(text, (0, 0, 0, L - text.shape[0])), torch.arange(L) < n


def _load_components(weights: Path, device: str) -> tuple[Any, Any, Any]:
    from engine.audio_tokenizer import AudioTokenizer
    from engine.text_encoder import load_text_encoder
    from engine.video_tokenizer import VideoTokenizer

    video = VideoTokenizer.from_pretrained(weights, subfolder="video_tokenizer", device=device)
    audio = AudioTokenizer.from_pretrained(weights, subfolder="audio_tokenizer", device=device)
    config = weights / "text_encoder" / "config.json"
    text = load_text_encoder(config if config.is_file() else None, device=device)
    return video, audio, text


def main(argv: Iterable[str] | None = None) -> None:
    from engine.training import distributed as D
    from engine.weights import resolve_weights

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights", help="folder or Hub id with video_tokenizer/ and audio_tokenizer/")
    p.add_argument("--clips", type=int, default=None, help="world seeds to tokenize")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--split", choices=["train", "eval"], default="train")
    p.add_argument("--start-seed", type=int, default=0, help="offset inside the split")
    p.add_argument("--shard-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default=None)
    p.add_argument("--audio-from", type=Path, default=None,
                   help="copy this cache with only its audio re-encoded (after an audio codec update)")
    args = p.parse_args(None if argv is None else list(argv))
    if args.audio_from is not None:
        from engine.audio_tokenizer import AudioTokenizer

        audio = AudioTokenizer.from_pretrained(resolve_weights(args.weights), subfolder="audio_tokenizer")
        retokenize_audio(args.audio_from, args.out, audio, log=lambda line: print(line, flush=True))
        return
    if args.clips is None:
        p.error("--clips is required (unless --audio-from)")
    info = D.setup(args.device)  # torchrun: each rank builds its own shards; no collectives needed
    start = args.start_seed + (EVAL_SEED_START if args.split == "eval" else 0)
    if args.split == "train" and start + args.clips > EVAL_SEED_START:
        raise SystemExit(f"train seeds must stay below {EVAL_SEED_START}")
    video, audio, text = _load_components(resolve_weights(args.weights), str(info.device))
    build_cache(args.out, args.clips, video, audio, text, start_seed=start, shard_size=args.shard_size,
                batch_size=args.batch_size, rank=info.rank, world_size=info.world_size,
                log=lambda line: print(line, flush=True))
    D.barrier()
    D.cleanup()


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    main()
