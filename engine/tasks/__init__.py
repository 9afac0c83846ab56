"""Tasks as data: layouts of the prefix and the output, batching, and running one through the model."""

from engine.tasks.generate import (
    DECODINGS,
    DEFAULT_STEPS,
    CanvasModel,
    Generated,
    TransformerStepper,
    generate,
)
from engine.tasks.sequence import (
    IGNORE,
    Batch,
    Sequence,
    audio_to_sequence,
    build_sequence,
    collate,
    sequence_to_audio,
)
from engine.tasks.spec import TASKS, TaskSpec, get_task

__all__ = [
    "DECODINGS", "DEFAULT_STEPS", "IGNORE", "TASKS", "Batch", "CanvasModel", "Generated", "Sequence", "TaskSpec",
    "TransformerStepper", "audio_to_sequence", "build_sequence", "collate", "generate", "get_task",
    "sequence_to_audio",
]
