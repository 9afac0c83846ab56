"""What every task tab shares: the Advanced section, the result outputs, and one request runner.

A task callback is thin: validate its own inputs (ui/validation.py), then `Studio.run` parses the
sampling settings, calls the engine with a progress bar, writes the MP4s into a private folder
(ui/outputs.py) and returns the page's outputs plus the settings JSON. `wire_task` makes the
callback its button's named endpoint, streaming masked decoding's previews (ui/preview.py).

Hugging Face ZeroGPU: `on_gpu` holds a GPU only while the engine works, for as long as the request
needs. When the `spaces` package is importable (it is on a Space) it wraps a function with
`spaces.GPU(duration=gpu_seconds)`; the duration callable receives the call's arguments and returns
the seconds to reserve. Anywhere else the function is returned unchanged (and `spaces.GPU` itself
does nothing off ZeroGPU hardware). ZeroGPU runs the function in a worker process and pickles its
arguments, so the wrapped functions take an engine *id* (`register_engine`; the worker inherits the
registry), and on a Space the progress and preview callbacks, closures, are left behind: there the
bar shows only start and end, and masked decoding shows no preview.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import inspect
import logging
import math
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np

from engine.media import MediaError
from engine.pipeline import ENGINE_TASKS, GUIDANCE_BY_DECODING, GenerationInputError, Result
from ui import validation as check
from ui.outputs import write_clip
from ui.preview import PREVIEW, streaming
from ui.validation import Number, Radio, Slider

log = logging.getLogger(__name__)
# Example rows may leave optional inputs empty (None) and the callbacks handle that; Gradio warns anyway.
warnings.filterwarnings("ignore", message="Examples will be cached but not all input components")

DECODINGS = ("autoregressive", "masked")
DEFAULT_DECODING = DECODINGS[0]
DEFAULT_GUIDANCE = GUIDANCE_BY_DECODING[DEFAULT_DECODING]  # the slider's start; it follows the decoding mode
MAX_TEMPERATURE, MAX_GUIDANCE, MAX_TOP_K, MAX_STEPS = 2.0, 10.0, 100_000, 64
DEFAULT_STEPS = 12
NO_ENGINE = ("The generator is not loaded in this studio (its weights are missing), so only the World and "
             "Tokenizer tabs work. Start it with weights that include a transformer.")


@dataclass(frozen=True)
class Sampling:
    """The Advanced section's values, checked. `top_k` 0 and `guidance_scale` 1 mean off."""

    seed: int
    temperature: float
    top_k: int
    guidance_scale: float
    decoding: str
    steps: int

    @classmethod
    def parse(cls, seed: Any, randomize: Any, temperature: Any, top_k: Any, guidance_scale: Any,
              decoding: Any, steps: Any) -> Sampling:
        used = secrets.randbelow(check.MAX_SEED + 1) if check.flag(randomize, "Randomize seed") else \
            check.whole_number(seed, 0, check.MAX_SEED, "The seed")
        return cls(seed=used,
                   temperature=check.real_number(temperature, 0.0, MAX_TEMPERATURE, "The temperature"),
                   top_k=check.whole_number(top_k, 0, MAX_TOP_K, "Top-k"),
                   guidance_scale=check.real_number(guidance_scale, 0.0, MAX_GUIDANCE, "The guidance scale"),
                   decoding=check.choice(decoding, DECODINGS, "a decoding mode"),
                   steps=check.whole_number(steps, 1, MAX_STEPS, "The number of steps"))

    def engine_kwargs(self, engine: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"seed": self.seed, "temperature": self.temperature,
                                  "top_k": self.top_k or None, "guidance_scale": self.guidance_scale}
        if supports_decoding(engine):
            kwargs.update(decoding=self.decoding, steps=self.steps)
        elif self.decoding != DEFAULT_DECODING:
            raise check.invalid("Masked decoding is not available with this engine; pick autoregressive.")
        return kwargs


def supports_decoding(engine: Any) -> bool:
    return "decoding" in inspect.signature(engine.generate).parameters


def supports_task(engine: Any, task: str) -> bool:
    return task in getattr(engine, "tasks", ENGINE_TASKS)


@dataclass
class Advanced:
    """The Advanced section's components, in the order every task callback takes them."""

    seed: gr.Number
    randomize: gr.Checkbox
    temperature: gr.Slider
    top_k: gr.Number
    guidance_scale: gr.Slider
    decoding: gr.Radio
    steps: gr.Slider

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.seed, self.randomize, self.temperature, self.top_k, self.guidance_scale, self.decoding,
                self.steps]


