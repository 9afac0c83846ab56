"""SoundStream-style audio tokenizer: audio (B, 1, N) at 16 kHz <-> residual-VQ tokens (B, levels, frames).

The ONNX decoder runtime is `engine.audio_tokenizer.onnx_export.load_audio_decoder`.
"""

from engine.audio_tokenizer.model import AudioTokenizer, AudioTokenizerConfig
from engine.audio_tokenizer.rvq import ResidualVQ, VectorQuantizer

__all__ = ["AudioTokenizer", "AudioTokenizerConfig", "ResidualVQ", "VectorQuantizer"]
