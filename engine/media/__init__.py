"""Media I/O: write clips browsers play, read untrusted uploads into the model's native format.

Native format: video uint8 (T, 64, 64, 3) at 8 fps, image uint8 (64, 64, 3), audio float32 mono
16 kHz in [-1, 1]; a clip is 17 frames / 34,000 samples (2.125 s).
"""

from .errors import CorruptMediaError, EmptyMediaError, MediaError, MediaTooLargeError, UnsupportedMediaError
from .limits import CLIP_FRAMES, CLIP_SAMPLES, DEFAULT_LIMITS, FPS, FRAME_SIZE, SAMPLE_RATE, MediaLimits
from .read import read_audio, read_image, read_video
from .write import write_mp4, write_png, write_wav

__all__ = [
    "CLIP_FRAMES",
    "CLIP_SAMPLES",
    "DEFAULT_LIMITS",
    "FPS",
    "FRAME_SIZE",
    "SAMPLE_RATE",
    "CorruptMediaError",
    "EmptyMediaError",
    "MediaError",
    "MediaLimits",
    "MediaTooLargeError",
    "UnsupportedMediaError",
    "read_audio",
    "read_image",
    "read_video",
    "write_mp4",
    "write_png",
    "write_wav",
]
