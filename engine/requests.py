"""What the Engine accepts: the tasks, their inputs, the settings, and the checks that turn a raw
request into a `Request` or a `GenerationInputError` whose message can be shown to the user as is.

Kept apart from `engine.pipeline` so the rules a UI must follow (which inputs a task takes, the
ranges of the settings) read in one place, without the model plumbing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.masks import MaskError, check_pixel_mask, outpaint_mask
from engine.tasks import DECODINGS, DEFAULT_STEPS

FPS = 8
SAMPLE_RATE = 16_000
CLIP_FRAMES = 17
CLIP_SAMPLES = 34_000
SIZE = 64
MAX_CLIPS = 16  # a request may chain at most this many clips (about 34 s)
MAX_STEPS = 64  # masked decoding steps; more than the 12 of MaskGIT buys nothing measurable
DEFAULT_TEMPERATURE = 1.0
DEFAULT_DECODING = "autoregressive"
# Classifier-free guidance scale (used only with a prompt; None or 1.0 turns it off), by decoding mode.
# Masked decoding commits the many confident background tokens first and needs a stronger pull toward
# the prompt to keep its colours: text_to_video colour 34.9 % at 2, 40.7 % at 3 on the shipped weights
# (README, "Masked decoding"); autoregressive decoding trades background for colour above 2.
GUIDANCE_BY_DECODING = {"autoregressive": 2.0, "masked": 3.0}
DEFAULT_GUIDANCE = "default"  # as `guidance_scale`: the request's decoding mode's scale above

ENGINE_TASKS: tuple[str, ...] = (
    "text_to_video", "text_to_image", "image_to_video", "extend", "interpolate", "inpaint", "outpaint", "stylize",
    "video_to_audio", "audio_to_video", "unconditional",
)
# Which inputs each task reads: "required" or "optional"; anything not listed is refused.
TASK_INPUTS: dict[str, dict[str, str]] = {
    "text_to_video": {"prompt": "required"},
    "text_to_image": {"prompt": "required"},
    "image_to_video": {"image": "required", "prompt": "optional"},
    "extend": {"video": "optional", "image": "optional", "prompt": "optional"},
    "interpolate": {"video": "required", "prompt": "optional"},  # 2 frames: the first and the last
    "inpaint": {"video": "required", "mask": "required", "prompt": "optional"},
    "outpaint": {"video": "required", "mask": "optional", "prompt": "optional"},
    "stylize": {"video": "required", "prompt": "required"},
    "video_to_audio": {"video": "required"},
    "audio_to_video": {"audio": "required", "prompt": "optional"},
    "unconditional": {},
}
_INPUT_NAMES = {"prompt": "a prompt", "image": "an image", "video": "a video", "mask": "a mask",
                "audio": "an audio clip"}


class GenerationInputError(ValueError):
    """A request the engine cannot run; the message says what to change and is safe to show."""


class PromptTooLongError(GenerationInputError):
    """The prompt has more word pieces than the text encoder takes."""


@dataclass
class Request:
    """A checked request: arrays contiguous and in range, settings of the right types."""

    task: str
    prompt: str | None
    image: np.ndarray | None
    video: np.ndarray | None
    mask: np.ndarray | None
    audio: np.ndarray | None
    seed: int
    temperature: float
    top_k: int | None
    top_p: float | None
    guidance_scale: float | None
    progress: Callable[[int, int], None] | None
    num_clips: int
    with_audio: bool
    mask_preset: str | None
    decoding: str
    steps: int
    preview: Callable[[np.ndarray], None] | None


def validate_request(text_encoder: Any, task: Any, prompt: Any, image: Any, video: Any, mask: Any, audio: Any,
                     seed: Any, temperature: Any, top_k: Any, top_p: Any, guidance_scale: Any, progress: Any,
                     num_clips: Any, with_audio: Any, decoding: Any, steps: Any, preview: Any) -> Request:
    """Check every field of a request (the prompt's length against `text_encoder`) -> `Request`."""
    if not isinstance(task, str) or task not in TASK_INPUTS:
        raise GenerationInputError(f"unknown task {task!r}; choose one of {', '.join(ENGINE_TASKS)}")
    wants = TASK_INPUTS[task]
    if isinstance(prompt, str) and not prompt.strip():
        prompt = None  # an empty text box is no prompt
    given = {"prompt": prompt, "image": image, "video": video, "mask": mask, "audio": audio}
    for name, value in given.items():
        if value is None and wants.get(name) == "required":
            raise GenerationInputError(f"{task} needs {_INPUT_NAMES[name]}")
        if value is not None and name not in wants:
            raise GenerationInputError(f"{task} takes no {name}")
    if prompt is not None:
        prompt = _check_prompt(text_encoder, prompt)
    image = None if image is None else _check_image(image)
    video = None if video is None else _check_video(video)
    audio = None if audio is None else _check_audio(audio)
    mask, mask_preset = _check_task_inputs(task, image, video, mask, num_clips)
    if progress is not None and not callable(progress):
        raise GenerationInputError("progress must be a callable (done, total) or None")
    if decoding not in DECODINGS:
        raise GenerationInputError(f"decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")
    if isinstance(guidance_scale, str) and guidance_scale == DEFAULT_GUIDANCE:
        guidance_scale = GUIDANCE_BY_DECODING[decoding]
    _check_sampling(seed, temperature, top_k, top_p, guidance_scale)
    if not _integer(steps) or not 1 <= steps <= MAX_STEPS:
        raise GenerationInputError(f"steps must be an integer in [1, {MAX_STEPS}], got {steps!r}")
    if preview is not None and not callable(preview):
        raise GenerationInputError("preview must be a callable (frames) or None")
    return Request(task=task, prompt=prompt, image=image, video=video, mask=mask, audio=audio, seed=int(seed),
                   temperature=float(temperature), top_k=None if top_k is None else int(top_k),
                   top_p=None if top_p is None else float(top_p),
                   guidance_scale=None if guidance_scale is None else float(guidance_scale),
                   progress=progress, num_clips=int(num_clips), with_audio=bool(with_audio),
                   mask_preset=mask_preset, decoding=decoding, steps=int(steps), preview=preview)


def _check_task_inputs(task: str, image: np.ndarray | None, video: np.ndarray | None, mask: Any,
                       num_clips: Any) -> tuple[np.ndarray | None, str | None]:
    """The per-task rules on frame counts, masks and clip chaining -> (pixel mask, outpaint preset)."""
    mask_preset = None
    if task in ("inpaint", "outpaint"):
        if video.shape[0] not in (1, CLIP_FRAMES):
            raise GenerationInputError(f"{task} takes a {CLIP_FRAMES}-frame clip or a 1-frame image, "
                                       f"got {video.shape[0]} frames")
        if mask is None or isinstance(mask, str):
            if task == "inpaint":
                raise GenerationInputError("inpaint needs a bool mask array (True = generate)")
            mask_preset = mask or "centre"
            try:
                mask = outpaint_mask(mask_preset, SIZE)
            except MaskError as error:
                raise GenerationInputError(str(error)) from None
        try:
            mask = check_pixel_mask(mask, video.shape[0], SIZE, SIZE)
        except MaskError as error:
            raise GenerationInputError(str(error)) from None
        if not mask.any():
            raise GenerationInputError("the mask marks nothing to generate (True = generate)")
    if task in ("stylize", "video_to_audio") and video.shape[0] != CLIP_FRAMES:
        raise GenerationInputError(f"{task} takes a clip of {CLIP_FRAMES} frames, got {video.shape[0]}")
    if task == "interpolate" and video.shape[0] != 2:
        raise GenerationInputError(f"interpolate takes 2 frames (the first and the last), got {video.shape[0]}")
    if task == "extend":
        if video is not None and image is not None:
            raise GenerationInputError("extend continues a video or starts from an image, not both")
        if video is not None and (video.shape[0] < CLIP_FRAMES or (video.shape[0] - 1) % (CLIP_FRAMES - 1)):
            raise GenerationInputError(f"extend continues a video of 1 + 16 k frames (17, 33, ...), "
                                       f"got {video.shape[0]}")
    if not _integer(num_clips) or not 1 <= num_clips <= MAX_CLIPS:
        raise GenerationInputError(f"num_clips must be an integer in [1, {MAX_CLIPS}], got {num_clips!r}")
    if num_clips > 1 and task != "extend":
        raise GenerationInputError("num_clips > 1 chains clips, which is the extend task")
    if task == "extend" and video is not None and video.shape[0] + 16 * num_clips > 1 + 16 * MAX_CLIPS:
        raise GenerationInputError(f"the extended video would pass {MAX_CLIPS} clips")
    return mask, mask_preset


def _check_sampling(seed: Any, temperature: Any, top_k: Any, top_p: Any, guidance_scale: Any) -> None:
    if not _integer(seed) or not 0 <= seed < 2**63:
        raise GenerationInputError(f"seed must be an integer in [0, 2^63), got {seed!r}")
    if not _real(temperature) or not 0 <= temperature <= 100:
        raise GenerationInputError(f"temperature must be a number in [0, 100] (0 = greedy), got {temperature!r}")
    if top_k is not None and (not _integer(top_k) or top_k < 1):
        raise GenerationInputError(f"top_k must be None or an integer >= 1, got {top_k!r}")
    if top_p is not None and (not _real(top_p) or not 0 < top_p <= 1):
        raise GenerationInputError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    if guidance_scale is not None and (not _real(guidance_scale) or not 0 <= guidance_scale <= 100):
        raise GenerationInputError(f"guidance_scale must be None, {DEFAULT_GUIDANCE!r} or a number in [0, 100], "
                                   f"got {guidance_scale!r}")


def _check_prompt(text_encoder: Any, prompt: Any) -> str:
    if not isinstance(prompt, str):
        raise GenerationInputError(f"the prompt must be a string, got {type(prompt).__name__}")
    prompt = prompt.strip()
    try:
        text_encoder.check(prompt)
    except ValueError as error:  # TextTooLongError
        raise PromptTooLongError(str(error)) from None
    return prompt


def _integer(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise GenerationInputError(f"the image must be a numpy uint8 array, got {type(image).__name__}")
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dtype != np.uint8 or image.shape != (SIZE, SIZE, 3):
        raise GenerationInputError(f"the image must be uint8 ({SIZE}, {SIZE}, 3) RGB, got {image.dtype} "
                                   f"{image.shape}; read uploads with engine.media.read_image")
    return np.ascontiguousarray(image)


def _check_video(video: Any) -> np.ndarray:
    if not isinstance(video, np.ndarray):
        raise GenerationInputError(f"the video must be a numpy uint8 array, got {type(video).__name__}")
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[1:] != (SIZE, SIZE, 3) or video.shape[0] < 1:
        raise GenerationInputError(f"the video must be uint8 (T, {SIZE}, {SIZE}, 3) RGB, got {video.dtype} "
                                   f"{video.shape}; read uploads with engine.media.read_video")
    return np.ascontiguousarray(video)


def _check_audio(audio: Any) -> np.ndarray:
    if not isinstance(audio, np.ndarray) or not np.issubdtype(audio.dtype, np.floating):
        raise GenerationInputError("the audio must be a float32 numpy array in [-1, 1]; read uploads with "
                                   "engine.media.read_audio")
    if audio.shape != (CLIP_SAMPLES,):
        raise GenerationInputError(f"the audio must be mono ({CLIP_SAMPLES},) samples at {SAMPLE_RATE} Hz, "
                                   f"got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise GenerationInputError("the audio contains NaN or infinite samples")
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


__all__ = [
    "CLIP_FRAMES", "CLIP_SAMPLES", "DEFAULT_DECODING", "DEFAULT_GUIDANCE", "DEFAULT_STEPS", "DEFAULT_TEMPERATURE",
    "ENGINE_TASKS", "FPS", "GUIDANCE_BY_DECODING", "MAX_CLIPS", "MAX_STEPS", "SAMPLE_RATE", "SIZE", "TASK_INPUTS",
    "GenerationInputError", "PromptTooLongError", "Request", "validate_request",
]
