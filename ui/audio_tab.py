"""The Audio tab: sound for a clip (/video_to_audio) and a clip for a sound (/audio_to_video).

In the Moving Shapes world pitch follows height, timbre follows shape and a wall bounce clicks,
so each direction can be checked by eye and ear.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

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
from ui.outputs import example_media

AR, G = DEFAULT_DECODING, DEFAULT_GUIDANCE  # short, for the signatures


def video_to_audio_fn(studio: Studio):
    def video_to_audio(video: str, seed: int = 0, randomize_seed: bool = False, temperature: float = 1.0,
                       top_k: int = 0, guidance_scale: float = G, decoding: str = AR, steps: int = DEFAULT_STEPS,
                       progress: gr.Progress = PROGRESS) -> list[Any]:
        """The clip (its first 17 frames) with a new sound track; any sound it had is ignored."""
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        clip = check.video(video, "the clip")
        return studio.run("video_to_audio", sampling, {"video": describe_video(clip)}, progress, video=clip)

    return video_to_audio


def audio_to_video_fn(studio: Studio):
    def audio_to_video(audio: str, prompt: str = "", seed: int = 0, randomize_seed: bool = False,
                       temperature: float = 1.0, top_k: int = 0, guidance_scale: float = G, decoding: str = AR,
                       steps: int = DEFAULT_STEPS, progress: gr.Progress = PROGRESS) -> list[Any]:
        """A clip for the first 2.125 s of a sound (or of a video's sound track), with that sound."""
        text = check.prompt(prompt, required=False)
        sampling = Sampling.parse(seed, randomize_seed, temperature, top_k, guidance_scale, decoding, steps)
        sound = check.audio(audio, "the sound")
        inputs = {"audio": "uploaded sound (first 2.125 s at 16 kHz)", "prompt": text}
        return studio.run("audio_to_video", sampling, inputs, progress, audio=sound, prompt=text)

    return audio_to_video


def build_audio_tab(studio: Studio, last: gr.State) -> None:
    to_audio, to_video = video_to_audio_fn(studio), audio_to_video_fn(studio)
    media = example_media()
    with gr.Tab("Audio", id="audio"):
        gr.Markdown("**Video to audio**: give a clip a sound track. **Audio to video**: draw a clip for a sound. "
                    "Pitch follows height, timbre follows shape, and walls click.")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Clip", height=220, format=None)
                run_audio = gr.Button("Make its sound", variant="primary")
                audio_advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                audio_view = build_result("video_to_audio", "Clip with its new sound")
        task_examples([[media.clips[0], 1]], [video, audio_advanced.seed],
                      lambda v, s: to_audio(v, s, progress=None)[:-1], audio_view, audio_advanced,
                      "video_to_audio")
        wire_task(run_audio, to_audio, [video, *audio_advanced.inputs], audio_view, audio_advanced, last,
                  "video_to_audio")
        with gr.Row():
            with gr.Column(scale=2):
                audio = gr.Audio(label="Sound", type="filepath", format=None, sources=["upload", "microphone"])
                prompt = gr.Textbox(label="Prompt (optional)", value="")
                run_video = gr.Button("Draw a clip for it", variant="primary")
                video_advanced = build_advanced(seed=1)
            with gr.Column(scale=3):
                video_view = build_result("audio_to_video", "Clip for the sound")
        task_examples([[media.sounds[1], 1]], [audio, video_advanced.seed],
                      lambda a, s: to_video(a, "", s, progress=None)[:-1], video_view, video_advanced,
                      "audio_to_video")
        wire_task(run_video, to_video, [audio, prompt, *video_advanced.inputs], video_view, video_advanced, last,
                  "audio_to_video")
