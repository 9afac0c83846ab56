"""Tabs that make a clip from little: Text to Video, Image to Video, and Extend (with interpolation).

Each tab's callback is also a named API endpoint (/text_to_video, /image_to_video, /extend,
/interpolate) whose parameters are the callback's own: the task's inputs, then the Advanced
section (seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

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
    describe_image,
    describe_video,
    supports_task,
    task_examples,
    wire_task,
)
from ui.outputs import example_media
from ui.validation import ImagePath, Number

MAX_UI_CLIPS = 4  # extend: clips generated per request (each ~2 s of video)
AR, G = DEFAULT_DECODING, DEFAULT_GUIDANCE  # short, for the signatures


def text_to_video_fn(studio: Studio):
    def text_to_video(prompt: str, seed: int = 0, randomize_seed: bool = False, temperature: float = 1.0,
                      top_k: int = 0, guidance_scale: float = G, decoding: str = AR, steps: int = DEFAULT_STEPS,
                      progress: gr.Progress = PROGRESS) -> list[Any]:
        """A 17-frame clip with sound from a prompt."""
        text = check.prompt(prompt, required=True)
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        return studio.run("text_to_video", sampling, {"prompt": text}, progress, prompt=text)

    return text_to_video


def image_to_video_fn(studio: Studio):
    def image_to_video(image: str, prompt: str = "", seed: int = 0, randomize_seed: bool = False,
                       temperature: float = 1.0, top_k: int = 0, guidance_scale: float = G, decoding: str = AR,
                       steps: int = DEFAULT_STEPS, progress: gr.Progress = PROGRESS) -> list[Any]:
        """A clip that starts at the image (centre square, resized to 64x64), optionally guided by a prompt."""
        text = check.prompt(prompt, required=False)
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        picture = check.image(image, "an image")
        inputs = {"image": describe_image(picture), "prompt": text}
        return studio.run("image_to_video", sampling, inputs, progress, image=picture, prompt=text)

    return image_to_video


def extend_fn(studio: Studio):
    def extend(prompt: str = "", image: str | None = None, video: str | None = None, clips: int = 2,
               seed: int = 0, randomize_seed: bool = False, temperature: float = 1.0, top_k: int = 0,
               guidance_scale: float = G, decoding: str = AR, steps: int = DEFAULT_STEPS,
               progress: gr.Progress = PROGRESS) -> list[Any]:
        """A long video: continue a clip (its first 17 frames) by `clips` clips, or start from an image or
        a prompt and chain `clips` clips in all."""
        text = check.prompt(prompt, required=False)
        count = check.whole_number(clips, 1, MAX_UI_CLIPS, "The number of clips")
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        if image is not None and video is not None:
            raise check.invalid("Give a clip to continue or an image to start from, not both.")
        media: dict[str, Any] = {"prompt": text, "num_clips": count}
        inputs: dict[str, Any] = {"prompt": text, "clips": count}
        if video is not None:
            media["video"] = check.video(video, "the clip to continue")
            inputs["video"] = describe_video(media["video"])
        elif image is not None:
            media["image"] = check.image(image, "the starting image")
            inputs["image"] = describe_image(media["image"])
        return studio.run("extend", sampling, inputs, progress, **media)

    return extend


def interpolate_fn(studio: Studio):
    def interpolate(first_frame: str, last_frame: str, prompt: str = "", seed: int = 0,
                    randomize_seed: bool = False, temperature: float = 1.0, top_k: int = 0,
                    guidance_scale: float = G, decoding: str = AR, steps: int = DEFAULT_STEPS,
                    progress: gr.Progress = PROGRESS) -> list[Any]:
        """The frames between a first and a last frame."""
        text = check.prompt(prompt, required=False)
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        frames = np.stack([check.image(first_frame, "the first frame"), check.image(last_frame, "the last frame")])
        if not supports_task(studio.require_engine(), "interpolate"):
            raise gr.Error("Frame interpolation is not available with this engine version yet.",
                           title="Not available")
        inputs = {"first_frame": describe_image(frames[0]), "last_frame": describe_image(frames[1]), "prompt": text}
        return studio.run("interpolate", sampling, inputs, progress, video=frames, prompt=text)

    return interpolate


def build_text_to_video_tab(studio: Studio, last: gr.State) -> None:
    fn = text_to_video_fn(studio)
    with gr.Tab("Text to Video", id="text_to_video"):
        gr.Markdown("Describe a clip of the Moving Shapes world: a shape, its colour and size, how it moves, "
                    "the background and the camera. You get 17 frames (2.1 s) with sound.")
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", lines=2,
                                    placeholder="a red ball bouncing around on a sand background")
                run = gr.Button("Generate", variant="primary")
                advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                view = build_result("text_to_video")
        task_examples([[p, 1] for p in example_media().prompts], [prompt, advanced.seed],
                      lambda p, s: fn(p, s, progress=None)[:-1], view, advanced,
                      "text_to_video")
        wire_task(run, fn, [prompt, *advanced.inputs], view, advanced, last, "text_to_video")


def build_image_to_video_tab(studio: Studio, last: gr.State) -> None:
    fn = image_to_video_fn(studio)
    with gr.Tab("Image to Video", id="image_to_video"):
        gr.Markdown("Drop in an image: it becomes the first frame (centre square, 64x64) and the model "
                    "animates it. A prompt is optional.")
        with gr.Row():
            with gr.Column(scale=2):
                image = ImagePath(label="First frame", sources=["upload", "clipboard"], height=256)
                prompt = gr.Textbox(label="Prompt (optional)", value="", lines=2)
                run = gr.Button("Animate", variant="primary")
                advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                view = build_result("image_to_video")
        rows = [[path, 1] for path in example_media().first_frames]
        task_examples(rows, [image, advanced.seed], lambda i, s: fn(i, "", s, progress=None)[:-1], view,
                      advanced, "image_to_video")
        wire_task(run, fn, [image, prompt, *advanced.inputs], view, advanced, last, "image_to_video")


def build_extend_tab(studio: Studio, last: gr.State) -> None:
    extend, interpolate = extend_fn(studio), interpolate_fn(studio)
    media = example_media()
    with gr.Tab("Extend", id="extend"):
        gr.Markdown("**Long video**: continue a clip, or start from an image or a prompt, and chain clips "
                    "(each adds 16 frames, 2 s). **Interpolate**: give a first and a last frame and get the "
                    "clip between them.")
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt (optional)", value="", lines=2)
                with gr.Row():
                    image = ImagePath(label="Start from an image (optional)", height=200)
                    video = gr.Video(label="Or continue a clip (optional)", height=200, format=None)
                clips = Number(label=f"Clips to generate (1 to {MAX_UI_CLIPS})", value=2, precision=0)
                run = gr.Button("Extend", variant="primary")
                advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                view = build_result("extend", "Long video")
        rows = [[media.prompts[0], None, None, 2, 1], ["", media.first_frames[2], None, 2, 1],
                ["", None, media.clips[1], 1, 1]]
        task_examples(rows, [prompt, image, video, clips, advanced.seed],
                      lambda p, i, v, c, s: extend(p, i, v, c, s, progress=None)[:-1], view, advanced, "extend")
        wire_task(run, extend, [prompt, image, video, clips, *advanced.inputs], view, advanced, last, "extend")
        gr.Markdown("### Interpolate between two frames")
        with gr.Row():
            with gr.Column(scale=2):
                with gr.Row():
                    first = ImagePath(label="First frame", height=200)
                    final = ImagePath(label="Last frame", height=200)
                between_prompt = gr.Textbox(label="Prompt (optional)", value="")
                between = gr.Button("Interpolate", variant="primary")
                between_advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                between_view = build_result("interpolate", "Interpolated clip")
        if supports_task(studio.engine, "interpolate"):
            rows = [[media.first_frames[i], media.last_frames[i], 1] for i in range(2)]
            task_examples(rows, [first, final, between_advanced.seed],
                          lambda a, b, s: interpolate(a, b, "", s, progress=None)[:-1], between_view,
                          between_advanced, "interpolate")
        wire_task(between, interpolate, [first, final, between_prompt, *between_advanced.inputs], between_view,
                  between_advanced, last, "interpolate")
