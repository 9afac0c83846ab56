"""The MP4s we write play in Chromium: full readiness, the right duration, sound, and colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.media import write_mp4
from tests.browser_helpers import launch_chromium, requires_chromium, serve_directory

PROBE = """async () => {
    const v = document.getElementById("v");
    const duration = v.duration;
    await v.play();
    await new Promise((resolve) => setTimeout(resolve, 600));
    v.pause();
    return {duration, audioBytes: v.webkitAudioDecodedByteCount, videoBytes: v.webkitVideoDecodedByteCount,
            width: v.videoWidth, height: v.videoHeight, error: v.error && v.error.message};
}"""

FIRST_FRAME_PIXELS = """async ([points]) => {
    const v = document.getElementById("v");
    v.currentTime = 0;
    await new Promise((resolve) => v.addEventListener("seeked", resolve, {once: true}));
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(v, 0, 0);
    return points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
}"""


@pytest.mark.browser
@requires_chromium
def test_chromium_plays_our_mp4(tmp_path: Path, clip: tuple[np.ndarray, np.ndarray]) -> None:
    from playwright.sync_api import sync_playwright

    video, audio = clip
    write_mp4(tmp_path / "with_sound.mp4", video, audio=audio, scale=4)
    write_mp4(tmp_path / "silent.mp4", video)
    # Served from the same origin as the videos, so the canvas that reads pixels back is not tainted.
    (tmp_path / "player.html").write_text('<video id="v" preload="auto"></video>')
    results, pixels = {}, None
    with serve_directory(tmp_path) as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            for name in ("with_sound.mp4", "silent.mp4"):
                page.goto(f"{base}/player.html")
                page.evaluate("(src) => { document.getElementById('v').src = src; }", name)
                page.wait_for_function("document.getElementById('v').readyState === 4", timeout=15_000)
                results[name] = page.evaluate(PROBE)
                if name == "with_sound.mp4":
                    # Grey background and the red square's centre (x = 4..16, y = 26..38 at frame 0, x4).
                    pixels = page.evaluate(FIRST_FRAME_PIXELS, [[[8, 8], [40, 128]]])
        finally:
            browser.close()
    sound, silent = results["with_sound.mp4"], results["silent.mp4"]
    for result in (sound, silent):
        assert result["error"] is None
        assert result["duration"] == pytest.approx(2.125, abs=0.1)
        assert result["videoBytes"] > 0
    assert (sound["width"], sound["height"]) == (256, 256)
    assert (silent["width"], silent["height"]) == (64, 64)
    # Chromium exposes no audioTracks without a flag; the decoded-audio counter is the reliable tell.
    assert sound["audioBytes"] > 0
    assert silent["audioBytes"] == 0
    grey, red = np.array(pixels)
    assert np.abs(grey - 128).max() <= 6, grey
    assert np.abs(red - (220, 40, 40)).max() <= 12, red
