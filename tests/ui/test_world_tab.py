import json

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import Client

from engine.world import EVAL_SEED_START
from tests.ui.conftest import probe
from ui.world_tab import render_world, world_seed


def test_world_seed_maps_the_eval_split_above_the_train_seeds():
    assert world_seed(5, "train") == 5
    assert world_seed(5, "eval") == EVAL_SEED_START + 5


@pytest.mark.parametrize("bad", [None, -1, 2.5, EVAL_SEED_START, "abc", True])
def test_bad_seeds_get_a_clear_message(bad):
    with pytest.raises(gr.Error, match="whole number"):
        world_seed(bad, "train")


def test_render_world_gives_playable_clips_and_the_truth():
    video, native, caption, video2, _, info = render_world(7, "train", "clip")
    described = probe(video)
    assert "h264" in described and "aac" in described and "256x256" in described
    assert "64x64" in probe(native)
    assert caption and info["seed"] == 7 and info["scene"]["objects"]
    assert video2["visible"] is False
    json.dumps(info)  # the page shows it as JSON


def test_stylisation_pair_shows_the_styled_twin():
    _, _, caption, video2, caption2, info = render_world(42, "train", "stylisation pair")
    assert video2["visible"] is True and video2["value"].endswith(".mp4")
    assert caption2["value"] != caption
    first = np.array([o["trajectory"] for o in info["scene"]["objects"]])
    second = np.array([o["trajectory"] for o in info["styled_scene"]["objects"]])
    np.testing.assert_allclose(first, second)


def test_the_page_answers_and_the_world_endpoint_works(studio_url):
    assert httpx.get(studio_url, timeout=30).status_code == 200
    client = Client(studio_url, verbose=False)
    video, native, caption, *_ = client.predict(3, "eval", "clip", api_name="/world")
    assert str(video).endswith(".mp4") and str(native).endswith(".mp4") and caption
    again = client.predict(3, "eval", "clip", api_name="/world")
    assert again[2] == caption  # a seed reproduces


def test_bad_values_through_the_api_get_our_message_without_the_value(studio_url):
    client = Client(studio_url, verbose=False)
    with pytest.raises(Exception, match="whole number") as error:
        client.predict(-5, "train", "clip", api_name="/world")
    assert "-5" not in str(error.value)
    with pytest.raises(Exception, match="Pick what to render") as error:
        client.predict(1, "train", "<script>bogus</script>", api_name="/world")
    assert "bogus" not in str(error.value)
    assert client.predict(1, "train", "clip", api_name="/world")[2]
