"""World tab: render Moving Shapes clips by seed, with their captions and ground truth.

This is what the default models know; a user can see the world before asking it for anything.
"""

from __future__ import annotations

import random
from typing import Any

import gradio as gr

from engine.world import EVAL_SEED_START, FPS, SAMPLE_RATE, Clip, sample, sample_pair, scene_to_dict
from ui import validation as check
from ui.outputs import write_clip
from ui.validation import Number, Radio

KINDS = ["clip", "stylisation pair"]
SPLITS = ["train", "eval"]
EXAMPLE_SEEDS = [[7, "train", "clip"], [1234, "eval", "clip"], [42, "train", "stylisation pair"]]


def world_seed(seed: Any, split: Any) -> int:
    """The world seed for a seed typed in the box: eval seeds live above EVAL_SEED_START."""
    number = check.whole_number(seed, 0, EVAL_SEED_START - 1, "The seed")
    return number + (EVAL_SEED_START if check.choice(split, SPLITS, "a split") == "eval" else 0)


def _write(clip: Clip, name: str) -> tuple[str, str]:
    files = write_clip(clip.video, clip.audio, name, fps=FPS, sample_rate=SAMPLE_RATE)
    return files.display, files.native


def render_world(seed: Any, split: Any, kind: Any) -> tuple[Any, ...]:
    """Render one clip (or a stylisation pair) and format it for the page."""
    kind = check.choice(kind, KINDS, "what to render")
    used = world_seed(seed, split)
    if kind == "clip":
        first, second = sample(used), None
    else:
        first, second = sample_pair(used)
    video, native = _write(first, f"world-{used}")
    info: dict[str, Any] = {"seed": used, "split": first.split, "scene": scene_to_dict(first.scene)}
    if second is None:
        hidden = gr.update(value=None, visible=False)
        return video, native, first.caption, hidden, hidden, info
    video2, _ = _write(second, f"world-{used}-styled")
    info["styled_scene"] = scene_to_dict(second.scene)
    return (video, native, first.caption, gr.update(value=video2, visible=True),
            gr.update(value=second.caption, visible=True), info)


def random_seed() -> int:
    return random.randrange(EVAL_SEED_START)


def build_world_tab() -> None:
    with gr.Tab("World", id="world"):
        gr.Markdown(
            "Every clip of the world comes from a seed: 17 frames of 64x64 at 8 fps with sound "
            "(pitch follows height, timbre follows shape, walls click). The **eval** split uses "
            "phrasings the models never saw in training. A **stylisation pair** keeps the motion "
            "and changes the look."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                seed = Number(label="Seed", value=7, precision=0)
                dice = gr.Button("Random seed", size="sm")
                split = Radio(SPLITS, value="train", label="Split")
                kind = Radio(KINDS, value="clip", label="Render")
                run = gr.Button("Render", variant="primary")
            with gr.Column(scale=2):
                video = gr.Video(label="Clip (shown at 256x256)", autoplay=True, loop=True, height=300,
                                 elem_id="world-tab-video")
                caption = gr.Textbox(label="Caption", interactive=False)
                native = gr.File(label="Download the native 64x64 MP4")
            with gr.Column(scale=2):
                video2 = gr.Video(label="Styled twin", autoplay=True, loop=True, height=300, visible=False)
                caption2 = gr.Textbox(label="Styled caption", interactive=False, visible=False)
        truth = gr.JSON(label="Ground truth (what the renderer drew)")
        outputs = [video, native, caption, video2, caption2, truth]
        gr.Examples(EXAMPLE_SEEDS, inputs=[seed, split, kind], outputs=outputs, fn=render_world,
                    cache_examples=False, run_on_click=True)
        dice.click(random_seed, outputs=seed, api_visibility="private", queue=False)
        run.click(render_world, [seed, split, kind], outputs, api_name="world")