def build_advanced(seed: int = 0) -> Advanced:
    with gr.Accordion("Advanced", open=False):
        with gr.Row():
            seed_box = Number(label="Seed", info="the seed used is shown here after each run", value=seed,
                              precision=0)
            randomize = gr.Checkbox(label="Randomize seed", value=False)
        with gr.Row():
            temperature = Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature (0 = greedy)")
            top_k = Number(label="Top-k (0 = off)", value=0, precision=0)
            guidance = Slider(0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=0.1,
                              label="Guidance scale (1 = off; used with a prompt)")
        with gr.Row():
            decoding = Radio(list(DECODINGS), value=DEFAULT_DECODING, label="Decoding")
            steps = Slider(1, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="Steps (masked decoding)")
    decoding.change(guidance_for, decoding, guidance, api_visibility="private", queue=False)
    return Advanced(seed_box, randomize, temperature, top_k, guidance, decoding, steps)


def guidance_for(decoding: str) -> float:
    """The guidance slider's value when the decoding mode changes: that mode's default scale."""
    return GUIDANCE_BY_DECODING.get(decoding, DEFAULT_GUIDANCE)


@dataclass
class ResultView:
    """The result column: the clip that plays in the page, the native download and the settings."""

    video: gr.Video
    download: gr.File
    settings: gr.JSON
    extras: list[gr.components.Component] = field(default_factory=list)


def build_result(name: str, label: str = "Result") -> ResultView:
    """`name` (the endpoint's) names the elements, e.g. #text_to_video-video, for tests and styling."""
    video = gr.Video(label=f"{label} (shown at 256x256)", autoplay=True, loop=True, height=300, interactive=False,
                     elem_id=f"{name}-video")
    download = gr.File(label="Download the native 64x64 MP4", interactive=False)
    settings = gr.JSON(label="Settings (task, inputs, seed, sampling, model version, timings)",
                       elem_id=f"{name}-settings")
    return ResultView(video, download, settings)


def outputs_for(view: ResultView, advanced: Advanced, last: gr.State) -> list[gr.components.Component]:
    """Outputs of a task event: video, download, settings, the seed used, then extras and the last result."""
    return [view.video, view.download, view.settings, advanced.seed, *view.extras, last]


def task_examples(rows: list[list[Any]], inputs: list[gr.components.Component], fn: Callable[..., list[Any]],
                  view: ResultView, advanced: Advanced, name: str) -> gr.Examples:
    """Examples that run `fn` on first use and are served from the cache after (for all users)."""
    return gr.Examples(rows, inputs=inputs, outputs=[view.video, view.download, view.settings, advanced.seed,
                                                     *view.extras], fn=fn, cache_examples=True, cache_mode="lazy",
                       elem_id=f"{name}-examples")


PROGRESS = gr.Progress()  # as a callback's default, it is how Gradio passes in the request's progress bar
ENGINE_QUEUE = "engine"  # every event that runs the engine shares one queue slot (one request at a time)


def wire_task(button: gr.Button, fn: Callable[..., list[Any]], inputs: list[gr.components.Component],
              view: ResultView, advanced: Advanced, last: gr.State, api_name: str) -> None:
    """`button` runs the task callback `fn` as the endpoint /`api_name`, in the engine's queue slot; with
    masked decoding the result video shows the clip as it is refined (ui/preview.py)."""
    outputs = outputs_for(view, advanced, last)
    button.click(streaming(fn, outputs), inputs, outputs, api_name=api_name, concurrency_id=ENGINE_QUEUE)


PROGRESS_EVERY_S = 0.2  # see progress_callback


def progress_callback(progress: gr.Progress | None) -> Callable[[int, int], None] | None:
    """The engine's progress(done, total), passed on to the page at most every PROGRESS_EVERY_S seconds
    (and at the end). The engine reports every step (a decoded token, ~750 a clip, or a step of the
    kept-pixel fit), and each update is a message to every client listening; a bar needs a few a
    second, and the 2 cores are decoding."""
    if progress is None:
        return None
    last = -math.inf

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < PROGRESS_EVERY_S:
            return
        last = now
        progress((done, total), desc="Generating", unit="steps")

    return report


# ---- ZeroGPU (see the module docstring) --------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])
BASE_SECONDS = 40  # one clip with its sound, plus moving onto the GPU
SECONDS_PER_CLIP = 30  # each further clip of `extend`
_ENGINES: dict[int, Any] = {}


def register_engine(engine: Any) -> int:
    """An id that `engine_by_id` maps back to `engine`, in this process and in ZeroGPU's workers."""
    _ENGINES[id(engine)] = engine
    return id(engine)


def engine_by_id(engine_id: int) -> Any:
    return _ENGINES[engine_id]


def gpu_seconds(*args: Any, **kwargs: Any) -> int:
    """Seconds to reserve for one `generate(engine_id, task, **kwargs)` call."""
    clips = kwargs.get("num_clips", 1)
    extra_steps = max(0, kwargs.get("steps", 12) - 12) if kwargs.get("decoding") == "masked" else 0
    return int(BASE_SECONDS + SECONDS_PER_CLIP * (clips - 1) + extra_steps)


