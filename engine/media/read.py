"""Read untrusted uploads into the model's native format, within firm limits.

Order of checks for every reader: file size (``stat``), then the container from its first bytes
(a whitelist, see :mod:`.sniff`), then the header (PIL's lazy open, or an ffmpeg probe) for
duration and resolution, and only then a decode, which ffmpeg does itself at 8 fps / 64 x 64 /
16 kHz so that only the small result crosses into this process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import CorruptMediaError, EmptyMediaError, MediaError, MediaTooLargeError, UnsupportedMediaError
from .ffmpeg import (
    FfmpegOutputTooLarge,
    FfmpegTimeout,
    ProbeFailed,
    ProbeResult,
    input_args,
    probe,
    run_ffmpeg,
)
from .limits import CLIP_FRAMES, CLIP_SAMPLES, DEFAULT_LIMITS, FPS, FRAME_SIZE, SAMPLE_RATE, MediaLimits
from .sniff import AUDIO_DEMUXERS, VIDEO_DEMUXERS, require_demuxer

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
"""PIL plugins allowed to open an upload (the JPEG plugin also opens phones' multi-picture MPO files)."""

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation -> the transpose that shows the picture upright (as ``ImageOps.exif_transpose``)."""


def read_image(path: str | os.PathLike[str], limits: MediaLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Read a PNG/JPEG/WebP/GIF/BMP upload as a (64, 64, 3) uint8 RGB image.

    The size is checked from the header before any pixel is decoded; PIL's own decompression-bomb
    check (``Image.MAX_IMAGE_PIXELS``, left at its global default) fires even earlier for extreme
    sizes and is reported the same way. The centre square is cropped and resized with lanczos in
    one step; JPEGs are first decoded at a reduced scale (``draft``), which bounds memory. Upright
    orientation from EXIF is applied to the 64 x 64 result, which gives the same picture because a
    centre square stays the centre square under rotation. Transparent pixels become black.
    """
    file = _check_file(path, limits)
    try:
        with Image.open(file, formats=IMAGE_FORMATS) as im:
            _check_resolution(im.width, im.height, limits)
            im.draft("RGB", (FRAME_SIZE * 2, FRAME_SIZE * 2))
            orientation = im.getexif().get(0x0112, 1)
            small = _square_resize(im)
    except MediaError:
        raise
    except Image.DecompressionBombError as err:
        raise MediaTooLargeError(_too_big_image(limits)) from err
    except UnidentifiedImageError as err:
        raise UnsupportedMediaError(
            "This file is not a supported image format (PNG, JPEG, WebP, GIF, BMP)."
        ) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # PIL's ways of saying "damaged"
        log.debug("image decode failed: %r", err)
        raise CorruptMediaError("This image is damaged or incomplete and could not be decoded.") from err
    if orientation in _TRANSPOSE:
        small = small.transpose(_TRANSPOSE[orientation])
    return np.asarray(small, dtype=np.uint8).copy()


def read_video(
    path: str | os.PathLike[str],
    frames: int = CLIP_FRAMES,
    fps: float = FPS,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """Read a video upload as (frames, 64, 64, 3) uint8 RGB at ``fps``.

    Takes the first ``frames / fps`` seconds (2.125 s by default), resampled to ``fps`` by ffmpeg's
    ``fps`` filter (nearest frame in time), centre-cropped to a square and resized with lanczos,
    which low-passes when shrinking. A shorter video is padded by repeating its last frame; this is
    logged at INFO. Rotation metadata is honoured. Audio tracks are ignored.
    """
    file = _check_file(path, limits)
    demuxer = require_demuxer(file, VIDEO_DEMUXERS, "video")
    info = _probe(file, demuxer, limits)
    stream = info.first("video")
    if stream is None:
        raise EmptyMediaError("This file has no video track.")
    _check_resolution(stream.width, stream.height, limits)
    if info.duration_s and stream.fps and info.duration_s * stream.fps > limits.max_frames:
        raise MediaTooLargeError(f"This video has too many frames (at most {limits.max_frames}).")
    size = FRAME_SIZE
    vf = f"fps={fps},crop='min(iw,ih)':'min(iw,ih)',scale={size}:{size}:flags=lanczos,setsar=1"
    frame_bytes = size * size * 3
    args = [*input_args(file, demuxer), "-map", f"0:{stream.index}", "-vf", vf, "-frames:v", str(frames)]
    raw = _decode([*args, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], frames * frame_bytes, limits)
    got = len(raw) // frame_bytes
    if got == 0:
        raise CorruptMediaError("No frames could be decoded from this video.")
    video = np.frombuffer(raw[: got * frame_bytes], np.uint8).reshape(got, size, size, 3)
    if got < frames:
        log.info("video has %d of %d frames; repeating the last frame", got, frames)
        video = np.concatenate([video, np.repeat(video[-1:], frames - got, axis=0)])
    return video.copy()


def read_audio(
    path: str | os.PathLike[str], samples: int = CLIP_SAMPLES, limits: MediaLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Read the first ``samples`` of an audio file, or of a video's audio track, as 16 kHz mono.

    Returns float32 in [-1, 1] of shape ``(samples,)`` (34,000 = 2.125 s by default); channels are
    averaged and ffmpeg resamples. A shorter sound is padded with silence (logged at INFO).
    """
    file = _check_file(path, limits)
    demuxer = require_demuxer(file, AUDIO_DEMUXERS, "audio")
    stream = _probe(file, demuxer, limits).first("audio")
    if stream is None:
        raise EmptyMediaError("This file has no audio track.")
    args = [*input_args(file, demuxer), "-map", f"0:{stream.index}", "-t", f"{samples / SAMPLE_RATE:.6f}"]
    raw = _decode([*args, "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"], samples * 4, limits)
    audio = np.frombuffer(raw[: len(raw) // 4 * 4], np.float32)[:samples]
    if audio.size == 0:
        raise CorruptMediaError("No sound could be decoded from this file.")
    if audio.size < samples:
        log.info("audio has %d of %d samples; padding with silence", audio.size, samples)
    audio = np.clip(np.nan_to_num(audio, nan=0.0), -1.0, 1.0)
    return np.pad(audio, (0, samples - audio.size)).astype(np.float32)


def _check_file(path: str | os.PathLike[str], limits: MediaLimits) -> Path:
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as err:
        raise EmptyMediaError("The file could not be found.") from err
    if not file.is_file():
        raise UnsupportedMediaError("This is not a regular file.")
    if size == 0:
        raise EmptyMediaError()
    if size > limits.max_bytes:
        raise MediaTooLargeError(f"This file is larger than {limits.max_bytes // 2**20} MB.")
    return file


def _check_resolution(width: int, height: int, limits: MediaLimits) -> None:
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise MediaTooLargeError(_too_big_image(limits))
    if width == 0 or height == 0:
        raise CorruptMediaError("The picture size in this file is missing or invalid.")


def _too_big_image(limits: MediaLimits) -> str:
    return (
        f"The picture is too large (at most {limits.max_side} pixels a side and "
        f"{limits.max_pixels / 1e6:.1f} megapixels)."
    )


def _square_resize(im: Image.Image) -> Image.Image:
    """Centre square of ``im`` resized to 64 x 64 with lanczos; alpha composited onto black."""
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    im = im.convert("RGBA" if has_alpha else "RGB")
    side = min(im.width, im.height)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    box = (left, top, left + side, top + side)
    small = im.resize((FRAME_SIZE, FRAME_SIZE), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    if has_alpha:
        flat = Image.new("RGB", small.size)
        flat.paste(small, mask=small.getchannel("A"))
        return flat
    return small


def _probe(file: Path, demuxer: str, limits: MediaLimits) -> ProbeResult:
    try:
        info = probe(file, demuxer, limits.timeout_s)
    except FfmpegTimeout as err:
        raise MediaTooLargeError("This file took too long to open.") from err
    except ProbeFailed as err:
        log.debug("ffmpeg could not open the %s input: %s", demuxer, err.stderr[-2000:])
        raise CorruptMediaError() from err
    if info.duration_s is not None and info.duration_s > limits.max_duration_s:
        raise MediaTooLargeError(f"This file is longer than {limits.max_duration_s:g} seconds.")
    return info


def _decode(args: list[str], max_output: int, limits: MediaLimits) -> bytes:
    """Run a decode (``-v error``) and turn ffmpeg's failures into :class:`MediaError`s.

    A file whose container is intact but whose data is cut short (e.g. a truncated MP4 with its
    index at the front) makes ffmpeg report errors and stop early; that counts as corrupt rather
    than silently padding a fraction of the clip.
    """
    try:
        result = run_ffmpeg(
            ["-v", "error", "-threads", "2", *args], timeout_s=limits.timeout_s, max_output=max_output
        )
    except FfmpegTimeout as err:
        raise MediaTooLargeError("This file took too long to decode.") from err
    except FfmpegOutputTooLarge as err:  # cannot happen with our arguments; kept as a hard cap
        raise CorruptMediaError() from err
    if result.returncode != 0 or _fatal(result.stderr):
        log.debug("ffmpeg decode failed (%d): %s", result.returncode, result.stderr[-2000:])
        raise CorruptMediaError()
    return result.stdout


def _fatal(stderr: str) -> bool:
    return any(marker in stderr for marker in ("partial file", "Invalid data found", "moov atom not found"))
