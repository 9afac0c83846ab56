"""The Tokenizer tab (/reconstruct): what the video tokenizer makes of a clip.

A clip goes in (uploaded, or drawn from the world by seed); out come its token grid (one tile per
latent frame, each token a colour from its index), the compression ratio (raw RGB bits over token
bits), and the reconstruction beside the original with its PSNR.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch

from engine.components import model_version
from engine.training.data import tensor_to_video, video_to_tensor
from engine.world import EVAL_SEED_START, sample
from ui import validation as check
from ui.common import ENGINE_QUEUE, Studio, engine_by_id, on_gpu
from ui.outputs import CLIP_SEEDS, new_request_dir, write_clip
from ui.validation import Number

CELL = 16  # pixels per token in the grid picture
GAP = 4  # pixels between latent frames


def psnr(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over uint8 pixels (inf when identical)."""
    mse = np.mean((original.astype(np.float64) - reconstruction.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def token_picture(tokens: np.ndarray) -> np.ndarray:
    """(t, h, w) token indices -> an RGB picture: the t grids side by side, one colour per index."""
    t, h, w = tokens.shape
    ids = tokens.astype(np.uint64)
    # a multiplicative hash spreads neighbouring indices over distant colours
    mixed = (ids * np.uint64(2654435761)) & np.uint64(0xFFFFFF)
    rgb = np.stack([(mixed >> np.uint64(s)) & np.uint64(0xFF) for s in (16, 8, 0)], axis=-1).astype(np.uint8)
    cells = rgb.repeat(CELL, axis=1).repeat(CELL, axis=2)  # (t, h*CELL, w*CELL, 3)
    canvas = np.full((h * CELL, t * (w * CELL + GAP) - GAP, 3), 255, dtype=np.uint8)
    for k in range(t):
        left = k * (w * CELL + GAP)
        canvas[:, left:left + w * CELL] = cells[k]
    return canvas


class VideoTokenizerOnly:
    """The Engine's video round trip from the video tokenizer alone, so this tab works before a generator
    is shipped (the weights folder has tokenizers but no transformer)."""

    def __init__(self, weights: Path, device: str = "cpu") -> None:
        from engine.video_tokenizer import VideoTokenizer

        self.video_tokenizer = VideoTokenizer.from_pretrained(weights, subfolder="video_tokenizer", device=device)
        self.video_tokenizer.eval()
        self.version = model_version(self.video_tokenizer)  # hashes the weights: once, not per request

    @torch.no_grad()
    def encode_video(self, video: np.ndarray) -> torch.Tensor:
        x = video_to_tensor(video)[None].to(next(self.video_tokenizer.parameters()).device)
        return self.video_tokenizer.encode(x)[0].cpu()

    @torch.no_grad()
    def decode_video(self, tokens: torch.Tensor) -> np.ndarray:
        device = next(self.video_tokenizer.parameters()).device
        return tensor_to_video(self.video_tokenizer.decode(tokens[None].to(device))[0])

    def versions(self) -> dict[str, Any]:
        return {"video_tokenizer": self.version, "video_decoder": "torch"}


@on_gpu
def round_trip(engine_id: int, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode and decode one clip: (token grid (t, h, w), reconstruction (T, 64, 64, 3) uint8)."""
    engine = engine_by_id(engine_id)
    tokens = engine.encode_video(clip)
    return tokens.numpy(), engine.decode_video(tokens)


def reconstruct_fn(studio: Studio):
    def reconstruct(video: str | None = None, world_seed: int = CLIP_SEEDS[0]) -> list[Any]:
        """Tokenize and reconstruct a clip: the uploaded `video`, or else the world clip of `world_seed`.
        Returns the original beside the reconstruction, the token grid, the figures and the native MP4."""
        engine = studio.require_tokenizer()
        if video is not None:
            clip, sound = check.video(video, "the clip"), None
            source = "uploaded clip"
        else:
            seed = check.whole_number(world_seed, 0, EVAL_SEED_START - 1, "The world seed")
            world = sample(seed)
            clip, sound, source = world.video, world.audio, f"world clip, seed {seed}"
        start = time.perf_counter()
        tokens, recon = round_trip(studio.tokenizer_id, clip)
        seconds = time.perf_counter() - start
        folder = new_request_dir()
        side_by_side = write_clip(np.concatenate([clip, recon], axis=2), sound, "original-vs-reconstruction", folder)
        native = write_clip(recon, sound, "reconstruction", folder)
        bits_per_token = math.log2(engine.video_tokenizer.vocab_size)
        raw_bits = clip.size * 8
        figures = {
            "source": source,
            "frames": int(clip.shape[0]),
            "token_grid": list(tokens.shape),
            "tokens": int(tokens.size),
            "vocabulary": int(engine.video_tokenizer.vocab_size),
            "bits_per_token": bits_per_token,
            "compression_ratio": round(raw_bits / (tokens.size * bits_per_token), 1),
            "psnr_db": round(psnr(clip, recon), 2),
            "model": engine.versions().get("video_tokenizer"),
            "seconds": round(seconds, 4),
        }
        return [side_by_side.display, token_picture(tokens), figures, native.native]

    return reconstruct


def build_tokenizer_tab(studio: Studio) -> None:
    fn = reconstruct_fn(studio)
    with gr.Tab("Tokenizer", id="tokenizer"):
        gr.Markdown("See what the model sees: the video tokenizer turns 17 frames of 64x64 into a small grid of "
                    "discrete tokens and back. Upload a clip, or leave the upload empty and pick a world clip "
                    "by seed.")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Clip (optional)", height=220, format=None)
                seed = Number(label="World clip seed (used when no clip is uploaded)", value=CLIP_SEEDS[0],
                              precision=0)
                run = gr.Button("Tokenize and reconstruct", variant="primary")
            with gr.Column(scale=3):
                compare = gr.Video(label="Original (left) and reconstruction (right)", autoplay=True, loop=True,
                                   height=260, interactive=False)
                grid = gr.Image(label="Token grid (one tile per latent frame; colour = token index)",
                                interactive=False, height=160, format="png")
                figures = gr.JSON(label="Compression ratio, PSNR, grid")
                download = gr.File(label="Download the native 64x64 reconstruction", interactive=False)
        outputs = [compare, grid, figures, download]
        gr.Examples([[s] for s in CLIP_SEEDS], [seed], outputs, fn=lambda s: fn(None, s), cache_examples=True,
                    cache_mode="lazy")
        run.click(fn, [video, seed], outputs, api_name="reconstruct", concurrency_id=ENGINE_QUEUE)
