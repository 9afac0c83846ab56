"""Write clips for browsers: H.264/AAC MP4, 16-bit WAV and PNG, each written atomically.

Every writer renders into a temporary file beside the target and renames it into place, so a
reader (Gradio serving the path, a browser fetching it) sees either no file or the whole file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from .ffmpeg import run_ffmpeg
from .limits import FPS, SAMPLE_RATE

_WRITE_TIMEOUT_S = 120.0


def write_mp4(
    path: str | os.PathLike[str],
    video: np.ndarray,
    fps: float = FPS,
    audio: np.ndarray | None = None,
    sample_rate: int = SAMPLE_RATE,
    scale: int = 1,
) -> Path:
    """Encode ``video`` (T, H, W, 3) uint8 RGB, plus optional mono ``audio``, as a web-playable MP4.

    H.264 High profile in yuv420p with the index at the front (``+faststart``) and AAC audio: the
    one combination every current browser plays. ``scale`` > 1 enlarges each pixel to a
    ``scale`` x ``scale`` block (nearest neighbour): the frames are pixel art, and blocks keep
    edges crisp where lanczos would ring and blur them; with even blocks, 4:2:0 chroma (one colour
    sample per 2 x 2 pixels) also stops bleeding across object edges. Audio is padded with silence
    or trimmed to exactly T / fps seconds, so both tracks, and the file, last T / fps seconds
    (ffmpeg's edit list hides the AAC encoder's priming samples).
    """
    video = _check_video(video)
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0 or scale < 1 or int(scale) != scale:
        raise ValueError(f"need fps > 0 and an integer scale >= 1, got fps={fps}, scale={scale}")
    scale, (t, h, w, _) = int(scale), video.shape
    vf = [f"scale={w * scale}:{h * scale}:flags=neighbor:out_color_matrix=bt709:out_range=tv"]
    if (w * scale) % 2 or (h * scale) % 2:
        vf.append("pad=ceil(iw/2)*2:ceil(ih/2)*2")  # 4:2:0 needs even sides
    # Tag matrix, primaries and transfer all as BT.709: Chromium ignores a partial tag and decodes as
    # BT.601, which shifts saturated colours by ~20 levels (red 220,40,40 shows as 204,21,42).
    vf.append("setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv")
    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", str(rate), "-i", "pipe:0"]
    out_args = ["-map", "0:v", "-vf", ",".join(vf), "-c:v", "libx264", "-preset", "medium", "-crf", "16"]
    out_args += ["-profile:v", "high", "-pix_fmt", "yuv420p"]
    with _atomic(path, ".mp4") as tmp, tempfile.TemporaryDirectory() as scratch:
        if audio is not None:
            pcm = fit_audio(audio, round(t / float(rate) * sample_rate))
            raw = Path(scratch) / "audio.f32"
            pcm.tofile(raw)
            args += ["-f", "f32le", "-ar", str(int(sample_rate)), "-ac", "1", "-i", f"file:{raw}"]
            out_args += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
        out_args += ["-movflags", "+faststart", "-f", "mp4", "-y", f"file:{tmp}"]
        result = run_ffmpeg(
            ["-v", "error", *args, *out_args], timeout_s=_WRITE_TIMEOUT_S, stdin=video.tobytes()
        )
        if result.returncode != 0:
            raise RuntimeError(f"ffmpeg failed to encode the video: {result.stderr[-2000:]}")
    return Path(path)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float audio in [-1, 1] as 16-bit PCM WAV (values outside are clipped)."""
    pcm = np.round(_check_audio(audio) * 32767).astype("<i2")
    with _atomic(path, ".wav") as tmp, wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(sample_rate))
        wav.writeframes(pcm.tobytes())
    return Path(path)


def write_png(path: str | os.PathLike[str], image: np.ndarray, scale: int = 1) -> Path:
    """Write an (H, W, 3) uint8 RGB image as PNG, optionally enlarged by nearest neighbour."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"need an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    if scale < 1 or int(scale) != scale:
        raise ValueError(f"need an integer scale >= 1, got {scale}")
    pil = Image.fromarray(image)
    if scale > 1:
        pil = pil.resize((pil.width * int(scale), pil.height * int(scale)), Image.Resampling.NEAREST)
    with _atomic(path, ".png") as tmp:
        pil.save(tmp, format="PNG")
    return Path(path)


def fit_audio(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Return mono float32 audio of exactly ``n_samples``: trimmed, or padded with silence."""
    pcm = _check_audio(audio)[:n_samples]
    return np.pad(pcm, (0, n_samples - pcm.size))


def _check_video(video: np.ndarray) -> np.ndarray:
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8 or 0 in video.shape:
        raise ValueError(f"need a (T, H, W, 3) uint8 video with T >= 1, got {video.shape} {video.dtype}")
    return np.ascontiguousarray(video)


def _check_audio(audio: np.ndarray) -> np.ndarray:
    """Mono float32 in [-1, 1]; NaN becomes silence, +-inf is clipped."""
    audio = np.asarray(audio)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"need mono float audio of shape (N,), got {audio.shape} {audio.dtype}")
    return np.clip(np.nan_to_num(audio.astype(np.float32), nan=0.0), -1.0, 1.0)


@contextlib.contextmanager
def _atomic(path: str | os.PathLike[str], suffix: str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the body succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the file is meant to be served
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
