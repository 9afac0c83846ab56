"""The studio's own checks and helpers, without a server."""

from __future__ import annotations

import os
import time

import gradio as gr
import numpy as np
import pytest

from engine import masks
from engine.weights import DEFAULT_WEIGHTS
from engine.world import sample
from ui import common, outputs
from ui import validation as check
from ui.common import Sampling, Studio, gpu_seconds, on_gpu, supports_decoding
from ui.tabs_edit import inpaint_mask
from ui.tokenizer_tab import VideoTokenizerOnly, psnr, reconstruct_fn, token_picture

SETTINGS = (0, False, 1.0, 0, 2.0, "autoregressive", 12)


def test_prompt_rules():
    assert check.prompt("  a red ball ", required=True) == "a red ball"
    assert check.prompt("", required=False) is None and check.prompt(None, required=False) is None
    for bad, message in [("", "Type a prompt"), ("x" * 401, "too long"), (123, "must be text"),
                         ("a\x00b", "control characters")]:
        with pytest.raises(gr.Error, match=message):
            check.prompt(bad, required=True)


@pytest.mark.parametrize("value", [-1, 11, "ten", None, float("nan"), float("inf"), True, [3]])
def test_numbers_out_of_range_or_not_numbers(value):
    with pytest.raises(gr.Error, match="must be a number from 0 to 10"):
        check.real_number(value, 0, 10, "It")


def test_sampling_parses_and_randomizes():
    sampling = Sampling.parse(*SETTINGS)
    assert sampling.seed == 0 and sampling.top_k == 0 and sampling.decoding == "autoregressive"
    seeds = {Sampling.parse(5, True, *SETTINGS[2:]).seed for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s <= check.MAX_SEED for s in seeds)
    assert Sampling.parse("7", False, *SETTINGS[2:]).seed == 7  # API strings that are numbers are fine
    with pytest.raises(gr.Error, match="steps"):
        Sampling.parse(*SETTINGS[:-1], 0)


def test_picking_a_decoding_mode_sets_its_guidance_scale():
    with gr.Blocks() as page:
        advanced = common.build_advanced()
    assert advanced.guidance_scale.value == common.DEFAULT_GUIDANCE == 2.0
    assert common.guidance_for("masked") == 3.0 and common.guidance_for("autoregressive") == 2.0
    config = page.get_config_file()
    decoding, guidance = advanced.decoding._id, advanced.guidance_scale._id
    wired = [d for d in config["dependencies"]
             if [t[0] for t in d["targets"]] == [decoding] and d["outputs"] == [guidance]]
    assert len(wired) == 1 and wired[0]["queue"] is False


def test_masked_decoding_is_refused_by_an_engine_without_it():
    class OldEngine:
        def generate(self, task, prompt=None, seed=0):
            raise AssertionError("not called")

    assert not supports_decoding(OldEngine())
    assert "decoding" not in Sampling.parse(*SETTINGS).engine_kwargs(OldEngine())
    masked = Sampling.parse(*SETTINGS[:5], "masked", 12)
    with pytest.raises(gr.Error, match="Masked decoding is not available"):
        masked.engine_kwargs(OldEngine())


def test_drawn_mask_is_pooled_to_64x64():
    layer = np.zeros((256, 256, 4), np.uint8)
    layer[0:4, 252:256, 3] = 255  # one display cell in the top-right corner
    mask = check.drawn_mask({"background": None, "layers": [layer], "composite": None})
    assert mask.shape == (64, 64) and mask.sum() == 1 and mask[0, 63]
    assert check.drawn_mask({"layers": [np.zeros((64, 64, 4), np.uint8)]}) is None
    small = np.zeros((128, 128, 4), np.uint8)
    small[126:, :2, 3] = 255  # a second layer at another size: its cell in the bottom-left corner
    both = check.drawn_mask({"layers": [layer, small]})
    assert both.sum() == 2 and both[0, 63] and both[63, 0]
    assert check.drawn_mask(None) is None
    for bad in [np.zeros((100, 37, 4), np.uint8), np.zeros((2048, 2048, 4), np.uint8)]:
        with pytest.raises(gr.Error, match="first frame's size"):
            check.drawn_mask({"layers": [bad]})


def test_inpaint_mask_turns_the_page_value_into_a_mask():
    clip = sample(7).video
    assert np.array_equal(inpaint_mask("object", None, clip), masks.inpaint_mask("object", clip))
    assert inpaint_mask("centre", None, clip).sum() == 32 * 32
    with pytest.raises(gr.Error, match="Draw over the region"):
        inpaint_mask("draw", None, clip)
    with pytest.raises(gr.Error, match="No object"):
        inpaint_mask("object", None, np.full((17, 64, 64, 3), 128, np.uint8))


def test_token_picture_and_psnr():
    picture = token_picture(np.arange(5 * 4 * 4).reshape(5, 4, 4))
    assert picture.shape == (64, 5 * 64 + 4 * 4, 3) and picture.dtype == np.uint8
    a = np.zeros((2, 8, 8, 3), np.uint8)
    assert psnr(a, a) == float("inf") and psnr(a, a + 1) == pytest.approx(48.13, abs=0.01)


