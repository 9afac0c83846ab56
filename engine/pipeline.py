"""The Engine: every task of the studio behind one `generate` call (the UI and scripts use only this).

    engine = Engine.from_pretrained()                      # the shipped weights/, CPU or CUDA
    result = engine.generate("text_to_video", prompt="a red ball bouncing on sand", seed=1)
    result.video  # (17, 64, 64, 3) uint8     result.audio  # (34000,) float32 at 16 kHz

Inputs are in the media module's native format (read uploads with `engine.media` first): images
uint8 (64, 64, 3), videos uint8 (T, 64, 64, 3) at 8 fps, masks bool (H, W) or (T, H, W) with True =
generate, audio float32 (34000,) at 16 kHz. A bad input raises `GenerationInputError` (a
`ValueError`) whose message can be shown to the user as is.

The rules a request must follow (tasks, inputs, setting ranges) live in engine/requests.py, one
request in flight (generator, progress, timings, forward passes, preview) in engine/run.py.

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
  extend, interpolate, inpaint, outpaint and audio_to_video (None or "" hides the text slots, which
  is also the unconditional branch of classifier-free guidance); refused by video_to_audio and
  unconditional.
  Guidance runs only when there is a prompt; its default scale is the decoding mode's
  (`GUIDANCE_BY_DECODING`) and, like a given scale, it applies to every stage of the request.
- Interpolate: the first and last frames, each encoded as an image, are the prefix's (2, h, w) input
  video; the output's first latent frame is the first frame (forced, as in image_to_video). The
  last latent frame covers pixel frames 13-16, so it cannot be forced: once generated, it is encoded
  again from the decoded frames 13-14 and the given last frame twice (`END_FRAMES`, which renders
  better than once), then fitted to it (below). The clip ends on the given frame, and a model that
  steered elsewhere shows as a jump there; the object rests for the last frame.
- Fitting the pixels to keep (`fit_steps`, engine/video_tokenizer/fit.py): generated tokens also
  shape the decoded pixels next to them, so inpaint and outpaint (the known region) and interpolate
  (the last frame) end with 80 steps of decoder inversion that re-choose the generated tokens'
  bits to match the pixels to keep, holding the rest near its first decode. The known tokens stay
  exact. `engine.fit_steps = 0` turns it off; the settings JSON records it.
- Decoding: `decoding="autoregressive"` (the default; KV cache, one pass per token) or `"masked"`
  (MaskGIT over the same backbone run bidirectionally, `steps` passes per stage, 12 by default)
  for the video stages; the sound stays autoregressive (masked training covers video outputs
  only). `info` records the decoding, the steps and the transformer forward passes per stage.
- Number formats on the CPU: autoregressive decode steps read int8 copies of the block weights;
  full passes (masked steps, the fit's decodes) run under bf16 autocast where the CPU has native
  bf16 (`from_pretrained`'s `int8_decoding`, `bf16_passes`; `info["models"]` says which ran).
- Determinism: one `torch.Generator` per request, seeded with `seed`, drives every stage in a fixed
  order, so the same request gives the same result bit for bit on the same machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.components import WORLD_VERSION, model_version
from engine.device import bf16_autocast_pays, select_device
from engine.masks import pixel_to_token_mask
from engine.requests import (
    CLIP_FRAMES,
    CLIP_SAMPLES,
    DEFAULT_DECODING,
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    DEFAULT_TEMPERATURE,
    ENGINE_TASKS,
    FPS,
    GUIDANCE_BY_DECODING,
    MAX_CLIPS,
    MAX_STEPS,
    SAMPLE_RATE,
    SIZE,
    TASK_INPUTS,
    GenerationInputError,
    PromptTooLongError,
    validate_request,
)
from engine.run import Result, Run
from engine.structure import control_video
from engine.tasks import Sequence, build_sequence, get_task
from engine.training.data import tensor_to_video, video_to_tensor
from engine.transformer import MASK_INDEX, Transformer
from engine.video_tokenizer.fit import FIT_STEPS, fit_tokens
from engine.weights import resolve_weights

__all__ = [  # the request rules live in engine.requests; callers import them from here too
    "CLIP_FRAMES", "CLIP_SAMPLES", "DEFAULT_DECODING", "DEFAULT_GUIDANCE", "DEFAULT_STEPS", "DEFAULT_TEMPERATURE",
    "ENGINE_TASKS", "FPS", "GUIDANCE_BY_DECODING", "MAX_CLIPS", "MAX_STEPS", "SAMPLE_RATE", "SIZE", "TASK_INPUTS",
    "Engine", "GenerationInputError", "PromptTooLongError", "Result",
]

END_FRAMES = 2  # interpolate: how many of the clip's last pixel frames are the given last frame


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
        self.fit_steps = FIT_STEPS  # decoder-inversion steps for the pixels to keep (0: off)
        self.model_versions = {name: model_version(getattr(self, name))
                               for name in ("video_tokenizer", "audio_tokenizer", "transformer", "text_encoder")}
        self._lock = threading.Lock()  # the transformer's KV cache is per model: one request at a time

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | Path | None = None, device: str | torch.device | None = None,
                        *, onnx: bool | None = None, revision: str | None = None,
                        int8_decoding: bool | None = None, bf16_passes: bool | None = None) -> Engine:
        """Load every component from its subfolder of a weights folder or Hub repo (None: `weights/`).

        device None picks CUDA when present (the transformer then runs in bf16), the CPU otherwise.
        onnx None decodes through ONNX Runtime where the tokenizers' .onnx files are present and with
        PyTorch otherwise; True requires the ONNX files, False always uses PyTorch. int8_decoding
        None gives the CPU's autoregressive decode steps weight-only int8 block weights
        (`Transformer.quantize_decoding`; the judge's figures did not move, see NOTES.md) and leaves
        CUDA alone; False keeps float32 steps. `compile_decoding` afterwards compiles the step.
        bf16_passes None runs the full passes, the masked decoder's and the kept-pixel fit's decodes,
        under bf16 autocast on a CPU with native bf16 (`bf16_autocast_pays`: AVX-512 BF16 or AMX):
        a third less time, the judge's figures unchanged over 1,200 prompts and every masked task
        (NOTES.md, session 18); False keeps float32, True forces bf16.
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
        if int8_decoding or (int8_decoding is None and dev.type == "cpu"):
            transformer.quantize_decoding()
        video_decoder = audio_decoder = None
        if onnx is not False:
            video_decoder = OnnxVideoDecoder.from_folder(folder / "video_tokenizer")
            audio_path = folder / "audio_tokenizer" / ONNX_NAME
            audio_decoder = OnnxAudioDecoder(audio_path) if audio_path.is_file() else None
            if onnx and (video_decoder is None or audio_decoder is None):
                raise FileNotFoundError(f"onnx=True but {folder} lacks the tokenizers' decoder .onnx files")
        engine = cls(video_tokenizer, audio_tokenizer, text_encoder, transformer, video_decoder=video_decoder,
                     audio_decoder=audio_decoder, source=str(folder))
        transformer.bf16_passes = bool(bf16_passes or (bf16_passes is None and dev.type == "cpu"
                                                        and bf16_autocast_pays(dev)))
        return engine

    def compile_decoding(self) -> float:
        """Compile the transformer's one-token decode step (`Transformer.compile_decoding`) for both
        batch sizes a request uses (1, and 2 under guidance), so no request waits for it -> seconds.

        On the 2-core CPU this takes 36-46 s the first time (Inductor keeps its caches on disk, so a
        restart takes ~15 s) and makes autoregressive decoding ~2x faster. Samples then
        differ from the eager step's by float rounding; a seed still reproduces bit for bit.
        """
        with self._lock:
            return self.transformer.compile_decoding((1, 2))

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
                 guidance_scale: float | str | None = DEFAULT_GUIDANCE,
                 progress: Callable[[int, int], None] | None = None, num_clips: int = 1,
                 with_audio: bool = True, decoding: str = DEFAULT_DECODING, steps: int = DEFAULT_STEPS,
                 preview: Callable[[np.ndarray], None] | None = None) -> Result:
        """Run one task. See the module docstring and TASK_INPUTS for what each task takes.

        temperature 0 is greedy; top_k / top_p None turn those filters off; guidance_scale None or 1
        turns classifier-free guidance off, and its default is the decoding mode's scale
        (GUIDANCE_BY_DECODING) for every stage of the request. progress(done, total) counts steps over
        all stages of the request: decoded tokens, then the kept-pixel fit's steps where there is one
        (inpaint, outpaint, interpolate). num_clips > 1 chains clips (extend only).
        decoding "masked" runs the video stages with the MaskGIT decoder in `steps` passes;
        preview(frames uint8 (T, 64, 64, 3)) then gets the video being generated after each step,
        unfinished tokens at their current best guesses (the autoregressive decoder has no
        whole-clip guess, so it never calls preview).
        """
        start = time.perf_counter()
        request = validate_request(self.text_encoder, task, prompt, image, video, mask, audio, seed, temperature,
                                   top_k, top_p, guidance_scale, progress, num_clips, with_audio, decoding, steps,
                                   preview)
        validated = time.perf_counter()
        with self._lock:
            run = Run(self, request)
            run.timings["validate"] = validated - start
            video_out, audio_out = getattr(self, f"_task_{request.task}")(run)
            run.timings["total"] = time.perf_counter() - start
        return Result(video=video_out, audio=audio_out, fps=FPS, sample_rate=SAMPLE_RATE,
                      info=run.info(video_out), tokens=run.tokens, extras=run.extras)

    @property
    def fit_dtype(self) -> torch.dtype | None:
        """The kept-pixel fit's autocast dtype: bf16 when the full passes run in it (`bf16_passes`)."""
        return torch.bfloat16 if self.transformer.bf16_passes else None

    def versions(self) -> dict[str, Any]:
        """Versions of the components (config and weights), the world version and which decoders run."""
        return {
            **self.model_versions,
            "world_version": WORLD_VERSION,
            "video_decoder": _decoder_name(self.video_decoder),
            "audio_decoder": _decoder_name(self.audio_decoder),
            "decode_step": self.transformer.decode_step,
            "fit_decodes": "bfloat16 autocast" if self.fit_dtype else "float32",
            "weights": self.source,
        }

    # ---- tasks ----------------------------------------------------------------------------------
    def _task_text_to_video(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        tokens = run.sample(self._seq("text_to_video", self.clip_latent))
        return self._finish_clip(run, tokens)

    def _task_text_to_image(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        tokens = run.sample(self._seq("text_to_image", self.image_latent))
        run.tokens["video"] = tokens
        with run.timer("decode"):
            return self.decode_video(tokens), None

    def _task_image_to_video(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        return self._finish_clip(run, self._image_to_video(run, run.request.image))

    def _image_to_video(self, run: Run, image: np.ndarray) -> torch.Tensor:
        with run.timer("encode"):
            first = self.encode_video(image[None])  # (1, h, w)
        output = torch.full(self.clip_latent, MASK_INDEX, dtype=torch.long)
        output[:1] = first
        return run.sample(self._seq("image_to_video", self.clip_latent, input_video=first, output=output))

    def _task_interpolate(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        """Each frame encoded as an image -> (2, h, w) in the prefix; the output clip starts at the first."""
        with run.timer("encode"):
            ends = torch.cat([self.encode_video(frame[None]) for frame in run.request.video])  # (2, h, w)
        output = torch.full(self.clip_latent, MASK_INDEX, dtype=torch.long)
        output[:1] = ends[:1]
        tokens = run.sample(self._seq("interpolate", self.clip_latent, input_video=ends, output=output))
        return self._finish_clip(run, self._end_on(run, tokens, run.request.video[-1]))

    def _end_on(self, run: Run, tokens: torch.Tensor, last: np.ndarray) -> torch.Tensor:
        """tokens (t, h, w) of a clip -> the same with the last latent frame re-encoded, then fitted,
        so that the clip's last `END_FRAMES` pixel frames are `last` (64, 64, 3); see Interpolate above."""
        with run.timer("decode"):
            video = self.decode_video(tokens)
        video[-END_FRAMES:] = last
        with run.timer("encode"):
            end = self.encode_video(video)[-1:]  # (1, h, w)
        tokens = torch.cat([tokens[:-1], end])
        free = torch.zeros(tokens.shape, dtype=torch.bool)
        free[-1] = True
        known = np.zeros(video.shape[:3], dtype=bool)
        known[-END_FRAMES:] = True
        return self._fit(run, tokens, free, video, known)

    def _fit(self, run: Run, tokens: torch.Tensor, free: torch.Tensor, target: np.ndarray,
             known: np.ndarray) -> torch.Tensor:
        """`fit_tokens` on uint8 target (T, 64, 64, 3) and bool known (T, 64, 64), `fit_steps` steps."""
        if self.fit_steps <= 0:
            return tokens
        with run.timer("fit"), run.fitting(self.fit_steps) as on_step:
            return fit_tokens(self.video_tokenizer, tokens, free, video_to_tensor(target),
                              torch.from_numpy(np.ascontiguousarray(known)), steps=self.fit_steps,
                              on_step=on_step, dtype=self.fit_dtype)

    def _task_unconditional(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        return self._finish_clip(run, run.sample(self._seq("unconditional", self.clip_latent)))

    def _task_stylize(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        with run.timer("encode"):
            control = control_video(run.request.video)
            run.extras["control_video"] = control
            control_tokens = self.encode_video(control)
        seq = self._seq("stylize", self.clip_latent, control_video=control_tokens)
        return self._finish_clip(run, run.sample(seq))

    def _task_audio_to_video(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        with run.timer("encode"):
            audio_tokens = self.encode_audio(run.request.audio)
        tokens = run.sample(self._seq("audio_to_video", self.clip_latent, input_audio=audio_tokens))
        run.tokens["video"] = tokens
        with run.timer("decode"):
            video = self.decode_video(tokens)
        return video, run.request.audio.copy()

    def _task_video_to_audio(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        video = run.request.video
        with run.timer("encode"):
            tokens = self.encode_video(video)
        return video.copy(), self._sound_for(run, video, tokens, stage="generate")

    def _task_inpaint(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
        r = run.request
        with run.timer("encode"):
            source = self.encode_video(r.video)  # (t, h, w)
        token_mask = pixel_to_token_mask(r.mask, self.temporal_factor, self.spatial_factor)  # True = generate
        hidden = source.masked_fill(token_mask, MASK_INDEX)
        run.tokens["source"], run.tokens["token_mask"] = source, token_mask
        seq = self._seq(r.task, tuple(source.shape), input_video=hidden, output=hidden, known=~token_mask)
        tokens = self._fit(run, run.sample(seq), token_mask, r.video, ~r.mask)
        if r.video.shape[0] == 1:
            run.tokens["video"] = tokens
            with run.timer("decode"):
                return self.decode_video(tokens), None
        return self._finish_clip(run, tokens)

    _task_outpaint = _task_inpaint

    def _task_extend(self, run: Run) -> tuple[np.ndarray, np.ndarray | None]:
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
    def _seq(self, task: str, output_shape: tuple[int, ...], **segments: Any) -> Sequence:
        return build_sequence(task, self.vocab, output_shape=output_shape,
                              text_len=self.text_len if get_task(task).text else 0, **segments)

    def _finish_clip(self, run: Run, tokens: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode a generated clip and, when asked, give it its sound."""
        run.tokens["video"] = tokens
        with run.timer("decode"):
            video = self.decode_video(tokens)
        sound = self._sound_for(run, video, tokens) if run.request.with_audio else None
        return video, sound

    def _sound_for(self, run: Run, video: np.ndarray, tokens: torch.Tensor | None = None,
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
