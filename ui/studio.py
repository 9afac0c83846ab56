"""The studio page: a header that says what is loaded, then one tab per task.

Serving rules live here too (`queue_kwargs`, `launch_kwargs`): one generation at a time per
process, a bounded queue, an upload size cap, and no extra file paths exposed. More users means
more replicas of the Space, not more threads here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ui.world_tab import build_world_tab

MAX_QUEUE = 16  # requests waiting beyond this get a clean "queue full" answer
MAX_UPLOAD = "50mb"
CACHE_SWEEP = (1800, 3600)  # every 30 min, delete cached files older than an hour

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

    def status_line(self) -> str:
        loaded = ", ".join(self.components) if self.components else "none yet"
        return f"Weights: `{self.weights}` (components: {loaded}) · Device: {self.device}"


def build_studio(settings: StudioSettings) -> gr.Blocks:
    """The whole page. Building it does no model work, so it is cheap to construct in tests."""
    with gr.Blocks(title="MagPoet", delete_cache=CACHE_SWEEP) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(settings.status_line(), elem_id="status-line")
        with gr.Tabs():
            build_world_tab()
    return demo


def queue_kwargs() -> dict[str, Any]:
    return {"default_concurrency_limit": 1, "max_size": MAX_QUEUE}


def launch_kwargs(host: str | None, port: int | None) -> dict[str, Any]:
    return {
        "server_name": host,
        "server_port": port,
        "max_file_size": MAX_UPLOAD,
        "show_error": False,  # gr.Error messages reach the user; tracebacks never do
        "footer_links": ["api", "gradio"],
        "theme": gr.themes.Soft(primary_hue="violet", secondary_hue="cyan"),
    }
