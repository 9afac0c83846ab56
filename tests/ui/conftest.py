"""A real studio on a free loopback port, around a tiny random engine, shared by a module's tests.

The tiny engine (tests/engine/test_pipeline.py) answers in well under a second, so the UI tests
check the wiring (endpoints, files, messages, limits), not the quality; tests/ui/test_shipped_weights.py
runs the shipped weights.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from imageio_ffmpeg import count_frames_and_secs
from PIL import Image

from app import parse_args
from engine.pipeline import Engine
from engine.weights import DEFAULT_WEIGHTS, available_components
from tests.engine.test_pipeline import tiny_components
from ui import StudioSettings, build_studio, launch_kwargs, queue_kwargs
from ui.outputs import example_media


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


def endpoint_cases() -> dict[str, tuple[dict, int, bool]]:
    """Every generation endpoint -> (inputs, frames, has sound), from the studio's example media."""
    m = example_media()
    return {
        "/text_to_video": ({"prompt": "a red ball bouncing on sand"}, 17, True),
        "/image_to_video": ({"image": handle_file(m.first_frames[0]), "prompt": ""}, 17, True),
        "/inpaint": ({"video": handle_file(m.clips[0]), "mask_preset": "centre"}, 17, True),
        "/outpaint": ({"video": handle_file(m.clips[1]), "keep": "top"}, 17, True),
        "/stylize": ({"video": handle_file(m.clips[2]), "prompt": m.styled_prompts[2]}, 17, True),
        "/video_to_audio": ({"video": handle_file(m.clips[0])}, 17, True),
        "/audio_to_video": ({"audio": handle_file(m.sounds[1])}, 17, True),
        "/extend": ({"prompt": "a blue star", "clips": 2}, 33, True),
        "/interpolate": ({"first_frame": handle_file(m.first_frames[1]),
                          "last_frame": handle_file(m.last_frames[1])}, 17, True),
    }


def check_mp4(path: str, side: int, frames: int, sound: bool) -> None:
    """H.264 of side x side, AAC exactly when there is sound, `frames` frames at 8 fps."""
    described = probe(path)
    assert "h264" in described and f"{side}x{side}" in described, described
    assert ("aac" in described) == sound, described
    counted, seconds = count_frames_and_secs(path)
    assert counted == frames and seconds == pytest.approx(frames / 8, abs=0.01)


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


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (its pixel data is cut short): no memory needed to make it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pixels + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """The issue's bad uploads, by stem (test_bad_input.py and test_page_bad_input.py use them).

    `picture` is a PNG that is also saved renamed as picture.mp4: take `.with_suffix(...)` of it."""
    folder = tmp_path_factory.mktemp("bad")
    clip = Path(example_media().clips[0]).read_bytes()
    (folder / "truncated.mp4").write_bytes(clip[: len(clip) * 3 // 10])
    (folder / "empty.mp4").write_bytes(b"")
    Image.new("RGB", (64, 64), (200, 30, 30)).save(folder / "picture.png")
    (folder / "picture.mp4").write_bytes((folder / "picture.png").read_bytes())
    (folder / "huge.png").write_bytes(png_header(20000, 20000))
    with wave.open(str(folder / "ten_minutes.wav"), "wb") as out:
        out.setnchannels(1), out.setsampwidth(1), out.setframerate(8000)
        out.writeframes(np.full(8000 * 600, 128, np.uint8).tobytes())
    Image.new("RGBA", (100, 37), (255, 0, 255, 255)).save(folder / "wrong_size_mask.png")
    return {p.stem: p for p in folder.iterdir()}
