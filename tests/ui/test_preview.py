"""The live preview of masked decoding (ui/preview.py), without a server: the task callback, wrapped
for its button, yields the clip as it is refined before its result, and the result is unchanged."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from tests.ui.conftest import probe
from ui.common import Studio, build_advanced, build_result, outputs_for
from ui.preview import Mailbox, streaming
from ui.tabs_generate import text_to_video_fn

SKIP = gr.skip()


def sampling(decoding: str) -> tuple:
    """text_to_video's arguments after the prompt: seed, randomize, temperature, top_k, guidance, decoding, steps."""
    return 5, False, 1.0, 0, 2.0, decoding, 4


@pytest.fixture
def task(tiny_engine):
    """(plain callback, its streaming form for the button, the result video's own label)."""
    with gr.Blocks():
        view, advanced, last = build_result("text_to_video"), build_advanced(), gr.State()
    fn = text_to_video_fn(Studio(tiny_engine))
    return fn, streaming(fn, outputs_for(view, advanced, last)), view.video.label


@pytest.fixture
def slow_decoder(tiny_engine, monkeypatch):
    """Each decode (the preview's too) takes a little longer, as on a real model, so the page keeps up."""
    decode = tiny_engine.decode_video

    def slow(*args, **kwargs):
        time.sleep(0.03)
        return decode(*args, **kwargs)

    monkeypatch.setattr(tiny_engine, "decode_video", slow)


def _file(update: gr.Video) -> Path:
    return Path(update.value["path"])


def test_masked_decoding_shows_the_clip_as_it_is_refined_then_the_same_result(task, slow_decoder):
    fn, stream, label = task
    *previews, relabel, result = list(stream("a red ball", *sampling("masked"), progress=None))
    assert previews, "no preview before the result"
    steps = []
    for preview in previews:
        video, *rest = preview
        assert rest == [SKIP] * 4 and video.label.startswith("Preview: masked decoding, step")
        described = probe(_file(video))
        assert "256x256" in described and "Audio" not in described
        steps.append(int(video.label.split("step ")[1].split()[0]))
    assert steps == sorted(set(steps)) and steps[-1] <= 4
    assert relabel[0].label == label and "value" not in relabel[0].constructor_args and relabel[1:] == [SKIP] * 4
    plain = fn("a red ball", *sampling("masked"), progress=None)  # no preview asked for: the same file
    assert isinstance(result, list) and len(result) == len(plain) == 5
    assert Path(result[1]).read_bytes() == Path(plain[1]).read_bytes() and result[3] == plain[3] == 5


def test_autoregressive_decoding_yields_only_the_result(task):
    _, stream, _ = task
    updates = list(stream("a red ball", *sampling("autoregressive"), progress=None))
    assert len(updates) == 1 and isinstance(updates[0], list) and updates[0][2]["task"] == "text_to_video"


def test_errors_stay_clean_messages_and_leave_no_preview_behind(task, tiny_engine, monkeypatch):
    _, stream, label = task
    with pytest.raises(gr.Error, match="Type a prompt"):
        list(stream("", *sampling("masked"), progress=None))

    @functools.wraps(tiny_engine.generate)
    def fails_midway(task, **kwargs):
        kwargs["preview"](np.zeros((17, 64, 64, 3), np.uint8))
        time.sleep(0.3)  # the page takes the guess
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tiny_engine, "generate", fails_midway)
    seen = []
    with pytest.raises(gr.Error, match="Something went wrong while generating"):
        for update in stream("a red ball", *sampling("masked"), progress=None):
            seen.append(update)
    assert seen[0][0].label.startswith("Preview")
    cleared = seen[-1][0]
    assert cleared.label == label and cleared.value is None and "value" in cleared.constructor_args


def test_the_mailbox_keeps_only_the_newest_guess_and_counts_steps():
    mailbox = Mailbox()
    first, second = np.zeros((1, 2, 2, 3), np.uint8), np.ones((1, 2, 2, 3), np.uint8)
    mailbox.put(first)
    mailbox.put(second)
    frames, step = mailbox.take()
    assert frames is second and step == 2
    threading.Timer(0.05, mailbox.put, [first]).start()
    assert mailbox.take()[1] == 3  # waits for the next one
    mailbox.put(second)
    mailbox.close()
    assert mailbox.take() is None  # the work is done: an unshown guess is dropped


def test_the_callback_runs_in_the_request_context():
    """Gradio finds a request's progress bar through context variables: the worker must see them."""
    from gradio.context import LocalContext

    seen = []

    def callback(prompt: str) -> list:
        seen.append(LocalContext.event_id.get(None))
        return [prompt]

    token = LocalContext.event_id.set("event-1")
    try:
        assert list(streaming(callback, [gr.Video()])("a red ball")) == [["a red ball"]]
    finally:
        LocalContext.event_id.reset(token)
    assert seen == ["event-1"]
