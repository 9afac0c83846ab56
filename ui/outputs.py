"""A private folder per request for the files the studio serves back, and the writer that fills it.

Each request writes under its own random subfolder of one per-process root, so two users never
see (or overwrite) each other's files and nothing a user typed ever becomes part of a path.
Gradio copies returned files into its cache, which `delete_cache` cleans; request folders here
older than an hour are swept as new requests arrive, and the root is removed at exit.

The example inputs of the task tabs live here too, rendered from the Moving Shapes world at
startup: each example clip, frame and sound is drawn by `engine.world` from a fixed seed (the same
on every machine) into the outputs root, once per process, so nothing binary is checked in. The
prompts are the world's own captions, so the examples show what the model knows.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.media import FPS, SAMPLE_RATE, write_mp4, write_png, write_wav
from engine.world import sample, sample_pair

DISPLAY_SCALE = 4  # 64x64 -> 256x256 in the page, nearest neighbour
MAX_AGE_S = 3600  # request folders older than this are deleted
SWEEP_EVERY_S = 300
_ROOT: Path | None = None
_last_sweep = 0.0


def outputs_root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="magpoet-outputs-"))
        atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
    return _ROOT


def new_request_dir() -> Path:
    """A fresh, empty folder for one request's outputs."""
    sweep()
    folder = outputs_root() / uuid.uuid4().hex
    folder.mkdir()
    return folder


def sweep(now: float | None = None) -> int:
    """Delete request folders older than MAX_AGE_S (at most every SWEEP_EVERY_S); returns how many."""
    global _last_sweep
    now = time.time() if now is None else now
    if now - _last_sweep < SWEEP_EVERY_S:
        return 0
    _last_sweep = now
    removed = 0
    for folder in outputs_root().iterdir():
        if len(folder.name) == 32 and folder.is_dir() and now - folder.stat().st_mtime > MAX_AGE_S:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


@dataclass(frozen=True)
class ClipFiles:
    """The two MP4s of one result: `display` (enlarged for the page) and `native` (as made, to download)."""

    display: str
    native: str


def write_clip(video: np.ndarray, audio: np.ndarray | None, name: str, folder: Path | None = None,
               fps: float = FPS, sample_rate: int = SAMPLE_RATE) -> ClipFiles:
    """Write `video` (T, H, W, 3) uint8 with optional mono `audio` as a display and a native MP4."""
    folder = folder or new_request_dir()
    display = write_mp4(folder / f"{name}.mp4", video, fps=fps, audio=audio, sample_rate=sample_rate,
                        scale=DISPLAY_SCALE)
    native = write_mp4(folder / f"{name}-64px.mp4", video, fps=fps, audio=audio, sample_rate=sample_rate)
    return ClipFiles(display=str(display), native=str(native))


# ---- example media ---------------------------------------------------------------------------------
PROMPT_SEEDS = (3, 11, 25)
CLIP_SEEDS = (7, 40, 42)


@dataclass(frozen=True)
class ExampleMedia:
    prompts: list[str]
    clips: list[str]  # 17-frame MP4s with sound
    first_frames: list[str]  # PNGs: the first frame of each clip
    last_frames: list[str]  # PNGs: the last frame of each clip
    sounds: list[str]  # WAVs: each clip's sound
    styled_prompts: list[str]  # the caption of each clip's stylisation twin


@functools.cache
def example_media() -> ExampleMedia:
    folder = outputs_root() / "examples"
    folder.mkdir(exist_ok=True)
    clips, first, last, sounds = [], [], [], []
    for seed in CLIP_SEEDS:
        clip = sample(seed)
        clips.append(str(write_mp4(folder / f"world-{seed}.mp4", clip.video, audio=clip.audio)))
        first.append(str(write_png(folder / f"world-{seed}-first.png", clip.video[0])))
        last.append(str(write_png(folder / f"world-{seed}-last.png", clip.video[-1])))
        sounds.append(str(write_wav(folder / f"world-{seed}.wav", clip.audio)))
    return ExampleMedia(
        prompts=[sample(seed).caption for seed in PROMPT_SEEDS],
        clips=clips, first_frames=first, last_frames=last, sounds=sounds,
        styled_prompts=[sample_pair(seed)[1].caption for seed in CLIP_SEEDS],
    )
