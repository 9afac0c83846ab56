"""A real studio on a free loopback port, around a tiny random engine, shared by a module's tests.

The tiny engine (tests/engine/test_pipeline.py) answers in well under a second, so the UI tests
check the wiring (endpoints, files, messages, limits), not the quality; tests/ui/test_shipped_weights.py
runs the shipped weights.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from app import parse_args
from engine.pipeline import Engine
from engine.weights import DEFAULT_WEIGHTS, available_components
from tests.engine.test_pipeline import tiny_components
from ui import StudioSettings, build_studio, launch_kwargs, queue_kwargs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mute Gradio's warning about example rows with empty optional inputs (as ui/common.py does)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Examples will be cached"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(path: str | Path) -> str:
    """ffmpeg's description of a media file (its stderr)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    return subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def launch(engine: object | None, cache: Path) -> tuple[str, object]:
    """Build and launch the studio; returns (url, demo)."""
    args = parse_args(["--port", str(free_port()), "--host", "127.0.0.1"])
    settings = StudioSettings(weights=DEFAULT_WEIGHTS, device="cpu (test)",
                              components=available_components(DEFAULT_WEIGHTS), examples_cache=cache)
    demo = build_studio(settings, engine)
    demo.queue(**queue_kwargs()).launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(args.host, args.port))
    return f"http://127.0.0.1:{args.port}/", demo


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    return Engine(*tiny_components())


@pytest.fixture(scope="module")
def studio_url(tiny_engine, tmp_path_factory):
    url, demo = launch(tiny_engine, tmp_path_factory.mktemp("examples-cache"))
    yield url
    demo.close()
