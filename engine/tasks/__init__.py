"""Tasks as data: layouts of the prefix and the output, batching, and running one through the model."""

from engine.tasks.generate import TransformerStepper, generate
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
    "IGNORE", "TASKS", "Batch", "Sequence", "TaskSpec", "TransformerStepper", "audio_to_sequence",
    "build_sequence", "collate", "generate", "get_task", "sequence_to_audio",
]
