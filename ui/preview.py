"""Live preview of masked decoding: the clip as it is refined, shown in the result video.

With decoding="masked" the engine calls `preview(frames)` after each MaskGIT step with the whole
clip at its current best guesses (uint8 (T, 64, 64, 3)); autoregressive decoding never calls it.
`streaming` turns a task callback (which returns the page's outputs) into a generator for its
button: the callback runs in a worker thread, the engine's guesses come back through a one-slot
`Mailbox` (a newer guess replaces one not yet shown, so a slow page never slows the engine), and
each is yielded as a silent MP4 into the result video, labelled as a preview, the other outputs
left as they are. Then the label is put back (and the preview cleared after an error), and the
last yield is the callback's own return value, unwrapped: gradio_client's `predict` returns a
generator's last value, so the API and a seed's file are what they were.

The callback reaches the mailbox through `PREVIEW`, a context variable set in the worker, which
`Studio.run` hands to the engine; examples and direct calls leave it unset and get no preview. On
ZeroGPU the engine runs in another process and previews do not come back (`common.on_gpu`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from engine.media import FPS, write_mp4
from ui.outputs import DISPLAY_SCALE, new_request_dir

PreviewSink = Callable[[np.ndarray], None]
PREVIEW: ContextVar[PreviewSink | None] = ContextVar("preview", default=None)


class Mailbox:
    """The engine's newest guess not yet shown, and how many it has sent; closed when the work ends."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._frames: np.ndarray | None = None
        self._sent = 0
        self._closed = False

    def put(self, frames: np.ndarray) -> None:
        with self._ready:
            self._frames, self._sent = frames, self._sent + 1
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()

    def take(self) -> tuple[np.ndarray, int] | None:
        """Wait for a guess: (frames, its step number), or None once closed (an unshown guess is dropped)."""
        with self._ready:
            self._ready.wait_for(lambda: self._frames is not None or self._closed)
            if self._closed:
                return None
            frames, self._frames = self._frames, None
            return frames, self._sent


def streaming(fn: Callable[..., list[Any]], outputs: list[gr.components.Component]
              ) -> Callable[..., Iterator[list[Any]]]:
    """`fn` as a generator over the same `outputs` (the result video first): previews, then its result.

    The signature Gradio sees is `fn`'s (functools.wraps), so the endpoint keeps its parameters."""
    video = outputs[0]

    def video_only(update: gr.Video) -> list[Any]:
        return [update, *[gr.skip()] * (len(outputs) - 1)]

    @functools.wraps(fn)
    def stream(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        mailbox = Mailbox()
        folder: Path | None = None
        # the worker runs in a copy of this context: Gradio finds the request's progress bar there
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-request") as worker:
            result = worker.submit(copy_context().run, _call_with_preview, mailbox, fn, args, kwargs)
            while (guess := mailbox.take()) is not None:
                folder = folder or new_request_dir()
                yield video_only(_preview_video(*guess, folder))
        if folder is not None:  # the video's own label back; after an error, no preview left behind
            yield video_only(gr.Video(label=video.label) if result.exception() is None else
                             gr.Video(value=None, label=video.label))
        yield result.result()  # the callback's values as they are (or its error): what the API returns

    return stream


def _call_with_preview(mailbox: Mailbox, fn: Callable[..., list[Any]], args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> list[Any]:
    PREVIEW.set(mailbox.put)
    try:
        return fn(*args, **kwargs)
    finally:
        mailbox.close()


def _preview_video(frames: np.ndarray, step: int, folder: Path) -> gr.Video:
    path = write_mp4(folder / f"preview-{step}.mp4", frames, fps=FPS, scale=DISPLAY_SCALE)
    return gr.Video(value=str(path), label=f"Preview: masked decoding, step {step} (still refining)")