def on_gpu(fn: F) -> F:
    if importlib.util.find_spec("spaces") is None:
        return fn
    import spaces

    gpu_fn = spaces.GPU(duration=gpu_seconds)(fn)

    @functools.wraps(fn)
    def call(*args: Any, progress: Any = None, preview: Any = None, **kwargs: Any) -> Any:
        return gpu_fn(*args, **kwargs)

    return call  # type: ignore[return-value]


class Studio:
    """The loaded engine (or None), the video tokenizer for the Tokenizer tab (the engine itself when
    there is one), and the request runner every tab calls."""

    def __init__(self, engine: Any | None, tokenizer: Any | None = None) -> None:
        self.engine = engine
        self.engine_id = None if engine is None else register_engine(engine)
        self.tokenizer = engine if engine is not None else tokenizer
        self.tokenizer_id = None if self.tokenizer is None else register_engine(self.tokenizer)

    def require_engine(self) -> Any:
        if self.engine is None:
            raise gr.Error(NO_ENGINE, title="Not available")
        return self.engine

    def require_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise gr.Error("The video tokenizer is not loaded in this studio.", title="Not available")
        return self.tokenizer

    def run(self, task: str, sampling: Sampling, inputs: dict[str, Any], progress: gr.Progress | None,
            *, extras: Callable[[Result], list[Any]] | None = None, **media: Any) -> list[Any]:
        """Run one request; returns the values for `outputs_for` (extras between the seed and the state).
        Under `wire_task`, masked decoding sends its guesses to the preview (ui/preview.py)."""
        engine = self.require_engine()
        started = time.perf_counter()
        kwargs = sampling.engine_kwargs(engine)
        if sampling.decoding == "masked" and (preview := PREVIEW.get()) is not None:
            kwargs["preview"] = preview
        try:
            result = generate(self.engine_id, task, progress=progress_callback(progress), **kwargs, **media)
            write_start = time.perf_counter()
            files = write_clip(result.video, result.audio, task.replace("_", "-"), fps=result.fps,
                               sample_rate=result.sample_rate)
            more = extras(result) if extras else []
        finally:
            release_freed_memory()
        settings = settings_json(task, inputs, sampling, result, write_s=time.perf_counter() - write_start,
                                 request_s=time.perf_counter() - started)
        return [files.display, files.native, settings, sampling.seed, *more, files.native]


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_freed_memory() -> None:
    """Give the heap pages a request freed back to the OS (glibc's malloc_trim; elsewhere nothing).

    Gradio runs requests on a pool of threads and glibc gives threads their own heap arenas, which
    keep freed pages: without this a server's memory crept up ~45 MB per 24 requests and stayed up.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@on_gpu
def generate(engine_id: int, task: str, *, progress: Callable[[int, int], None] | None = None,
             **kwargs: Any) -> Result:
    """engine.generate with its errors turned into messages for the page (never a traceback)."""
    try:
        return engine_by_id(engine_id).generate(task, progress=progress, **kwargs)
    except (GenerationInputError, MediaError) as error:
        message = str(error)
        raise check.invalid(message[:1].upper() + message[1:]) from None
    except Exception:
        log.exception("generation failed: task=%s", task)
        raise gr.Error("Something went wrong while generating. Please try again.", title="Error") from None


def settings_json(task: str, inputs: dict[str, Any], sampling: Sampling, result: Result, *, write_s: float,
                  request_s: float) -> dict[str, Any]:
    """What made this result, in a form that reproduces it."""
    info = result.info
    timings = dict(info.get("timings", {}))
    timings.update(write_mp4=round(write_s, 4), request=round(request_s, 4))
    return {
        "task": task,
        "inputs": inputs,
        "seed": sampling.seed,
        "sampling": {**asdict(sampling), "top_k": sampling.top_k or None,
                     "guidance_used": info.get("settings", {}).get("guidance_used")},
        "model": _public(info.get("models", {})),
        "device": info.get("device"),
        "output": {"frames": int(result.video.shape[0]), "fps": result.fps,
                   "seconds": round(result.video.shape[0] / result.fps, 3),
                   "sound": result.audio is not None},
        "timings": timings,
    }


def _public(models: dict[str, Any]) -> dict[str, Any]:
    """Model versions without the server's folder layout (only the weights folder's own name)."""
    weights = models.get("weights")
    return {**models, "weights": Path(weights).name if weights else weights}


def describe_image(image: np.ndarray) -> str:
    return f"uploaded image ({image.shape[1]}x{image.shape[0]} after resizing)"


def describe_video(video: np.ndarray) -> str:
    return f"uploaded clip ({video.shape[0]} frames of {video.shape[2]}x{video.shape[1]} at 8 fps)"
