"""One shared vocabulary for the generator: special tokens, then video codes, then audio codes.

    [0, num_special)                      pad, mask, text slot, segment markers, task tokens, spare
    [video_offset, +video_vocab)          video tokenizer indices (LFQ bits -> K_v codes)
    [audio_offset(l), +audio_per_level)   audio codec level l, one range per residual-VQ level

Each RVQ level gets its own id range because a code index means a different vector at every level;
sharing ids would make the model guess the level from context. The special block is a fixed size
with spare slots, so a new task token claims a spare slot and old checkpoints keep their layout
(`SPECIAL_TOKENS` is append-only for the same reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TASK_NAMES: tuple[str, ...] = (
    "text_to_video", "text_to_image", "image_to_video", "extend", "interpolate", "inpaint", "outpaint",
    "stylize", "video_to_audio", "audio_to_video", "unconditional",
)
SEGMENT_TOKENS: tuple[str, ...] = (
    "bov_i", "eov_i",  # input video (image, previous clip, masked source)
    "boa_i", "eoa_i",  # input audio
    "boc_i", "eoc_i",  # structure / control video (stylize)
    "bov_o", "eov_o",  # output video
    "boa_o", "eoa_o",  # output audio
)
# "text" marks the slots that the projected text embeddings replace (see model.Transformer).
SPECIAL_TOKENS: tuple[str, ...] = ("pad", "mask", "text", *SEGMENT_TOKENS, *(f"task_{n}" for n in TASK_NAMES))
MASK_INDEX = -1  # a grid index that maps to the [MASK] id (an unknown token inside a condition)


@dataclass(frozen=True)
class Vocab:
    video_vocab: int = 2**14  # the video tokenizer's LFQ codes (bits = 14)
    audio_vocab_per_level: int = 1024
    audio_levels: int = 4
    num_special: int = 64  # special block size, spare slots included

    def __post_init__(self) -> None:
        if self.video_vocab < 2 or self.audio_vocab_per_level < 2 or self.audio_levels < 1:
            raise ValueError("video_vocab and audio_vocab_per_level must be >= 2, audio_levels >= 1")
        if self.num_special < len(SPECIAL_TOKENS):
            raise ValueError(f"num_special must be >= {len(SPECIAL_TOKENS)} (the named special tokens)")

    # ---- layout -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.num_special + self.video_vocab + self.audio_levels * self.audio_vocab_per_level

    @property
    def video_offset(self) -> int:
        return self.num_special

    def audio_offset(self, level: int) -> int:
        if not 0 <= level < self.audio_levels:
            raise ValueError(f"audio level {level} is not in [0, {self.audio_levels})")
        return self.num_special + self.video_vocab + level * self.audio_vocab_per_level

    @property
    def video_range(self) -> tuple[int, int]:
        """[lo, hi) of the video code ids."""
        return self.video_offset, self.video_offset + self.video_vocab

    def audio_range(self, level: int) -> tuple[int, int]:
        """[lo, hi) of the ids of audio level `level`."""
        lo = self.audio_offset(level)
        return lo, lo + self.audio_vocab_per_level

    def token(self, name: str) -> int:
        """Id of a special token by name ("pad", "mask", "bov_o", "task_inpaint", ...)."""
        try:
            return SPECIAL_TOKENS.index(name)
        except ValueError:
            raise KeyError(f"no special token {name!r}") from None

    def task_token(self, task: str) -> int:
        return self.token(f"task_{task}")

    @property
    def pad(self) -> int:
        return self.token("pad")

    @property
    def mask(self) -> int:
        return self.token("mask")

    @property
    def text(self) -> int:
        return self.token("text")

    # ---- grids <-> ids (exact inverses) ---------------------------------------------------------
    def video_to_ids(self, indices: torch.Tensor) -> torch.Tensor:
        """Video indices of any shape (e.g. (B, t, h, w)) -> shared ids; MASK_INDEX -> [MASK]."""
        _check_range(indices, self.video_vocab, "video", allow_mask=True)
        return torch.where(indices == MASK_INDEX, self.mask, indices + self.video_offset)

    def ids_to_video(self, ids: torch.Tensor) -> torch.Tensor:
        """Inverse of `video_to_ids`; an id outside the video range (and not [MASK]) is an error."""
        is_mask = ids == self.mask
        idx = ids - self.video_offset
        _check_range(idx.masked_fill(is_mask, 0), self.video_vocab, "video id", allow_mask=False)
        return idx.masked_fill(is_mask, MASK_INDEX)

    def audio_to_ids(self, indices: torch.Tensor) -> torch.Tensor:
        """Audio indices (..., levels, frames) -> ids of the same shape, level l shifted into its range."""
        self._check_levels(indices)
        _check_range(indices, self.audio_vocab_per_level, "audio", allow_mask=True)
        ids = indices + self._audio_offsets(indices.device)
        return torch.where(indices == MASK_INDEX, self.mask, ids)

    def ids_to_audio(self, ids: torch.Tensor) -> torch.Tensor:
        """Inverse of `audio_to_ids`; an id of the wrong level is an error."""
        self._check_levels(ids)
        is_mask = ids == self.mask
        idx = ids - self._audio_offsets(ids.device)
        _check_range(idx.masked_fill(is_mask, 0), self.audio_vocab_per_level, "audio id", allow_mask=False)
        return idx.masked_fill(is_mask, MASK_INDEX)

    def _check_levels(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[-2] != self.audio_levels:
            raise ValueError(f"audio needs shape (..., {self.audio_levels}, frames), got {tuple(x.shape)}")

    def _audio_offsets(self, device: torch.device) -> torch.Tensor:
        offsets = [self.audio_offset(level) for level in range(self.audio_levels)]
        return torch.tensor(offsets, device=device).unsqueeze(-1)  # (levels, 1)


def _check_range(indices: torch.Tensor, size: int, what: str, allow_mask: bool) -> None:
    if indices.dtype != torch.long:
        raise TypeError(f"{what} indices must be torch.long, got {indices.dtype}")
    valid = (indices >= 0) & (indices < size)
    if allow_mask:
        valid |= indices == MASK_INDEX
    if not bool(valid.all()):
        bad = indices[~valid][0].item()
        raise ValueError(f"{what} index {bad} is outside [0, {size})")
