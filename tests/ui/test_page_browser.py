"""The studio page in headless Chromium: it loads, the World tab renders a clip, the clip plays.

Set MAGPOET_SCREENSHOT=docs/screenshot.png to keep the screenshot the README shows.
"""

from __future__ import annotations

import os

import pytest

from tests.browser_helpers import launch_chromium, requires_chromium

PLAYING = """() => {
    const v = document.querySelector('video');
    return v !== null && v.readyState === 4 && v.duration > 2.0 && v.currentTime > 0;
}"""


@pytest.mark.browser
@requires_chromium
def test_world_tab_renders_a_clip_that_plays(studio_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(studio_url, wait_until="networkidle")
            assert "MagPoet" in page.title()
            page.get_by_role("tab", name="World").click()
            page.get_by_role("button", name="Render", exact=True).click()
            page.wait_for_function(PLAYING, timeout=30_000)
            caption = page.get_by_label("Caption", exact=True).input_value()
            assert len(caption.split()) >= 4
            if target := os.environ.get("MAGPOET_SCREENSHOT"):
                page.screenshot(path=target, full_page=True)
        finally:
            browser.close()
