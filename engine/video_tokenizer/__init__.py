"""MAGVIT-v2 style video tokenizer: causal (2+1)D CNN + lookup-free quantization (see README.md)."""

from engine.video_tokenizer.lfq import LFQ, LFQOutput
from engine.video_tokenizer.model import VideoTokenizer, VideoTokenizerConfig

__all__ = ["LFQ", "LFQOutput", "VideoTokenizer", "VideoTokenizerConfig"]
