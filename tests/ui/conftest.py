"""A real studio on a free loopback port, shared by the UI tests of a module."""

import socket

import pytest

from app import parse_args
from engine.weights import DEFAULT_WEIGHTS, available_components
from ui import StudioSettings, build_studio, launch_kwargs, queue_kwargs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def studio_url():
    args = parse_args(["--port", str(free_port()), "--host", "127.0.0.1"])
    settings = StudioSettings(weights=DEFAULT_WEIGHTS, device="cpu (test)",
                              components=available_components(DEFAULT_WEIGHTS))
    demo = build_studio(settings)
    demo.queue(**queue_kwargs()).launch(prevent_thread_lock=True, quiet=True,
                                        **launch_kwargs(args.host, args.port))
    yield f"http://127.0.0.1:{args.port}/"
    demo.close()
