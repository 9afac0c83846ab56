"""MagPoet studio: parse flags, load the weights once, build the UI, launch.

    python app.py                           # the shipped weights in ./weights, on CUDA if present
    python app.py --weights someone/repo    # a folder or a Hugging Face Hub repo id
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

# OpenMP threads that busy-wait starve each other on small CPUs (16 ms -> 960 ms per decode measured
# on a loaded 2-core machine); this must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from engine.device import describe_device, select_device
from engine.pipeline import Engine
from engine.weights import available_components, resolve_weights
from ui import StudioSettings, build_studio, launch_kwargs, queue_kwargs
from ui.sessions import SessionSweeper
from ui.tokenizer_tab import VideoTokenizerOnly

log = logging.getLogger("magpoet")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MagPoet studio")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="interface to listen on (0.0.0.0 to serve the network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--weights", default=None,
                        help="weights folder or Hugging Face Hub repo id (default: ./weights)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction,
                        default=os.environ.get("MAGPOET_COMPILE", "1") != "0",
                        help="compile the CPU decode step at start-up (under a minute on 2 cores, then ~2x "
                             "faster generation; needs a C++ compiler; default on, MAGPOET_COMPILE=0 turns it off)")
    return parser.parse_args(argv)


def load_engine(weights: Path, device: str, compile: bool = False) -> Engine | None:
    """The Engine from `weights`, or None (with a log line) when the generator is not there yet."""
    if not (weights / "transformer" / "config.json").is_file():
        log.warning("no transformer in %s: only the World and Tokenizer tabs will work", weights)
        return None
    engine = Engine.from_pretrained(weights, device=device)
    if compile and engine.device.type != "cpu":
        log.info("--compile is for the CPU decode step; on %s decoding stays eager", engine.device)
    elif compile:
        log.info("compiling the decode step (once per start; under a minute on 2 cores) ...")
        try:
            log.info("compiled in %.0f s", engine.compile_decoding())
        except Exception:
            log.warning("compiling the decode step failed; decoding eagerly", exc_info=True)
    return engine


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    args = parse_args(argv)
    weights = resolve_weights(args.weights)
    device = select_device(args.device)
    settings = StudioSettings(weights=weights, device=describe_device(device),
                              components=available_components(weights))
    engine = load_engine(weights, str(device), args.compile)
    tokenizer = None
    if engine is None and (weights / "video_tokenizer" / "config.json").is_file():
        tokenizer = VideoTokenizerOnly(weights, str(device))
    demo = build_studio(settings, engine, tokenizer)
    SessionSweeper(demo).start()  # forget sessions idle for 15 minutes (see ui/sessions.py)
    demo.queue(**queue_kwargs()).launch(**launch_kwargs(args.host, args.port))


if __name__ == "__main__":
    main()
