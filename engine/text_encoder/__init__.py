"""The text encoder: frozen all-MiniLM-L6-v2 per-token embeddings for the generator's prefix, and a
pooled sentence embedding from a small learned pooling head (see README.md beside this file)."""

from engine.text_encoder.encoder import (
    CONFIG_PATH,
    PACKAGE_MODEL_ID,
    POOLING_SUBFOLDER,
    PoolingHead,
    PoolingHeadConfig,
    TextEmbedding,
    TextEncoder,
    TextEncoderConfig,
    TextTooLongError,
    load_text_encoder,
    mean_pool,
    model_folder,
)

__all__ = [
    "CONFIG_PATH", "PACKAGE_MODEL_ID", "POOLING_SUBFOLDER", "PoolingHead", "PoolingHeadConfig", "TextEmbedding",
    "TextEncoder", "TextEncoderConfig", "TextTooLongError", "load_text_encoder", "mean_pool", "model_folder",
]
