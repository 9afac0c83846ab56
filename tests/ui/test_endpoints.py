"""Every named endpoint through gradio_client against the launched studio (tiny random engine):
a browser-playable MP4 of the right size and length comes back, with the settings, and the same
seed gives the same bytes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.ui.conftest import check_mp4, endpoint_cases, probe
from ui.common import supports_decoding, supports_task
from ui.outputs import example_media

SAMPLING = {"seed": 5, "randomize_seed": False, "temperature": 1.0, "top_k": 0, "guidance_scale": 2.0,
            "decoding": "autoregressive", "steps": 12}


@pytest.fixture(scope="module")
def client(studio_url) -> Client:
    return Client(studio_url, verbose=False)


@pytest.mark.parametrize("endpoint", list(endpoint_cases()))
def test_endpoint_returns_mp4s_and_settings_and_the_seed_reproduces(client, tiny_engine, endpoint):
    if endpoint == "/interpolate" and not supports_task(tiny_engine, "interpolate"):
        pytest.skip("this engine has no interpolate task yet")
    inputs, frames, sound = endpoint_cases()[endpoint]
    display, native, settings, seed, *_ = client.predict(**inputs, **SAMPLING, api_name=endpoint)
    check_mp4(display, 256, frames, sound)
    check_mp4(native, 64, frames, sound)
    assert seed == 5 and settings["seed"] == 5 and settings["task"] == endpoint.strip("/")
    assert settings["output"]["frames"] == frames and settings["timings"]["request"] > 0
    assert {"video_tokenizer", "transformer", "world_version"} <= set(settings["model"])
    again = client.predict(**inputs, **SAMPLING, api_name=endpoint)
    assert Path(again[1]).read_bytes() == Path(native).read_bytes()
    assert Path(again[0]).read_bytes() == Path(display).read_bytes()


def test_stylize_also_returns_the_control_video(client):
    m = example_media()
    *_, control = client.predict(video=handle_file(m.clips[0]), prompt="a green square on sand", **SAMPLING,
                                 api_name="/stylize")
    check_mp4(control, 256, 17, False)


def test_randomize_seed_shows_the_seed_it_used(client):
    sampling = {**SAMPLING, "randomize_seed": True}
    _, native, settings, seed = client.predict(prompt="a red ball", **sampling, api_name="/text_to_video")
    assert settings["seed"] == seed and isinstance(seed, int)
    replay = client.predict(prompt="a red ball", **{**SAMPLING, "seed": seed}, api_name="/text_to_video")
    assert Path(replay[1]).read_bytes() == Path(native).read_bytes()


def test_drawn_mask_through_the_api(client, tmp_path):
    from PIL import Image

    layer = Image.new("RGBA", (256, 256))
    layer.paste((255, 0, 255, 255), (64, 64, 192, 192))
    layer.save(tmp_path / "mask.png")
    m = example_media()
    mask = {"background": None, "layers": [handle_file(str(tmp_path / "mask.png"))], "composite": None}
    _, native, settings, _ = client.predict(video=handle_file(m.clips[0]), mask_preset="draw", mask=mask,
                                            **SAMPLING, api_name="/inpaint")
    assert settings["inputs"]["masked_fraction"] == 0.25
    check_mp4(native, 64, 17, True)


def test_masked_decoding_runs(client, tiny_engine):
    if not supports_decoding(tiny_engine):
        pytest.skip("this engine has no masked decoding yet")
    *_, settings, _ = client.predict(prompt="a red ball", **{**SAMPLING, "decoding": "masked", "steps": 4},
                                     api_name="/text_to_video")
    assert settings["sampling"]["decoding"] == "masked" and settings["sampling"]["steps"] == 4


def test_masked_decoding_streams_previews_then_the_usual_result(client, tiny_engine, monkeypatch):
    if not supports_decoding(tiny_engine):
        pytest.skip("this engine has no masked decoding yet")
    decode = tiny_engine.decode_video

    def slow(*args, **kwargs):  # as on a real model: the page has time to show each guess
        time.sleep(0.03)
        return decode(*args, **kwargs)

    monkeypatch.setattr(tiny_engine, "decode_video", slow)
    masked = {**SAMPLING, "decoding": "masked", "steps": 4}
    job = client.submit(prompt="a red ball", **masked, api_name="/text_to_video")
    display, native, settings, seed = job.result()
    *previews, relabel, final = job.outputs()
    assert previews and all(p[0]["label"].startswith("Preview") and "preview-" in p[0]["value"] for p in previews)
    assert relabel[0] == {"label": "Result (shown at 256x256)", "__type__": "update"}
    assert final == (display, native, settings, seed) and seed == 5
    check_mp4(display, 256, 17, True)
    again = client.predict(prompt="a red ball", **masked, api_name="/text_to_video")
    assert Path(again[1]).read_bytes() == Path(native).read_bytes()


def test_reconstruct_shows_tokens_ratio_and_psnr(client):
    m = example_media()
    compare, grid, figures, native = client.predict(video=handle_file(m.clips[0]), world_seed=7,
                                                    api_name="/reconstruct")
    described = probe(compare)
    assert "h264" in described and "512x256" in described  # original | reconstruction, enlarged
    check_mp4(native, 64, 17, False)
    assert Path(grid).suffix == ".png"
    assert figures["token_grid"] == [5, 4, 4] and figures["compression_ratio"] > 1 and figures["psnr_db"] > 0
    *_, from_world, world_native = client.predict(video=None, world_seed=7, api_name="/reconstruct")
    assert from_world["source"] == "world clip, seed 7"
    check_mp4(world_native, 64, 17, True)
