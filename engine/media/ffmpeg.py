"""Run the bundled ffmpeg binary safely: argument lists only, a wall-clock limit, capped output.

There is no ffprobe in ``imageio-ffmpeg``, so :func:`probe` reads the stream summary that ffmpeg
prints for an input when it is given no output. That text has been stable for many years and is
what imageio itself parses; only the few fields needed for the limit checks are read from it.

ffmpeg runs in a child process rather than in ours (as PyAV would) so that a hostile file that
makes a decoder hang, crash or balloon is contained: the child is killed at the deadline and its
memory is not ours.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg

log = logging.getLogger(__name__)

_STDERR_KEEP = 64 * 1024
_CHUNK = 64 * 1024


@cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (or ``IMAGEIO_FFMPEG_EXE``)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


class FfmpegTimeout(Exception):
    """ffmpeg ran past its deadline and was killed."""


class FfmpegOutputTooLarge(Exception):
    """ffmpeg wrote more to stdout than the caller allowed, and was killed."""


@dataclass(frozen=True)
class FfmpegResult:
    returncode: int
    stdout: bytes
    stderr: str


def run_ffmpeg(
    args: list[str], *, timeout_s: float, max_output: int = 0, stdin: bytes | None = None
) -> FfmpegResult:
    """Run ``ffmpeg <args>`` (never through a shell) and return its exit code, stdout and stderr.

    stdout is read in chunks and the process is killed as soon as it exceeds ``max_output`` bytes;
    stderr keeps only its first 64 KiB. ``stdin``, when given, is written from a helper thread so
    that a full stdout pipe cannot deadlock the writer.
    """
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    timed_out = threading.Event()

    def kill_on_deadline() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(timeout_s, kill_on_deadline)
    err = bytearray()
    helpers = [threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    if stdin is not None:
        helpers.append(threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True))
    watchdog.start()
    for thread in helpers:
        thread.start()
    out = bytearray()
    too_much = False
    try:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(_CHUNK):
            out += chunk
            if len(out) > max_output:
                too_much = True
                proc.kill()
                break
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for thread in helpers:
            thread.join(timeout=5)
        proc.stdout.close()
    stderr = err.decode("utf-8", "replace")
    if timed_out.is_set():
        log.debug("ffmpeg timed out after %.1f s: %s", timeout_s, stderr[-2000:])
        raise FfmpegTimeout
    if too_much:
        raise FfmpegOutputTooLarge
    return FfmpegResult(proc.returncode, bytes(out), stderr)


def _drain(pipe, buf: bytearray) -> None:
    while chunk := pipe.read1(_CHUNK):
        if len(buf) < _STDERR_KEEP:
            buf += chunk[: _STDERR_KEEP - len(buf)]
    pipe.close()


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):
        pass  # ffmpeg exited early; its exit code and stderr say why
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def input_args(path: Path, demuxer: str) -> list[str]:
    """Arguments that open ``path`` with a forced demuxer and the file protocol only.

    Forcing the demuxer means ffmpeg never guesses a format (so no hls/concat/image2 patterns), the
    ``file:`` prefix stops a name from being read as another protocol or an option, and the
    whitelist stops a container from reaching any other protocol. MOV data references (which can
    point to other files) stay disabled.
    """
    args = ["-protocol_whitelist", "file", "-f", demuxer]
    if demuxer == "mov":
        args += ["-enable_drefs", "0"]
    return [*args, "-i", "file:" + str(path.resolve())]


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str
    """"video", "audio", "subtitle", "data" or "attachment"."""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    sample_rate: int = 0
    attached_pic: bool = False
    """Cover art in an audio file: listed as a video stream, but a single still."""


@dataclass(frozen=True)
class ProbeResult:
    duration_s: float | None
    streams: tuple[StreamInfo, ...]

    def first(self, kind: str) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == kind and not s.attached_pic), None)


class ProbeFailed(Exception):
    """ffmpeg could not open the input; ``stderr`` says why (for the log, not for users)."""

    def __init__(self, stderr: str) -> None:
        super().__init__("ffmpeg could not open the input")
        self.stderr = stderr


_DURATION = re.compile(r"^\s*Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)", re.M)
_STREAM = re.compile(
    r"^\s*Stream #0:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (Video|Audio|Subtitle|Data|Attachment): (.*)$", re.M
)
_SIZE = re.compile(r"(?:^|, )(\d+)x(\d+)(?=[ ,]|$)")
_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) (?:fps|tbr)")
_RATE = re.compile(r", (\d+) Hz")


def probe(path: Path, demuxer: str, timeout_s: float) -> ProbeResult:
    """Read the container's duration and its streams' kinds and sizes without decoding frames."""
    result = run_ffmpeg(input_args(path, demuxer), timeout_s=timeout_s)
    if "Input #0" not in result.stderr:
        raise ProbeFailed(result.stderr)
    return parse_probe(result.stderr)


def parse_probe(text: str) -> ProbeResult:
    duration = None
    if (m := _DURATION.search(text)) and m.group(1) is not None:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    streams = []
    for m in _STREAM.finditer(text):
        index, kind, rest = int(m.group(1)), m.group(2).lower(), m.group(3)
        width = height = rate = 0
        fps = 0.0
        if size := _SIZE.search(rest):
            width, height = int(size.group(1)), int(size.group(2))
        if f := _FPS.search(rest):
            fps = float(f.group(1)) * (1000 if f.group(2) else 1)
        if r := _RATE.search(rest):
            rate = int(r.group(1))
        streams.append(StreamInfo(index, kind, width, height, fps, rate, "(attached pic)" in rest))
    return ProbeResult(duration, tuple(streams))
