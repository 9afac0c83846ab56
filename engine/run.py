"""One request in flight (`Run`: its generator, prompt embedding, progress tally, timings, forward
passes) and what it returns (`Result`). The Engine's task methods drive a `Run`; `Run.sample` is the
one place a sequence meets the decoders, so the settings, the progress offsets across stages and
the masked decoder's preview are wired once; `Run.info` is the result's record of the request;
`planned_steps` is the progress bar's total.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.device import describe_device
from engine.requests import CLIP_FRAMES, Request
from engine.tasks import Sequence
from engine.tasks import generate as generate_tokens

FITTED_TASKS = ("inpaint", "outpaint", "interpolate")  # the tasks whose kept pixels are fitted (Engine._fit)

if TYPE_CHECKING:
    from engine.pipeline import Engine


@dataclass
class Result:
    """What one request produced. `video` is (T, 64, 64, 3) uint8 (T = 1 for an image, 17 for a clip,
    1 + 16 n for n chained clips); `audio` float32 mono at `sample_rate`, T / fps seconds long, or None."""

    video: np.ndarray
    audio: np.ndarray | None
    fps: int
    sample_rate: int
    info: dict[str, Any]
    tokens: dict[str, Any] = field(default_factory=dict, repr=False)  # generated token grids (CPU longs)
    extras: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # e.g. the stylize control video

    @property
    def duration(self) -> float:
        return self.video.shape[0] / self.fps


class Run:
    """One request in flight: its generator, prompt embedding, progress tally and timings.

    Progress counts steps: one per decoded token (`done`) and one per step of the kept-pixel fit
    (`fitted`), so the bar also moves while the fit runs (most of an inpaint's time on a CPU).
    """

    def __init__(self, engine: Engine, request: Request) -> None:
        self.engine, self.request = engine, request
        self.generator = torch.Generator(device=engine.device).manual_seed(request.seed)
        self.timings: dict[str, float] = {}
        self.tokens: dict[str, Any] = {}
        self.extras: dict[str, np.ndarray] = {}
        self.seams: list[int] = []
        self.forward_passes: dict[str, int] = {}  # per stage
        self.total = planned_steps(engine, request)
        self.done = self.fitted = 0
        self.text = self.text_mask = None
        if request.prompt is not None:
            with self.timer("text"):
                embedding = engine.text_encoder.encode([request.prompt])
            self.text, self.text_mask = embedding.tokens[0].float(), embedding.mask[0].bool()
        g = request.guidance_scale
        self.guidance = g if self.text is not None and g is not None and g != 1.0 else None

    @contextmanager
    def timer(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def sample(self, seq: Sequence, stage: str = "generate") -> torch.Tensor:
        """Generate the output grid of `seq` with this request's settings."""
        r = self.request
        text = self.text if seq.text_len else None
        offset = self.done

        def hook(done: int, total: int) -> None:
            self.report(offset + done + self.fitted)

        with self.timer(stage):
            tokens, passes = generate_tokens(
                self.engine.transformer, seq, self.generator, text=text,
                text_mask=self.text_mask if text is not None else None,
                cfg_scale=self.guidance if text is not None else None, temperature=r.temperature,
                top_k=r.top_k, top_p=r.top_p, decoding=self.decoding_for(seq), steps=r.steps, progress=hook,
                on_step=self._preview_hook(seq))
        self.done += seq.num_output
        self.forward_passes[stage] = self.forward_passes.get(stage, 0) + passes
        return tokens

    def decoding_for(self, seq: Sequence) -> str:
        """The request's decoding for video stages; sound is always autoregressive, because the
        trainer teaches masked decoding on video outputs only."""
        return self.request.decoding if seq.modality == "video" else "autoregressive"

    def report(self, steps: int) -> None:
        """Pass `steps` done of `total` on to the request's progress callback, if any."""
        if self.request.progress is not None:
            self.request.progress(steps, self.total)

    @contextmanager
    def fitting(self, steps: int):
        """Yield on_step for a kept-pixel fit of `steps` steps; on leaving, all of them count as done
        (a fit with nothing to change stops early)."""
        start = self.done + self.fitted
        yield lambda step: self.report(start + step)
        self.fitted += steps
        self.report(self.done + self.fitted)

    def info(self, video: np.ndarray) -> dict[str, Any]:
        """The request's settings, the models, the device and what it took: `Result.info`."""
        r, engine = self.request, self.engine
        return {
            "task": r.task, "seed": r.seed, "prompt": r.prompt,
            "settings": {"temperature": r.temperature, "top_k": r.top_k, "top_p": r.top_p,
                         "guidance_scale": r.guidance_scale, "guidance_used": self.guidance is not None,
                         "num_clips": r.num_clips, "with_audio": r.with_audio, "mask_preset": r.mask_preset,
                         "decoding": r.decoding, "steps": r.steps if r.decoding == "masked" else None,
                         "fit_steps": engine.fit_steps if r.task in FITTED_TASKS else None},
            "models": engine.versions(),
            "device": describe_device(engine.device),
            "frames": int(video.shape[0]),
            "tokens_generated": self.done,
            "forward_passes": sum(self.forward_passes.values()),
            "forward_passes_by_stage": dict(self.forward_passes),
            "seams": self.seams,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }

    def _preview_hook(self, seq: Sequence) -> Callable[[int, torch.Tensor], None] | None:
        """on_step for the masked decoder: decode the current guesses of a video output for `preview`."""
        preview = self.request.preview
        if preview is None or seq.modality != "video":
            return None

        def hook(step: int, guesses: torch.Tensor) -> None:  # guesses (1, N) output ids
            with self.timer("preview"):
                frames = self.engine.decode_video(seq.output_tokens(guesses[0].cpu()))
            preview(frames)

        return hook


def planned_steps(engine: Engine, r: Request) -> int:
    """The progress bar's total for request `r`: the tokens it decodes plus its fit's steps."""
    fit = engine.fit_steps if r.task in FITTED_TASKS and engine.fit_steps > 0 else 0
    return planned_tokens(engine, r) + fit


def planned_tokens(engine: Engine, r: Request) -> int:
    """How many tokens request `r` decodes in all stages."""
    V, IMG, W = (math.prod(s) for s in (engine.clip_latent, engine.image_latent, engine.window_latent))
    A = math.prod(engine.audio_latent)
    sound = A if r.with_audio else 0
    if r.task == "text_to_image":
        return IMG
    if r.task in ("text_to_video", "image_to_video", "interpolate", "stylize", "unconditional"):
        return V + sound
    if r.task in ("inpaint", "outpaint"):
        return (V + sound) if r.video.shape[0] == CLIP_FRAMES else IMG
    if r.task == "video_to_audio":
        return A
    if r.task == "audio_to_video":
        return V
    # extend
    first = 0 if r.video is not None else V
    steps = engine.steps_per_clip * (r.num_clips if r.video is not None else r.num_clips - 1)
    frames = (r.video.shape[0] - 1 if r.video is not None else 0) + 16 * r.num_clips + 1
    windows = (frames - 1) // (CLIP_FRAMES - 1)
    return first + steps * W + (windows * A if r.with_audio else 0)
