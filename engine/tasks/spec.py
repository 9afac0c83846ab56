"""Tasks as data: which segments a task's prefix holds and which output tokens are given.

Every task is one `TaskSpec` in `TASKS`; the model never branches on the task. A new task is a new
entry here plus its name appended to `vocab.TASK_NAMES` (which claims a spare special-token slot, so
trained checkpoints keep their layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.transformer.vocab import TASK_NAMES

Modality = Literal["video", "audio"]
Known = Literal["none", "first_frame", "mask"]


@dataclass(frozen=True)
class TaskSpec:
    """The layout of one task; segments appear in the prefix in the order of the fields.

    text: a prompt slot. A missing prompt hides the slot, which is also the unconditional branch of
        classifier-free guidance, so optional prompts need no separate task.
    input_video: [bov_i] tokens [eov_i]: an image (1 latent frame), a previous clip, the first and last
        frames, or a source clip whose unknown tokens are [MASK].
    control_video: [boc_i] tokens [eoc_i]: a structure video computed from a source clip (stylize).
    input_audio: [boa_i] codes [eoa_i].
    output: what is generated, between [bov_o]/[eov_o] or [boa_o]/[eoa_o].
    known: which output tokens are given and kept exactly: none, the first latent frame, or a
        per-request boolean grid (in/outpainting).
    """

    name: str
    output: Modality
    text: bool = False
    input_video: bool = False
    control_video: bool = False
    input_audio: bool = False
    known: Known = "none"
    doc: str = ""

    def __post_init__(self) -> None:
        if self.name not in TASK_NAMES:
            raise ValueError(f"task {self.name!r} has no task token; append it to vocab.TASK_NAMES")
        if self.output not in ("video", "audio") or self.known not in ("none", "first_frame", "mask"):
            raise ValueError(f"task {self.name!r}: bad output {self.output!r} or known {self.known!r}")
        if self.known == "first_frame" and self.output != "video":
            raise ValueError(f"task {self.name!r}: only a video output has a first frame")

    @property
    def token(self) -> str:
        return f"task_{self.name}"


_SPECS = (
    TaskSpec("text_to_video", "video", text=True, doc="prompt -> clip"),
    TaskSpec("text_to_image", "video", text=True, doc="prompt -> one latent frame (output_shape (1, h, w))"),
    TaskSpec("image_to_video", "video", text=True, input_video=True, known="first_frame",
             doc="image tokens (1, h, w) in the prefix; the output's first latent frame is the image"),
    TaskSpec("extend", "video", text=True, input_video=True, known="first_frame",
             doc="previous clip in the prefix; the output's first latent frame is the previous clip's last "
                 "pixel frame encoded as an image, so chained clips meet without a jump"),
    TaskSpec("interpolate", "video", text=True, input_video=True, known="first_frame",
             doc="first and last frames (2, h, w) in the prefix; the output starts at the first"),
    TaskSpec("inpaint", "video", text=True, input_video=True, known="mask",
             doc="source with hidden tokens as [MASK] in the prefix; the visible tokens are kept"),
    TaskSpec("outpaint", "video", text=True, input_video=True, known="mask",
             doc="as inpaint, with the kept region a central, left/right or top/bottom block"),
    TaskSpec("stylize", "video", text=True, control_video=True,
             doc="structure video of the source + a prompt for the new look -> clip"),
    TaskSpec("video_to_audio", "audio", input_video=True, doc="clip -> its sound"),
    TaskSpec("audio_to_video", "video", text=True, input_audio=True, doc="sound (+ optional prompt) -> clip"),
    TaskSpec("unconditional", "video", doc="nothing -> clip"),
)
TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}


def get_task(task: str | TaskSpec) -> TaskSpec:
    if isinstance(task, TaskSpec):
        return task
    try:
        return TASKS[task]
    except KeyError:
        raise KeyError(f"unknown task {task!r}; known: {sorted(TASKS)}") from None
