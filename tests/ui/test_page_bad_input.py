"""Bad input through the page itself (headless Chromium): each gets a clear message in the page, none
echoes the input or shows a traceback, and the same page then runs a good input (the server stays up).

What the page does with each (tests/ui/test_bad_input.py checks the same inputs through the API):
- an empty or a 5,000-character prompt: the server's message as an error toast (the prompt boxes have
  no max_length, which would cut a pasted prompt silently);
- a 0-byte .mp4 or a PNG renamed .mp4: the Video component cannot preview it and Gradio's own toast
  says "Video not playable" at once; running the task then shows the server's message;
- a truncated MP4: the browser previews what it can, so nothing is said until the run;
- a bad clip in the Inpaint tab fails as soon as it is uploaded (reading its first frame for the
  canvas), with the server's message;
- a 20000x20000 PNG (header only) or a 10-minute WAV: taken by the page, refused by the run.

A mask of the wrong size cannot be made through the page: the Inpaint canvas is fixed at 256x256 and
has no upload source, no layers and no transforms, so every drawn layer is 256x256. The API test
covers that case.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.browser_helpers import launch_chromium, requires_chromium
from ui.outputs import example_media

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, studio_url):
    page = chromium.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(studio_url, wait_until="load")
    page.get_by_role("tab", name="World", exact=True).wait_for(timeout=30_000)
    yield page
    page.close()


def open_tab(page, name: str):
    page.get_by_role("tab", name=name, exact=True).click()
    return page.locator("[role=tabpanel]:visible")


def component(panel, label: str):
    """The input component (its .block) whose label is `label`, in the open tab."""
    return panel.locator(".block").filter(has=panel.page.get_by_test_id("block-label").get_by_text(label, exact=True))


def shows_error(page, message: str, echo: str | None = None) -> None:
    """A toast that says `message` appears; no toast shows a traceback or echoes `echo`."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("toast-text").filter(has_text=message).first).to_be_visible(timeout=20_000)
    for text in page.get_by_test_id("toast-text").all_inner_texts():
        assert "Traceback" not in text and 'File "' not in text, text
        assert echo is None or echo not in text, text


def replace_upload(field, path: str) -> None:
    """What a person does next: close the error shown over the input (if any), clear it, upload `path`."""
    from playwright.sync_api import expect

    overlay = field.get_by_test_id("status-tracker").get_by_role("button", name="Clear")
    if overlay.count():
        overlay.click()
        expect(overlay).to_have_count(0)
    field.get_by_role("button", name=re.compile(r"^(Clear|Remove Image)$")).last.click()
    expect(field.locator("input[type=file]")).to_have_count(1)
    field.locator("input[type=file]").set_input_files(path)


def shows_result(page, name: str) -> None:
    """The task's result video appears, with the settings of a 17-frame clip."""
    from playwright.sync_api import expect

    expect(page.locator(f"#{name}-video video")).to_have_attribute("src", re.compile(r"\.mp4$"), timeout=60_000)
    settings = re.sub(r"\s+", "", page.locator(f"#{name}-settings").inner_text())
    assert f'"task":"{name}"' in settings and '"frames":17' in settings, settings


def test_prompts_empty_and_too_long_then_a_clip(page):
    panel = open_tab(page, "Text to Video")
    prompt = panel.get_by_label("Prompt", exact=True)
    generate = panel.get_by_role("button", name="Generate", exact=True)

    prompt.fill("   ")
    generate.click()
    shows_error(page, "Type a prompt that describes the clip")

    long = ("xyzzy " * 1000)[:5000]
    prompt.fill(long)
    assert prompt.input_value() == long  # the box keeps it all: nothing is cut without a word
    generate.click()
    shows_error(page, "The prompt is too long: at most 400 characters.", echo="xyzzy")
    assert page.locator("#text_to_video-video video").count() == 0

    prompt.fill("a red ball bouncing on sand")
    generate.click()
    shows_result(page, "text_to_video")


class Upload(NamedTuple):
    tab: str
    label: str  # the input's
    bad: str  # a file of the bad_files fixture
    button: str
    result: str  # the endpoint, which names the result's elements
    on_run: str  # the server's message
    good: tuple[str, int]  # a field of example_media() and an index into it
    on_upload: str | None = None  # Gradio's own message, before anything runs


UPLOADS = {
    "empty": Upload("Outpaint", "Clip", "empty.mp4", "Outpaint", "outpaint",
                    "The clip to outpaint: This file is empty.", ("clips", 0), on_upload="Video not playable"),
    "png-renamed": Upload("Outpaint", "Clip", "picture.mp4", "Outpaint", "outpaint",
                          "The clip to outpaint: This file is not a supported video format", ("clips", 0),
                          on_upload="Video not playable"),
    "truncated": Upload("Outpaint", "Clip", "truncated.mp4", "Outpaint", "outpaint",
                        "The clip to outpaint: This file is damaged or incomplete and could not be decoded.",
                        ("clips", 0)),
    "huge-image": Upload("Image to Video", "First frame", "huge.png", "Animate", "image_to_video",
                         "An image: The picture is too large (at most 8192 pixels a side", ("first_frames", 0)),
    "ten-minutes": Upload("Audio", "Sound", "ten_minutes.wav", "Draw a clip for it", "audio_to_video",
                          "The sound: This file is longer than 60 seconds.", ("sounds", 1)),
}


def bad_file(bad_files: dict[str, Path], name: str) -> str:
    return str(bad_files[Path(name).stem].with_suffix(Path(name).suffix))


@pytest.mark.parametrize("case", UPLOADS.values(), ids=UPLOADS.keys())
def test_a_bad_upload_is_refused_and_the_page_still_works(page, bad_files, case):
    panel = open_tab(page, case.tab)
    field = component(panel, case.label)
    run = panel.get_by_role("button", name=case.button, exact=True)
    field.locator("input[type=file]").set_input_files(bad_file(bad_files, case.bad))
    if case.on_upload:
        shows_error(page, case.on_upload)
    run.click()
    shows_error(page, case.on_run)
    assert page.locator(f"#{case.result}-video video").count() == 0

    kind, index = case.good
    replace_upload(field, getattr(example_media(), kind)[index])
    run.click()
    shows_result(page, case.result)


@pytest.mark.parametrize(("bad", "message"), [
    ("empty.mp4", "This file is empty."),
    ("picture.mp4", "This file is not a supported video format"),
    ("truncated.mp4", "This file is damaged or incomplete"),
])
def test_a_bad_clip_for_inpainting_is_refused_on_upload(page, bad_files, bad, message):
    panel = open_tab(page, "Inpaint")
    field = page.locator("#inpaint-clip")
    field.locator("input[type=file]").set_input_files(bad_file(bad_files, bad))
    shows_error(page, f"The clip to inpaint: {message}")

    replace_upload(field, example_media().clips[1])
    panel.get_by_label("Centre box", exact=True).check()
    panel.get_by_role("button", name="Inpaint", exact=True).click()
    shows_result(page, "inpaint")
