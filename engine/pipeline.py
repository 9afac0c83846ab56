"""The Engine: every task of the studio behind one `generate` call (the UI and scripts use only this).

    engine = Engine.from_pretrained()                      # the shipped weights/, CPU or CUDA
    result = engine.generate("text_to_video", prompt="a red ball bouncing on sand", seed=1)
    result.video  # (17, 64, 64, 3) uint8     result.audio  # (34000,) float32 at 16 kHz

Inputs are in the media module's native format (read uploads with `engine.media` first): images
uint8 (64, 64, 3), videos uint8 (T, 64, 64, 3) at 8 fps, masks bool (H, W) or (T, H, W) with True =
generate, audio float32 (34000,) at 16 kHz. A bad input raises `GenerationInputError` (a
`ValueError`) whose message can be shown to the user as is.

Decisions this file makes (see also engine/masks.py and engine/structure.py):

- Sound for video: VideoPoet generates audio after video; every task whose output is a clip also
  runs `video_to_audio` on the generated clip in the same request (`with_audio=True`, the default),
  so the MP4 has its sound. `audio_to_video` returns the input sound, `video_to_audio` the input
  clip with the new sound, `text_to_image` no sound. A long (extended) video gets its sound one
  17-frame window at a time (windows share their boundary frame, 2000 samples crossfaded).
- Extend: the context is the last 1 + 2f pixel frames (f = the tokenizer's temporal factor: 9 frames,
  3 latent frames for the default), and each step generates the next 1 + 2f frames whose first
  latent frame is the last frame encoded as an image (forced, so the step starts exactly where the
  video ends); that first frame is dropped and the 2f new frames appended: two steps per clip of 16
  frames. A half-clip window is what the 17-frame world can teach: a clip's frames 0..8 followed
  by its frames 8..16 (engine/transformer/dataset.py). The next step's context is the previous
  step's tokens, so nothing is re-encoded. `num_clips` counts the clips generated: with a `video`
  of T frames (17, 33, ...) the result is that video, unchanged, followed by 16 * num_clips new
  frames; without one the first clip comes from image_to_video (an `image`), text_to_video (a
  prompt) or unconditional generation, and the result has 1 + 16 * num_clips frames (49 for 3).
  `info["seams"]` lists the frames where a step starts (the last frame before new ones).
- Inpaint / outpaint: the pixel mask maps to a token mask (a token is regenerated when any pixel it
  covers is masked); the source's other tokens are forced, so they are kept exactly, and the masked
  ones are [MASK] in the prefix. `outpaint` takes a preset name (engine.masks.OUTPAINT_PRESETS) or
  a mask; no mask means the `centre` preset.
- Prompts: required by text_to_video, text_to_image and stylize; optional for image_to_video,
  extend, inpaint, outpaint and audio_to_video (None or "" hides the text slots, which is also the
  unconditional branch of classifier-free guidance); refused by video_to_audio and unconditional.
  Guidance runs only when there is a prompt.
- Determinism: one `torch.Generator` per request, seeded with `seed`, drives every stage in a fixed
  order, so the same request gives the same result bit for bit on the same machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.components import WORLD_VERSION, config_to_dict
from engine.device import describe_device, select_device
from engine.masks import MaskError, check_pixel_mask, outpaint_mask, pixel_to_token_mask
from engine.structure import control_video
from engine.tasks import build_sequence, get_task
from engine.tasks import generate as generate_tokens
from engine.training.data import tensor_to_video, video_to_tensor
from engine.transformer import MASK_INDEX, Transformer
from engine.weights import resolve_weights

FPS = 8
SAMPLE_RATE = 16_000
CLIP_FRAMES = 17
CLIP_SAMPLES = 34_000
SIZE = 64
MAX_CLIPS = 16  # a request may chain at most this many clips (about 34 s)
DEFAULT_TEMPERATURE = 1.0
DEFAULT_GUIDANCE = 2.0  # classifier-free guidance scale (only with a prompt); None or 1.0 turns it off

ENGINE_TASKS: tuple[str, ...] = (
    "text_to_video", "text_to_image", "image_to_video", "extend", "inpaint", "outpaint", "stylize",
    "video_to_audio", "audio_to_video", "unconditional",
)
# Which inputs each task reads: "required" or "optional"; anything not listed is refused.
TASK_INPUTS: dict[str, dict[str, str]] = {
    "text_to_video": {"prompt": "required"},
    "text_to_image": {"prompt": "required"},
    "image_to_video": {"image": "required", "prompt": "optional"},
    "extend": {"video": "optional", "image": "optional", "prompt": "optional"},
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


def config_hash(config: Any) -> str:
    """A short stable hash of a config dataclass: which model version made a result."""
    values = config_to_dict(config) if dataclasses.is_dataclass(config) else config
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def _decoder_name(decoder: Any) -> str:
    session = getattr(decoder, "session", None)
    if session is not None:
        return f"onnx:{session.get_providers()[0]}"
    return "torch"


class Engine:
    """The four components and the task runner. Build with `from_pretrained` or from modules (tests)."""

    def __init__(self, video_tokenizer: Any, audio_tokenizer: Any, text_encoder: Any, transformer: Transformer,
                 *, video_decoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 audio_decoder: Any = None, source: str | None = None) -> None:
        self.video_tokenizer = video_tokenizer.eval()
        self.audio_tokenizer = audio_tokenizer.eval()
        self.text_encoder = text_encoder
        self.transformer = transformer.eval()
        self.device = transformer.head.weight.device
        self.video_decoder = video_decoder or video_tokenizer.decode  # indices (B, t, h, w) -> (B, 3, T, H, W)
        self.audio_decoder = audio_decoder or audio_tokenizer  # .decode(indices, num_samples) -> (B, 1, N)
        self.source = source
        self.vocab = transformer.config.vocab
        self._check_compatible()
        vt = video_tokenizer.config
        self.temporal_factor, self.spatial_factor = vt.temporal_factor, vt.spatial_factor
        self.clip_latent = tuple(video_tokenizer.latent_shape(CLIP_FRAMES, SIZE, SIZE))
        self.image_latent = tuple(video_tokenizer.latent_shape(1, SIZE, SIZE))
        self.window_frames = 1 + 2 * self.temporal_factor  # extend: context and step window
        self.window_latent = tuple(video_tokenizer.latent_shape(self.window_frames, SIZE, SIZE))
        self.step_frames = self.window_frames - 1
        if (CLIP_FRAMES - 1) % self.step_frames:
            raise ValueError(f"a clip of {CLIP_FRAMES} frames is not a whole number of {self.step_frames}-frame steps")
        self.steps_per_clip = (CLIP_FRAMES - 1) // self.step_frames
        self.audio_latent = tuple(audio_tokenizer.latent_shape(CLIP_SAMPLES))
        self.text_len = int(text_encoder.config.max_tokens)
        self._lock = threading.Lock()  # the transformer's KV cache is per model: one request at a time

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | Path | None = None, device: str | torch.device | None = None,
                        *, onnx: bool | None = None, revision: str | None = None) -> Engine:
        """Load every component from its subfolder of a weights folder or Hub repo (None: `weights/`).

        device None picks CUDA when present (the transformer then runs in bf16), the CPU otherwise.
        onnx None decodes through ONNX Runtime where the tokenizers' .onnx files are present and with
        PyTorch otherwise; True requires the ONNX files, False always uses PyTorch.
        """
        from engine.audio_tokenizer import AudioTokenizer
        from engine.audio_tokenizer.onnx_export import ONNX_NAME, OnnxAudioDecoder
        from engine.text_encoder import load_text_encoder
        from engine.video_tokenizer import VideoTokenizer
        from engine.video_tokenizer.onnx_export import OnnxVideoDecoder

        folder = resolve_weights(path_or_hub_id, revision=revision)
        dev = select_device(None if device is None else str(device))
        video_tokenizer = VideoTokenizer.from_pretrained(folder, subfolder="video_tokenizer", device=dev)
        audio_tokenizer = AudioTokenizer.from_pretrained(folder, subfolder="audio_tokenizer", device=dev)
        text_config = folder / "text_encoder" / "config.json"
        text_encoder = load_text_encoder(text_config if text_config.is_file() else None, device=dev)
        transformer = Transformer.from_pretrained(folder, subfolder="transformer", device=dev)
        if dev.type == "cuda":
            transformer = transformer.to(torch.bfloat16)
        video_decoder = audio_decoder = None
        if onnx is not False:
            video_decoder = OnnxVideoDecoder.from_folder(folder / "video_tokenizer")
            audio_path = folder / "audio_tokenizer" / ONNX_NAME
            audio_decoder = OnnxAudioDecoder(audio_path) if audio_path.is_file() else None
            if onnx and (video_decoder is None or audio_decoder is None):
                raise FileNotFoundError(f"onnx=True but {folder} lacks the tokenizers' decoder .onnx files")
        return cls(video_tokenizer, audio_tokenizer, text_encoder, transformer, video_decoder=video_decoder,
                   audio_decoder=audio_decoder, source=str(folder))

    def _check_compatible(self) -> None:
        c, vt, at = self.transformer.config, self.video_tokenizer, self.audio_tokenizer
        problems = []
        if c.video_vocab != vt.vocab_size:
            problems.append(f"transformer video_vocab {c.video_vocab} != video tokenizer vocab {vt.vocab_size}")
        if c.audio_vocab_per_level != at.config.codebook_size or c.audio_levels != at.config.levels:
            problems.append(f"transformer audio vocab {c.audio_levels}x{c.audio_vocab_per_level} != audio "
                            f"tokenizer {at.config.levels}x{at.config.codebook_size}")
        if c.text_dim != self.text_encoder.config.dim:
            problems.append(f"transformer text_dim {c.text_dim} != text encoder dim {self.text_encoder.config.dim}")
        latent = vt.latent_shape(CLIP_FRAMES, SIZE, SIZE)
        if any(g < n for g, n in zip(c.grid_size, latent, strict=True)):
            problems.append(f"transformer grid_size {c.grid_size} is smaller than the clip latent {latent}")
        if problems:
            raise ValueError("the components do not fit together: " + "; ".join(problems))

    # ---- media <-> tokens (public: the eval scripts use them too) --------------------------------
    @torch.no_grad()
    def encode_video(self, video: np.ndarray) -> torch.Tensor:
        """uint8 (T, 64, 64, 3) -> token grid (t, h, w) long on the CPU."""
        x = video_to_tensor(video)[None].to(self.device, next(self.video_tokenizer.parameters()).dtype)
        return self.video_tokenizer.encode(x)[0].cpu()

    @torch.no_grad()
    def decode_video(self, tokens: torch.Tensor) -> np.ndarray:
        """Token grid (t, h, w) -> uint8 (T, 64, 64, 3)."""
        return tensor_to_video(self.video_decoder(tokens[None].to(self.device))[0])

    @torch.no_grad()
    def encode_audio(self, audio: np.ndarray) -> torch.Tensor:
        """float32 (N,) -> token grid (levels, frames) long on the CPU."""
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None, None].to(self.device)
        return self.audio_tokenizer.encode(x)[0].cpu()

    @torch.no_grad()
    def decode_audio(self, tokens: torch.Tensor, num_samples: int = CLIP_SAMPLES) -> np.ndarray:
        """Token grid (levels, frames) -> float32 (num_samples,) in [-1, 1]."""
        out = self.audio_decoder.decode(tokens[None].to(self.device), num_samples)
        return out[0, 0].detach().float().clamp(-1, 1).cpu().numpy().astype(np.float32)

    # ---- the request ----------------------------------------------------------------------------
    def generate(self, task: str, prompt: str | None = None, image: np.ndarray | None = None,
                 video: np.ndarray | None = None, mask: np.ndarray | str | None = None,
                 audio: np.ndarray | None = None, seed: int = 0, *, temperature: float = DEFAULT_TEMPERATURE,
                 top_k: int | None = None, top_p: float | None = None,
                 guidance_scale: float | None = DEFAULT_GUIDANCE,
                 progress: Callable[[int, int], None] | None = None, num_clips: int = 1,
                 with_audio: bool = True) -> Result:
        """Run one task. See the module docstring and TASK_INPUTS for what each task takes.

        temperature 0 is greedy; top_k / top_p None turn those filters off; guidance_scale None or 1
        turns classifier-free guidance off. progress(done, total) is called with token counts over
        all stages of the request. num_clips > 1 chains clips (extend only).
        """
        start = time.perf_counter()
        request = self._validate(task, prompt, image, video, mask, audio, seed, temperature, top_k, top_p,
                                 guidance_scale, progress, num_clips, with_audio)
        validated = time.perf_counter()
        with self._lock:
            run = _Run(self, request)
            run.timings["validate"] = validated - start
            video_out, audio_out = getattr(self, f"_task_{request.task}")(run)
            run.timings["total"] = time.perf_counter() - start
        return Result(video=video_out, audio=audio_out, fps=FPS, sample_rate=SAMPLE_RATE,
                      info=self._info(run, video_out), tokens=run.tokens, extras=run.extras)

    def _info(self, run: _Run, video: np.ndarray) -> dict[str, Any]:
        r = run.request
        return {
            "task": r.task, "seed": r.seed, "prompt": r.prompt,
            "settings": {"temperature": r.temperature, "top_k": r.top_k, "top_p": r.top_p,
                         "guidance_scale": r.guidance_scale, "guidance_used": run.guidance is not None,
                         "num_clips": r.num_clips, "with_audio": r.with_audio, "mask_preset": r.mask_preset},
            "models": self.versions(),
            "device": describe_device(self.device),
            "frames": int(video.shape[0]),
            "tokens_generated": run.done,
            "seams": run.seams,
            "timings": {k: round(v, 4) for k, v in run.timings.items()},
        }

    def versions(self) -> dict[str, Any]:
        """Config hashes of the components, the world version and which decoders run."""
        return {
            "video_tokenizer": config_hash(self.video_tokenizer.config),
            "audio_tokenizer": config_hash(self.audio_tokenizer.config),
            "transformer": config_hash(self.transformer.config),
            "text_encoder": config_hash(self.text_encoder.config),
            "world_version": WORLD_VERSION,
            "video_decoder": _decoder_name(self.video_decoder),
            "audio_decoder": _decoder_name(self.audio_decoder),
            "weights": self.source,
        }

    # ---- validation -----------------------------------------------------------------------------
    def _validate(self, task, prompt, image, video, mask, audio, seed, temperature, top_k, top_p,
                  guidance_scale, progress, num_clips, with_audio) -> _Request:
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
            prompt = self._check_prompt(prompt)
        if image is not None:
            image = _check_image(image)
        if video is not None:
            video = _check_video(video)
        if audio is not None:
            audio = _check_audio(audio)
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
        if task == "extend":
            if video is not None and image is not None:
                raise GenerationInputError("extend continues a video or starts from an image, not both")
            if video is not None and (video.shape[0] < CLIP_FRAMES or (video.shape[0] - 1) % (CLIP_FRAMES - 1)):
                raise GenerationInputError(f"extend continues a video of 1 + 16 k frames (17, 33, ...), "
                                           f"got {video.shape[0]}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise GenerationInputError(f"seed must be an integer in [0, 2^63), got {seed!r}")
        if not _real(temperature) or not 0 <= temperature <= 100:
            raise GenerationInputError(f"temperature must be a number in [0, 100] (0 = greedy), got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise GenerationInputError(f"top_k must be None or an integer >= 1, got {top_k!r}")
        if top_p is not None and (not _real(top_p) or not 0 < top_p <= 1):
            raise GenerationInputError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
        if guidance_scale is not None and (not _real(guidance_scale) or not 0 <= guidance_scale <= 100):
            raise GenerationInputError(f"guidance_scale must be None or a number in [0, 100], got {guidance_scale!r}")
        if progress is not None and not callable(progress):
            raise GenerationInputError("progress must be a callable (done, total) or None")
        if (isinstance(num_clips, bool) or not isinstance(num_clips, (int, np.integer))
                or not 1 <= num_clips <= MAX_CLIPS):
            raise GenerationInputError(f"num_clips must be an integer in [1, {MAX_CLIPS}], got {num_clips!r}")
        if num_clips > 1 and task != "extend":
            raise GenerationInputError("num_clips > 1 chains clips, which is the extend task")
        if task == "extend" and video is not None and video.shape[0] + 16 * num_clips > 1 + 16 * MAX_CLIPS:
            raise GenerationInputError(f"the extended video would pass {MAX_CLIPS} clips")
        return _Request(task=task, prompt=prompt, image=image, video=video, mask=mask, audio=audio, seed=int(seed),
                        temperature=float(temperature), top_k=None if top_k is None else int(top_k),
                        top_p=None if top_p is None else float(top_p),
                        guidance_scale=None if guidance_scale is None else float(guidance_scale),
                        progress=progress, num_clips=int(num_clips), with_audio=bool(with_audio),
                        mask_preset=mask_preset)

    def _check_prompt(self, prompt: Any) -> str:
        if not isinstance(prompt, str):
            raise GenerationInputError(f"the prompt must be a string, got {type(prompt).__name__}")
        prompt = prompt.strip()
        try:
            self.text_encoder.check(prompt)
        except ValueError as error:  # TextTooLongError
            raise PromptTooLongError(str(error)) from None
        return prompt

    # ---- planning: how many tokens each request decodes (for the progress bar) ---------------------
    def _plan(self, r: _Request) -> int:
        V, IMG, W = (math.prod(s) for s in (self.clip_latent, self.image_latent, self.window_latent))
        A = math.prod(self.audio_latent)
        sound = A if r.with_audio else 0
        if r.task == "text_to_image":
            return IMG
        if r.task in ("text_to_video", "image_to_video", "stylize", "unconditional"):
            return V + sound
        if r.task in ("inpaint", "outpaint"):
            return (V + sound) if r.video.shape[0] == CLIP_FRAMES else IMG
        if r.task == "video_to_audio":
            return A
        if r.task == "audio_to_video":
            return V
        # extend
        first = 0 if r.video is not None else V
        steps = self.steps_per_clip * (r.num_clips if r.video is not None else r.num_clips - 1)
        frames = (r.video.shape[0] - 1 if r.video is not None else 0) + 16 * r.num_clips + 1
        windows = (frames - 1) // (CLIP_FRAMES - 1)
        return first + steps * W + (windows * A if r.with_audio else 0)

    # ---- tasks ----------------------------------------------------------------------------------
    def _task_text_to_video(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        tokens = run.sample(self._seq("text_to_video", self.clip_latent))
        return self._finish_clip(run, tokens)

    def _task_text_to_image(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        tokens = run.sample(self._seq("text_to_image", self.image_latent))
        run.tokens["video"] = tokens
        with run.timer("decode"):
            return self.decode_video(tokens), None

    def _task_image_to_video(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        return self._finish_clip(run, self._image_to_video(run, run.request.image))

    def _image_to_video(self, run: _Run, image: np.ndarray) -> torch.Tensor:
        with run.timer("encode"):
            first = self.encode_video(image[None])  # (1, h, w)
        output = torch.full(self.clip_latent, MASK_INDEX, dtype=torch.long)
        output[:1] = first
        return run.sample(self._seq("image_to_video", self.clip_latent, input_video=first, output=output))

    def _task_unconditional(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        return self._finish_clip(run, run.sample(self._seq("unconditional", self.clip_latent)))

    def _task_stylize(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        with run.timer("encode"):
            control = control_video(run.request.video)
            run.extras["control_video"] = control
            control_tokens = self.encode_video(control)
        seq = self._seq("stylize", self.clip_latent, control_video=control_tokens)
        return self._finish_clip(run, run.sample(seq))

    def _task_audio_to_video(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        with run.timer("encode"):
            audio_tokens = self.encode_audio(run.request.audio)
        tokens = run.sample(self._seq("audio_to_video", self.clip_latent, input_audio=audio_tokens))
        run.tokens["video"] = tokens
        with run.timer("decode"):
            video = self.decode_video(tokens)
        return video, run.request.audio.copy()

    def _task_video_to_audio(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        video = run.request.video
        with run.timer("encode"):
            tokens = self.encode_video(video)
        return video.copy(), self._sound_for(run, video, tokens, stage="generate")

    def _task_inpaint(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        r = run.request
        with run.timer("encode"):
            source = self.encode_video(r.video)  # (t, h, w)
        token_mask = pixel_to_token_mask(r.mask, self.temporal_factor, self.spatial_factor)  # True = generate
        hidden = source.masked_fill(token_mask, MASK_INDEX)
        run.tokens["source"], run.tokens["token_mask"] = source, token_mask
        seq = self._seq(r.task, tuple(source.shape), input_video=hidden, output=hidden, known=~token_mask)
        tokens = run.sample(seq)
        if r.video.shape[0] == 1:
            run.tokens["video"] = tokens
            with run.timer("decode"):
                return self.decode_video(tokens), None
        return self._finish_clip(run, tokens)

    _task_outpaint = _task_inpaint

    def _task_extend(self, run: _Run) -> tuple[np.ndarray, np.ndarray | None]:
        r = run.request
        steps = self.steps_per_clip * r.num_clips
        if r.video is not None:
            frames = [*r.video]
            with run.timer("encode"):
                context = self.encode_video(r.video[-self.window_frames:])
        else:  # the first clip comes from the image, the prompt, or nothing
            if r.image is not None:
                first = self._image_to_video(run, r.image)
            elif r.prompt is not None:
                first = run.sample(self._seq("text_to_video", self.clip_latent))
            else:
                first = run.sample(self._seq("unconditional", self.clip_latent))
            with run.timer("decode"):
                clip = self.decode_video(first)
            frames = [*clip]
            with run.timer("encode"):
                context = self.encode_video(clip[-self.window_frames:])
            steps -= self.steps_per_clip
        run.tokens["video_steps"] = []
        for _ in range(steps):
            run.seams.append(len(frames) - 1)  # the frame where the step starts (shared, kept from before)
            with run.timer("encode"):
                known = self.encode_video(frames[-1][None])  # (1, h, w): the last frame as an image
            output = torch.full(self.window_latent, MASK_INDEX, dtype=torch.long)
            output[:1] = known
            tokens = run.sample(self._seq("extend", self.window_latent, input_video=context, output=output))
            run.tokens["video_steps"].append(tokens)
            with run.timer("decode"):
                window = self.decode_video(tokens)  # (window_frames, 64, 64, 3); frame 0 ~ frames[-1]
            frames.extend(window[1:])
            context = tokens
        video = np.stack(frames)
        return video, (self._sound_for(run, video) if r.with_audio else None)

    # ---- shared steps ---------------------------------------------------------------------------
    def _seq(self, task: str, output_shape: tuple[int, ...], **segments: Any):
        return build_sequence(task, self.vocab, output_shape=output_shape,
                              text_len=self.text_len if get_task(task).text else 0, **segments)

    def _finish_clip(self, run: _Run, tokens: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode a generated clip and, when asked, give it its sound."""
        run.tokens["video"] = tokens
        with run.timer("decode"):
            video = self.decode_video(tokens)
        sound = self._sound_for(run, video, tokens) if run.request.with_audio else None
        return video, sound

    def _sound_for(self, run: _Run, video: np.ndarray, tokens: torch.Tensor | None = None,
                   stage: str = "sound") -> np.ndarray:
        """video_to_audio over 17-frame windows sharing their boundary frame; tokens: the clip's own grid."""
        per_frame = SAMPLE_RATE // FPS
        windows = range(0, video.shape[0] - 1, CLIP_FRAMES - 1)
        out: np.ndarray | None = None
        audio_tokens = []
        for start in windows:
            clip = video[start:start + CLIP_FRAMES]
            if tokens is None or len(windows) > 1:
                with run.timer("encode"):
                    clip_tokens = self.encode_video(clip)
            else:
                clip_tokens = tokens
            seq = self._seq("video_to_audio", self.audio_latent, input_video=clip_tokens)
            codes = run.sample(seq, stage=stage)
            audio_tokens.append(codes)
            with run.timer("decode"):
                sound = self.decode_audio(codes, CLIP_SAMPLES)
            if out is None:
                out = sound
            else:  # the windows share one frame: crossfade its samples
                ramp = np.linspace(0.0, 1.0, per_frame, dtype=np.float32)
                out[-per_frame:] = out[-per_frame:] * (1 - ramp) + sound[:per_frame] * ramp
                out = np.concatenate([out, sound[per_frame:]])
        run.tokens["audio"] = audio_tokens[0] if len(audio_tokens) == 1 else audio_tokens
        return out.astype(np.float32)


