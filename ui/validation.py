"""Server-side checks for every value a request carries, with messages that never repeat the input.

Everything reaching a callback is untrusted (the page is one client; the API takes anything), so
each value is checked here for type, range and size before the engine sees it. Uploads are read
only through `engine.media`, which sniffs, probes and decodes them under firm limits; its errors
are already phrased for the person who sent the file.

The component factories at the end exist for the same reason. Gradio validates some inputs before a
callback runs, and its messages echo what was sent ("Value: 'x' is not in the list of choices",
"Value 1e99 is greater than maximum value 10"); its image components decode an upload with PIL
before anything has looked at its size (a 20000x20000 PNG is a decompression bomb). The factories
build the stock components and replace `preprocess` on the instance, so the raw value reaches the
checks here. (Instances, not subclasses: Gradio writes a .pyi stub beside any module that
subclasses a component.)
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from engine.masks import pool_mask
from engine.media import MediaError, read_audio, read_image, read_video

MAX_PROMPT_CHARS = 400  # checked here only: a prompt box's max_length would cut a pasted prompt silently
MAX_SEED = 2**31 - 1
MAX_MASK_SIDE = 1024
FRAME = 64


def invalid(message: str) -> gr.Error:
    """A user-facing error (shown in the page, returned by the API; no traceback, not even in the server log)."""
    return gr.Error(message, title="Please check the input", print_exception=False)


def prompt(value: Any, *, required: bool) -> str | None:
    """A stripped prompt, or None for an empty optional one."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid("The prompt must be text.")
    text = value.strip()
    if not text:
        if required:
            raise invalid("Type a prompt that describes the clip, e.g. 'a red ball bouncing on sand'.")
        return None
    if len(text) > MAX_PROMPT_CHARS:
        raise invalid(f"The prompt is too long: at most {MAX_PROMPT_CHARS} characters.")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise invalid("The prompt contains control characters.")
    return text


def whole_number(value: Any, low: int, high: int, what: str) -> int:
    """An int in [low, high]; floats with no fraction and numeric strings from the API are accepted."""
    number = _number(value)
    if number is None or number != int(number) or not low <= number <= high:
        raise invalid(f"{what} must be a whole number from {low:,} to {high:,}.")
    return int(number)


def real_number(value: Any, low: float, high: float, what: str) -> float:
    number = _number(value)
    if number is None or not low <= number <= high:
        raise invalid(f"{what} must be a number from {low:g} to {high:g}.")
    return number