def test_gpu_wrapper_is_a_no_op_without_spaces():
    def f(x):
        return x

    assert on_gpu(f) is f
    assert gpu_seconds(0, "extend", num_clips=4) > gpu_seconds(0, "text_to_video")
    assert gpu_seconds(0, "text_to_video", decoding="masked", steps=40) > gpu_seconds(0, "text_to_video")


def test_progress_reaches_the_bar(tiny_engine, monkeypatch):
    # Every report passes (no throttle): the tiny engine can finish a clip within one 0.2 s window.
    monkeypatch.setattr(common, "PROGRESS_EVERY_S", 0.0)
    calls = []

    def bar(value, desc=None, unit=None):
        calls.append(value)

    studio = Studio(tiny_engine)
    outputs = studio.run("text_to_video", Sampling.parse(*SETTINGS), {"prompt": "a red ball"}, bar,
                         prompt="a red ball")
    assert outputs[3] == 0 and outputs[2]["task"] == "text_to_video"
    done = [value[0] for value in calls]
    assert len(calls) > 3 and done == sorted(done) and calls[-1][0] == calls[-1][1]
    with pytest.raises(gr.Error, match="not loaded"):
        Studio(None).run("text_to_video", Sampling.parse(*SETTINGS), {}, None, prompt="a red ball")


def test_on_gpu_uses_spaces_when_it_is_importable(monkeypatch):
    import sys
    import types
    from importlib.machinery import ModuleSpec

    reserved = []

    def gpu(duration):
        def decorate(fn):
            def run(*args, **kwargs):
                reserved.append(duration(*args, **kwargs))
                return fn(*args, **kwargs)
            return run
        return decorate

    fake = types.ModuleType("spaces")
    fake.__spec__, fake.GPU = ModuleSpec("spaces", None), gpu
    monkeypatch.setitem(sys.modules, "spaces", fake)

    def work(engine_id, task, *, progress=None, **kwargs):
        return task, progress, kwargs

    wrapped = on_gpu(work)
    assert wrapped(1, "extend", progress=print, num_clips=3) == ("extend", None, {"num_clips": 3})
    assert reserved == [gpu_seconds(1, "extend", num_clips=3)] and reserved[0] == 100


def test_old_request_folders_are_swept():
    old, fresh = outputs.new_request_dir(), outputs.new_request_dir()
    (outputs.outputs_root() / "examples").mkdir(exist_ok=True)
    later = time.time() + outputs.MAX_AGE_S + outputs.SWEEP_EVERY_S + 1
    os.utime(fresh, (later, later))
    assert outputs.sweep(now=later) >= 1
    assert not old.exists() and fresh.exists() and (outputs.outputs_root() / "examples").exists()


def test_serving_rules():
    from ui import launch_kwargs, queue_kwargs

    assert queue_kwargs() == {"default_concurrency_limit": 1, "max_size": 16}
    launch = launch_kwargs("127.0.0.1", 7860)
    assert launch["show_error"] is False and launch["max_file_size"] == "50mb"
    assert "allowed_paths" not in launch and "share" not in launch
    assert 0 < launch["state_session_capacity"] <= 100  # Gradio's 10,000 sessions would hold gigabytes


@pytest.mark.skipif(not (DEFAULT_WEIGHTS / "video_tokenizer" / "config.json").is_file(),
                    reason="weights/video_tokenizer is not shipped")
def test_tokenizer_tab_works_from_the_shipped_video_tokenizer_alone():
    studio = Studio(None, VideoTokenizerOnly(DEFAULT_WEIGHTS))
    compare, grid, figures, native = reconstruct_fn(studio)(None, 7)
    assert figures["token_grid"] == [5, 8, 8] and figures["psnr_db"] > 18  # README: 27 dB on average
    assert figures["compression_ratio"] > 100 and grid.shape[2] == 3 and native.endswith(".mp4")
    with pytest.raises(gr.Error, match="generator is not loaded"):
        studio.run("text_to_video", Sampling.parse(*SETTINGS), {}, None, prompt="a red ball")


def test_examples_cache_key_follows_the_weights(tiny_engine):
    from engine.pipeline import Engine
    from tests.engine.test_pipeline import tiny_components
    from ui.studio import model_key

    assert model_key(tiny_engine) == model_key(Engine(*tiny_components()))
    assert model_key(tiny_engine) != model_key(Engine(*tiny_components(seed=1)))  # same configs, new weights
    assert model_key(None) == "no-engine"


def test_progress_reaches_the_page_a_few_times_a_second_and_at_the_end(monkeypatch):
    clock = iter(i * 0.01 for i in range(1000))  # 10 ms per decoded token
    monkeypatch.setattr(common.time, "monotonic", lambda: next(clock))
    seen = []
    report = common.progress_callback(lambda value, **kwargs: seen.append(value))
    for done in range(1, 501):
        report(done, 500)
    assert seen[0] == (1, 500) and seen[-1] == (500, 500)
    assert 25 <= len(seen) <= 27  # one every 0.2 s of the 5 s (against 500 unthrottled), and the end
    assert common.progress_callback(None) is None
