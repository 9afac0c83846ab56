"""Tabs that change a clip: Inpaint, Outpaint and Stylize (endpoints /inpaint, /outpaint, /stylize).

Inpaint takes a region to regenerate: drawn on the first frame (the drawing applies to every
frame), or a preset from engine.masks, including one that follows the object (its silhouette in
each frame, grown by a few pixels). Stylize shows the control video the model actually
sees: the same silhouettes, white on black.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from engine import masks
from engine.masks import INPAINT_PRESETS, OUTPAINT_PRESETS
from engine.pipeline import Result
from ui import validation as check
from ui.common import (
    DEFAULT_DECODING,
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    PROGRESS,
    Sampling,
    Studio,
    build_advanced,
    build_result,
    describe_video,
    task_examples,
    wire_task,
)
from ui.outputs import DISPLAY_SCALE, example_media, write_clip
from ui.validation import MaskEditor, Radio, editor_value

AR, G = DEFAULT_DECODING, DEFAULT_GUIDANCE  # short, for the signatures
INPAINT_LABELS = {"centre": "Centre box", "left": "Left half", "object": "Follow the object"}
INPAINT_CHOICES = [("Draw on the first frame", "draw"), *((INPAINT_LABELS[p], p) for p in INPAINT_PRESETS)]
OUTPAINT_LABELS = {"centre": "Keep the centre", "left": "Keep the left half", "right": "Keep the right half",
                   "top": "Keep the top half", "bottom": "Keep the bottom half"}


def inpaint_mask(preset: str, drawing: Any, video: np.ndarray) -> np.ndarray:
    """bool mask, True = regenerate: (64, 64) for a drawing or a box, (T, 64, 64) for the object."""
    if preset == "draw":
        mask = check.drawn_mask(drawing)
        if mask is None:
            raise check.invalid("Draw over the region to repaint on the first frame, or pick a preset.")
        return mask
    mask = masks.inpaint_mask(preset, video)
    if not mask.any():
        raise check.invalid("No object was found to follow in this clip; draw the region instead.")
    return mask


def inpaint_fn(studio: Studio):
    def inpaint(video: str, mask_preset: str = "draw", mask: dict | None = None, prompt: str = "", seed: int = 0,
                randomize_seed: bool = False, temperature: float = 1.0, top_k: int = 0,
                guidance_scale: float = G, decoding: str = AR, steps: int = DEFAULT_STEPS,
                progress: gr.Progress = PROGRESS) -> list[Any]:
        """Regenerate a region of a clip and keep the rest."""
        text = check.prompt(prompt, required=False)
        preset = check.choice(mask_preset, [value for _, value in INPAINT_CHOICES], "a mask")
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        clip = check.video(video, "the clip to inpaint")
        region = inpaint_mask(preset, mask, clip)
        inputs = {"video": describe_video(clip), "mask_preset": preset,
                  "masked_fraction": round(float(region.mean()), 4), "prompt": text}
        return studio.run("inpaint", sampling, inputs, progress, video=clip, mask=region, prompt=text)

    return inpaint


def outpaint_fn(studio: Studio):
    def outpaint(video: str, keep: str = "centre", prompt: str = "", seed: int = 0, randomize_seed: bool = False,
                 temperature: float = 1.0, top_k: int = 0, guidance_scale: float = G, decoding: str = AR,
                 steps: int = DEFAULT_STEPS, progress: gr.Progress = PROGRESS) -> list[Any]:
        """Keep one region of a clip (`keep`: centre, left, right, top, bottom) and generate the rest."""
        text = check.prompt(prompt, required=False)
        preset = check.choice(keep, OUTPAINT_PRESETS, "the region to keep")
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        clip = check.video(video, "the clip to outpaint")
        inputs = {"video": describe_video(clip), "keep": preset, "prompt": text}
        return studio.run("outpaint", sampling, inputs, progress, video=clip, mask=preset, prompt=text)

    return outpaint


def stylize_fn(studio: Studio):
    def stylize(video: str, prompt: str, seed: int = 0, randomize_seed: bool = False, temperature: float = 1.0,
                top_k: int = 0, guidance_scale: float = G, decoding: str = AR, steps: int = DEFAULT_STEPS,
                progress: gr.Progress = PROGRESS) -> list[Any]:
        """Redraw a clip in the look the prompt describes, keeping where its objects are and how they move.
        Returns the control video (the silhouettes the model sees) after the seed."""
        text = check.prompt(prompt, required=True)
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        clip = check.video(video, "the clip to stylize")
        inputs = {"video": describe_video(clip), "prompt": text}
        return studio.run("stylize", sampling, inputs, progress, extras=_control_clip, video=clip, prompt=text)

    return stylize


def _control_clip(result: Result) -> list[Any]:
    control = result.extras.get("control_video")
    return [None if control is None else write_clip(control, None, "control").display]


def first_frame_for_editor(video: str | None) -> dict[str, Any] | None:
    """The uploaded clip's first frame, enlarged, as the drawing canvas's background."""
    if video is None:
        return None
    frame = check.video(video, "the clip to inpaint", frames=1)[0]
    return editor_value(frame.repeat(DISPLAY_SCALE, axis=0).repeat(DISPLAY_SCALE, axis=1))


def build_inpaint_tab(studio: Studio, last: gr.State) -> None:
    fn = inpaint_fn(studio)
    with gr.Tab("Inpaint", id="inpaint"):
        gr.Markdown("Upload a clip, then paint the region to regenerate on its first frame (it applies to "
                    "every frame) or pick a preset. Everything outside the region is kept.")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Clip", height=220, format=None, elem_id="inpaint-clip")
                preset = Radio(INPAINT_CHOICES, value="draw", label="Region to regenerate")
                editor = MaskEditor(label="Paint the region on the first frame", canvas_size=(256, 256),
                                    elem_id="inpaint-editor",
                                    fixed_canvas=True, sources=(), layers=False, transforms=(), height=300,
                                    brush=gr.Brush(colors=["#ff00ff"], default_size=24, color_mode="fixed"))
                prompt = gr.Textbox(label="Prompt (optional)", value="")
                run = gr.Button("Inpaint", variant="primary")
                advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                view = build_result("inpaint")
        clips = example_media().clips
        task_examples([[clips[0], "object", 1], [clips[1], "centre", 1]], [video, preset, advanced.seed],
                      lambda v, p, s: fn(v, p, None, "", s, progress=None)[:-1], view, advanced,
                      "inpaint")
        video.change(first_frame_for_editor, video, editor, api_visibility="private")
        wire_task(run, fn, [video, preset, editor, prompt, *advanced.inputs], view, advanced, last, "inpaint")


def build_outpaint_tab(studio: Studio, last: gr.State) -> None:
    fn = outpaint_fn(studio)
    with gr.Tab("Outpaint", id="outpaint"):
        gr.Markdown("Keep one part of a clip and let the model draw the rest around it.")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Clip", height=220, format=None)
                keep = Radio([(OUTPAINT_LABELS[p], p) for p in OUTPAINT_PRESETS], value="centre", label="Keep")
                prompt = gr.Textbox(label="Prompt (optional)", value="")
                run = gr.Button("Outpaint", variant="primary")
                advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                view = build_result("outpaint")
        clips = example_media().clips
        task_examples([[clips[0], "centre", 1], [clips[2], "left", 1]], [video, keep, advanced.seed],
                      lambda v, k, s: fn(v, k, "", s, progress=None)[:-1], view, advanced,
                      "outpaint")
        wire_task(run, fn, [video, keep, prompt, *advanced.inputs], view, advanced, last, "outpaint")


def build_stylize_tab(studio: Studio, last: gr.State) -> None:
    fn = stylize_fn(studio)
    media = example_media()
    with gr.Tab("Stylize", id="stylize"):
        gr.Markdown("Keep the motion, change the look: upload a clip (or take your last result) and describe "
                    "the new style. Beside the result is the control video the model sees.")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Clip", height=220, format=None)
                take_last = gr.Button("Use my last result", size="sm")
                prompt = gr.Textbox(label="Prompt", lines=2)
                run = gr.Button("Stylize", variant="primary")
                advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                view = build_result("stylize", "Stylized")
                view.extras.append(gr.Video(label="Control video (what the model sees)", autoplay=True,
                                            loop=True, height=200, interactive=False))
        rows = [[media.clips[i], media.styled_prompts[i], 1] for i in range(2)]
        task_examples(rows, [video, prompt, advanced.seed], lambda v, p, s: fn(v, p, s, progress=None)[:-1],
                      view, advanced, "stylize")
        take_last.click(_last_or_error, last, video, api_visibility="private", queue=False)
        wire_task(run, fn, [video, prompt, *advanced.inputs], view, advanced, last, "stylize")


def _last_or_error(path: str | None) -> str:
    if not path:
        raise check.invalid("There is no result yet in this session: generate a clip first.")
    return path
