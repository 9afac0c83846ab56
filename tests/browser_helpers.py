"""Headless Chromium for browser tests: launch it the same way everywhere, and serve local files.

Import as ``from tests.browser_helpers import ...`` (needs the repository root on ``sys.path``,
as ``python -m pytest`` from the root gives). Tests that use it should carry
``@pytest.mark.browser`` and ``@requires_chromium`` so that they skip, not fail, where Debian's
``chromium`` package is not installed.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]

requires_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")


def launch_chromium(playwright: Playwright, **kwargs: object) -> Browser:
    """Launch Debian's headless Chromium (not Playwright's download) with quiet, offline flags."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **kwargs)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 at a free port; yield the base URL (no trailing slash).

    ``SimpleHTTPRequestHandler`` answers Range requests with the whole file, which Chromium's media
    stack accepts for small files.
    """
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