# ---- request plumbing ------------------------------------------------------------------------------
@dataclass
class _Request:
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


class _Run:
    """One request in flight: its generator, prompt embedding, progress tally and timings."""

    def __init__(self, engine: Engine, request: _Request) -> None:
        self.engine, self.request = engine, request
        self.generator = torch.Generator(device=engine.device).manual_seed(request.seed)
        self.timings: dict[str, float] = {}
        self.tokens: dict[str, Any] = {}
        self.extras: dict[str, np.ndarray] = {}
        self.seams: list[int] = []
        self.total = engine._plan(request)
        self.done = 0
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

    def sample(self, seq, stage: str = "generate") -> torch.Tensor:
        """Generate the output grid of `seq` with this request's settings."""
        r = self.request
        text = self.text if seq.text_len else None
        offset = self.done

        def hook(done: int, total: int) -> None:
            if r.progress is not None:
                r.progress(offset + done, self.total)

        with self.timer(stage):
            tokens = generate_tokens(
                self.engine.transformer, seq, self.generator, text=text,
                text_mask=self.text_mask if text is not None else None,
                cfg_scale=self.guidance if text is not None else None, temperature=r.temperature,
                top_k=r.top_k, top_p=r.top_p, progress=hook)
        self.done += seq.num_output
        return tokens


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
