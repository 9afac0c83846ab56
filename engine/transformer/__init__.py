"""The generator's backbone: the shared vocabulary and the prefix-LM transformer."""

from engine.transformer.model import KVCache, Transformer, TransformerConfig
from engine.transformer.vocab import MASK_INDEX, SPECIAL_TOKENS, TASK_NAMES, Vocab

__all__ = [
    "MASK_INDEX", "SPECIAL_TOKENS", "TASK_NAMES", "KVCache", "Transformer", "TransformerConfig", "Vocab",
]
