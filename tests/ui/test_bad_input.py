"""Bad input through the API gets a clear message that never echoes it, and the server keeps serving;
local files outside the outputs are never served."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client, handle_file

from ui.outputs import example_media

SAMPLING = {"seed": 1, "randomize_seed": False, "temperature": 1.0, "top_k": 0, "guidance_scale": 2.0,
            "decoding": "autoregressive", "steps": 12}


@pytest.fixture(scope="module")
def client(studio_url) -> Client:
    return Client(studio_url, verbose=False)


def _refused(client: Client, endpoint: str, expected: str, echo: str | None = None, **inputs) -> None:
    with pytest.raises(Exception, match=expected) as error:
        client.predict(**inputs, **SAMPLING, api_name=endpoint)
    message = str(error.value)
    assert "Traceback" not in message and 'File "' not in message
    if echo:
        assert echo not in message


def _still_serving(client: Client) -> None:
    *_, settings, _ = client.predict(prompt="a red ball", **SAMPLING, api_name="/text_to_video")
    assert settings["output"]["frames"] == 17


def test_prompts_empty_and_too_long(client):
    _refused(client, "/text_to_video", "Type a prompt", prompt="   ")
    _refused(client, "/text_to_video", "too long", echo="xyzzy", prompt="xyzzy " * 1000)
    _still_serving(client)


@pytest.mark.parametrize(("name", "expected"), [
    ("truncated", "damaged or incomplete"),
    ("empty", "empty"),
    ("picture", "not supported|not a supported"),
])
def test_bad_videos(client, bad_files, name, expected):
    path = bad_files[name] if name != "picture" else bad_files["picture"].with_suffix(".mp4")
    _refused(client, "/video_to_audio", expected, video=handle_file(str(path)))
    _still_serving(client)


def test_huge_image_and_long_audio(client, bad_files):
    _refused(client, "/image_to_video", "too large", image=handle_file(str(bad_files["huge"])))
    _refused(client, "/audio_to_video", "longer than", audio=handle_file(str(bad_files["ten_minutes"])))
    _still_serving(client)


def test_mask_of_the_wrong_size(client, bad_files):
    mask = {"background": None, "layers": [handle_file(str(bad_files["wrong_size_mask"]))], "composite": None}
    _refused(client, "/inpaint", "first frame's size", video=handle_file(example_media().clips[0]),
             mask_preset="draw", mask=mask)
    _refused(client, "/inpaint", "Draw over the region", video=handle_file(example_media().clips[0]),
             mask_preset="draw", mask=None)
    huge = {"background": None, "layers": [handle_file(str(bad_files["huge"]))], "composite": None}
    _refused(client, "/inpaint", "too large|could not be read", video=handle_file(example_media().clips[0]),
             mask_preset="draw", mask=huge)
    _still_serving(client)


def test_settings_out_of_range_are_refused_without_echo(client):
    base = {"prompt": "a red ball"}
    for field, value, expected in [("seed", -77777, "seed must be a whole number"),
                                   ("temperature", 55555.5, "temperature must be a number"),
                                   ("top_k", 1.5, "Top-k must be a whole number"),
                                   ("decoding", "<b>sneaky</b>", "Pick a decoding mode")]:
        with pytest.raises(Exception, match=expected) as error:
            client.predict(**base, **{**SAMPLING, field: value}, api_name="/text_to_video")
        assert str(value) not in str(error.value)
    with pytest.raises(Exception, match="Pick the region to keep"):
        client.predict(video=handle_file(example_media().clips[0]), keep="diagonal", **SAMPLING,
                       api_name="/outpaint")
    _still_serving(client)


@pytest.mark.parametrize("path", [
    "/etc/passwd", "../app.py", "app.py", "%2e%2e/app.py", "..%2fapp.py", "%2Fetc%2Fpasswd",
    "/proc/self/environ", "....//app.py",
])
def test_local_files_are_not_served(studio_url, path):
    response = httpx.get(f"{studio_url}gradio_api/file={path}", timeout=10)
    assert response.status_code in (400, 403, 404), response.status_code
    assert "root:" not in response.text and "def main" not in response.text


@pytest.mark.parametrize("path", ["/etc/passwd", "../../app.py"])
def test_local_paths_are_not_accepted_as_inputs(studio_url, client, path):
    """A raw API call naming a server file (gradio_client would upload the file instead) is refused."""
    fake = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "clip.mp4"}
    api = f"{studio_url}gradio_api/call/video_to_audio"
    event = httpx.post(api, json={"data": [fake, *SAMPLING.values()]}, timeout=10).json()["event_id"]
    answer = httpx.get(f"{api}/{event}", timeout=30).text
    assert "event: error" in answer and "root:" not in answer and "def main" not in answer
    _still_serving(client)