def _number(value: Any) -> float | None:
    """`value` as a finite float, or None when it is not one (booleans are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def flag(value: Any, what: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"{what} must be true or false.")
    return value


def choice(value: Any, choices: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise invalid(f"Pick {what}: one of {', '.join(choices)}.")
    return value


def _upload(path: Any, what: str) -> str:
    if path is None:
        raise invalid(f"Add {what}.")
    if not isinstance(path, (str, os.PathLike)):
        raise invalid(f"{what.capitalize()} must be an uploaded file.")
    return os.fspath(path)


def _media_error(error: MediaError, what: str) -> gr.Error:
    return invalid(f"{what.capitalize()}: {error.message}")


def image(path: Any, what: str = "an image") -> np.ndarray:
    """An uploaded image as uint8 (64, 64, 3): centre square, resized."""
    file = _upload(path, what)
    try:
        return read_image(file)
    except MediaError as error:
        raise _media_error(error, what) from None


def video(path: Any, what: str = "a video", frames: int = 17) -> np.ndarray:
    """An uploaded clip as uint8 (frames, 64, 64, 3) at 8 fps (the first 2.125 s for 17 frames)."""
    file = _upload(path, what)
    try:
        return read_video(file, frames=frames)
    except MediaError as error:
        raise _media_error(error, what) from None


def audio(path: Any, what: str = "a sound") -> np.ndarray:
    """An uploaded sound (or a video's sound track) as float32 (34000,) at 16 kHz."""
    file = _upload(path, what)
    try:
        return read_audio(file)
    except MediaError as error:
        raise _media_error(error, what) from None


def drawn_mask(value: Any) -> np.ndarray | None:
    """The union of the editor's drawn layers as a bool (64, 64) mask, or None when nothing is drawn.

    The editor shows the first frame at 256x256, so a layer may be any square whose side is a
    multiple of 64 (up to MAX_MASK_SIDE); each 64x64 cell is masked if any of its pixels is drawn.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("The mask must come from the drawing canvas.")
    layers = value.get("layers") or []
    if not isinstance(layers, list) or not all(isinstance(layer, np.ndarray) for layer in layers):
        raise invalid("The mask drawing could not be read as an image.")
    if not layers:
        return None
    union = np.logical_or.reduce([pool_mask(_painted(layer), FRAME) for layer in layers])
    return union if union.any() else None


def _painted(layer: np.ndarray) -> np.ndarray:
    if layer.ndim != 3 or layer.shape[2] not in (3, 4):
        raise invalid("The mask drawing must be an RGB or RGBA image.")
    height, width = layer.shape[:2]
    if height != width or height % FRAME or not FRAME <= height <= MAX_MASK_SIDE:
        raise invalid(f"The mask must be the first frame's size: a square of 64, 128, ... up to "
                      f"{MAX_MASK_SIDE} pixels (the editor uses 256x256); this one is {width}x{height}.")
    if layer.shape[2] == 4:
        return layer[..., 3] > 0
    return layer.max(axis=2) > 0


# ---- components that hand the raw value to these checks ------------------------------------------
def _pass_through(payload: Any) -> Any:
    return payload


def Number(**kwargs: Any) -> gr.Number:  # noqa: N802 - reads like the component it builds
    """A number box that hands the raw value to the callback (no bounds check, no rounding)."""
    component = gr.Number(**kwargs)
    component.preprocess = _pass_through
    return component


def Slider(*args: Any, **kwargs: Any) -> gr.Slider:  # noqa: N802
    """A slider that hands the raw value to the callback (no bounds check)."""
    component = gr.Slider(*args, **kwargs)
    component.preprocess = _pass_through
    return component


def Radio(*args: Any, **kwargs: Any) -> gr.Radio:  # noqa: N802
    """Radio buttons that hand the raw value to the callback (no choice check)."""
    component = gr.Radio(*args, **kwargs)
    component.preprocess = _pass_through
    return component


def _image_path(payload: Any) -> str | None:
    if payload is None:
        return None
    if str(getattr(payload, "url", None) or "").startswith("data:") or not getattr(payload, "path", None):
        raise invalid("Upload the image as a file.")
    return str(payload.path)


def ImagePath(**kwargs: Any) -> gr.Image:  # noqa: N802
    """An image upload passed on as its cached file path, unopened: engine.media reads it, guarded."""
    component = gr.Image(type="filepath", **kwargs)
    component.preprocess = _image_path
    return component


def MaskEditor(**kwargs: Any) -> gr.ImageEditor:  # noqa: N802
    """The inpainting canvas (RGBA numpy layers); each image's size is read from its header first."""
    component = gr.ImageEditor(type="numpy", image_mode="RGBA", **kwargs)
    component.convert_and_format_image = _guarded(component.convert_and_format_image)
    return component


def _guarded(convert: Callable[..., Any]) -> Callable[..., Any]:
    def convert_checked(file: Any, flatten_on_white: bool = False) -> Any:
        if file is None:
            return None
        source = file.path if hasattr(file, "path") else io.BytesIO(bytes(file))
        try:
            with Image.open(source) as im:
                width, height = im.size
        except Exception as error:  # PIL's many ways of saying "not an image", and its bomb check
            raise invalid("The mask drawing could not be read as an image.") from error
        if max(width, height) > MAX_MASK_SIDE:
            raise invalid(f"The mask drawing is too large (at most {MAX_MASK_SIDE} pixels a side).")
        try:
            return convert(file, flatten_on_white)
        except Exception as error:
            raise invalid("The mask drawing could not be read as an image.") from error

    return convert_checked


def editor_value(background: np.ndarray | None) -> dict[str, Any]:
    """An ImageEditor value with `background` and no drawing."""
    return {"background": background, "layers": [], "composite": background}
