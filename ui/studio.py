"""The studio page: a header that says what is loaded, then one tab per task.

Serving rules live here too (`queue_kwargs`, `launch_kwargs`): one generation at a time per
process, a bounded queue, an upload size cap, and no extra file paths exposed. More users means
more replicas of the Space, not more threads here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from ui.audio_tab import build_audio_tab
from ui.common import Studio
from ui.tabs_edit import build_inpaint_tab, build_outpaint_tab, build_stylize_tab
from ui.tabs_generate import build_extend_tab, build_image_to_video_tab, build_text_to_video_tab
from ui.tokenizer_tab import build_tokenizer_tab
from ui.world_tab import build_world_tab

MAX_QUEUE = 16  # requests waiting beyond this get a clean "queue full" answer
MAX_UPLOAD = "50mb"
CACHE_SWEEP = (1800, 3600)  # every 30 min, delete cached files older than an hour
# Gradio keeps every session's copy of the page config (~1 MB here) until this many newer sessions
# push it out (its default, 10,000, lets an API-heavy server grow by gigabytes); a session pushed out
# only loses its "last result".
SESSION_CAPACITY = 50
EXAMPLES_CACHE = Path(".gradio/cached_examples")

INTRO = """# MagPoet
**Multi-task video generation with discrete tokens** — a causal 3D CNN video tokenizer with
lookup-free quantization, an audio codec, and one transformer for every task, after MAGVIT,
MAGVIT-v2, VideoPoet and SPAE. The default models learn the *Moving Shapes* world: coloured shapes
moving over simple backgrounds, with sound that follows them."""


@dataclass(frozen=True)
class StudioSettings:
    """What the studio was started with, shown in its header."""

    weights: Path
    device: str
    components: list[str] = field(default_factory=list)
    examples_cache: Path = EXAMPLES_CACHE  # one subfolder per model version under this

    def status_line(self) -> str:
        loaded = ", ".join(self.components) if self.components else "none yet"
        return f"Weights: `{self.weights}` (components: {loaded}) · Device: {self.device}"


def build_studio(settings: StudioSettings, engine: Any | None = None, tokenizer: Any | None = None) -> gr.Blocks:
    """The whole page around a loaded `engine`. Without one, only the World tab works, and the Tokenizer
    tab when `tokenizer` (see tokenizer_tab.VideoTokenizerOnly) is given.

    Building it does no model work (examples run lazily, on first use), so it is cheap in tests.
    """
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(settings.examples_cache / model_key(engine or tokenizer))
    studio = Studio(engine, tokenizer)
    with gr.Blocks(title="MagPoet", delete_cache=CACHE_SWEEP) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(settings.status_line(), elem_id="status-line")
        last = gr.State(None)  # this session's latest result (native MP4), for "use my last result"
        with gr.Tabs():
            build_text_to_video_tab(studio, last)
            build_image_to_video_tab(studio, last)
            build_inpaint_tab(studio, last)
            build_outpaint_tab(studio, last)
            build_stylize_tab(studio, last)
            build_audio_tab(studio, last)
            build_extend_tab(studio, last)
            build_tokenizer_tab(studio)
            build_world_tab()
    return demo


def model_key(engine: Any | None) -> str:
    """A short fingerprint of the loaded models' configs and weights, so cached examples never outlive the
    weights that made them (a retrained model keeps its config hash; its weights change)."""
    if engine is None:
        return "no-engine"
    versions = {k: v for k, v in engine.versions().items() if k != "weights"}
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode())
    for name in ("video_tokenizer", "audio_tokenizer", "transformer"):
        module = getattr(engine, name, None)
        for key, tensor in sorted(module.state_dict().items()) if module is not None else []:
            digest.update(key.encode())
            digest.update(tensor.detach().reshape(-1).contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]


def queue_kwargs() -> dict[str, Any]:
    return {"default_concurrency_limit": 1, "max_size": MAX_QUEUE}


def launch_kwargs(host: str | None, port: int | None) -> dict[str, Any]:
    return {
        "server_name": host,
        "server_port": port,
        "max_file_size": MAX_UPLOAD,
        "state_session_capacity": SESSION_CAPACITY,
        "show_error": False,  # gr.Error messages reach the user; tracebacks never do
        "footer_links": ["api", "gradio"],
        "theme": gr.themes.Soft(primary_hue="violet", secondary_hue="cyan"),
    }
