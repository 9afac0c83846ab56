"""The harmonic decoder: token latents -> each voice's pitch, loudness and timbre -> additive synthesis.

Why a second decoder: the waveform decoder (`model.Decoder`) regresses to the mean where it is
unsure which of the world's four timbres it hears, so its harmonics 2-8 come out too weak and the
judge hears triangles as circles (59 % of timbres kept on 512 clips after the spectral refiner and
a discriminator; engine/audio_tokenizer/README.md). The tokens do carry the timbre (a linear probe
tells the shape from one latent frame 89 % of the time), so this decoder *decides* instead of
averaging: per latent frame and voice slot it predicts a pitch, an amplitude and logits over a bank
of `harmonic_timbres` learned partial-amplitude vectors, and synthesises
    audio = sum_v amplitude_v * sum_n partials_v[n] * sin(2 pi n cycles_v),  cycles_v = cumsum(f_v / sr)
with the controls interpolated linearly from frame centres to samples. Decoding takes the most
likely timbre of each frame; training (`train_harmonic.py`) fits the controls to what the world's
renderer used (pitch, loudness, shape of every object), with voice slots ordered by pitch.

What it cannot do: wall clicks (noise) are not synthesised; the shipped tokens barely hold them
(README.md, "What is missing"). It decodes any latent, but it can only ever sound like up to
`harmonic_voices` world hums.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from engine.audio_tokenizer.layers import ConvNeXtBlock

if TYPE_CHECKING:
    from engine.audio_tokenizer.model import AudioTokenizerConfig


class VoiceControls(NamedTuple):
    """What the decoder predicts per latent frame and voice slot."""

    log2_hz: torch.Tensor  # (B, T, V) pitch
    amplitude: torch.Tensor  # (B, T, V) peak amplitude; 0 = silent slot
    timbre_logits: torch.Tensor  # (B, T, V, K) over the timbre bank


def synthesize(log2_hz: torch.Tensor, amplitude: torch.Tensor, partials: torch.Tensor, hop: int,
               sample_rate: int) -> torch.Tensor:
    """Additive synthesis from frame controls: (B, T, V), (B, T, V), (B, T, V, P) -> (B, 1, T * hop).

    Frame t's controls sit at the centre of its hop (sample t * hop + hop / 2) and are interpolated
    linearly in between, held at the ends. The phase is summed in float64 and wrapped to one cycle
    before the sine, so a 2 s clip (~2,000 cycles) keeps its phase exact in float32 as well. Every
    voice starts at phase 0, as the world's hums do.
    """
    B, T, V = log2_hz.shape
    P = partials.shape[-1]
    frame = torch.cat([log2_hz[..., None], amplitude[..., None], partials], dim=-1)  # (B, T, V, 2 + P)
    x = frame.reshape(B, T, V * (2 + P)).transpose(1, 2)  # (B, V * (2 + P), T)
    x = F.interpolate(x, scale_factor=float(hop), mode="linear", align_corners=False)  # (B, C, T * hop)
    x = x.reshape(B, V, 2 + P, T * hop)
    step = torch.exp(x[:, :, 0].double() * math.log(2.0)) / sample_rate  # (B, V, N) cycles per sample
    cycles = torch.cumsum(step, dim=-1) - step  # phase 0 at sample 0, as the world's hums start
    cycles = (cycles - torch.floor(cycles)).float()  # (B, V, N) in [0, 1)
    harmonic = torch.arange(1, P + 1, dtype=x.dtype, device=x.device).view(1, 1, P, 1)
    wave = (x[:, :, 2:] * torch.sin(2 * math.pi * harmonic * cycles[:, :, None])).sum(dim=2)  # (B, V, N)
    return (x[:, :, 1] * wave).sum(dim=1, keepdim=True)


class HarmonicDecoder(nn.Module):
    """(B, latent_dim, T) quantized latent -> (B, 1, T * hop) audio through per-voice controls."""

    def __init__(self, config: AudioTokenizerConfig) -> None:
        super().__init__()
        self.hop, self.sample_rate = config.hop, config.sample_rate
        self.voices, self.timbres = config.harmonic_voices, config.harmonic_timbres
        lo, hi = config.harmonic_hz
        self.log2_lo, self.log2_span = math.log2(lo), math.log2(hi / lo)
        width = config.harmonic_width
        self.proj_in = nn.Conv1d(config.latent_dim, width, 3, padding=1)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(width) for _ in range(config.harmonic_blocks)])
        self.proj_out = nn.Conv1d(width, self.voices * (2 + self.timbres), 1)
        self.bank = nn.Parameter(0.1 * torch.randn(self.timbres, config.harmonic_partials))  # (K, P)

    def controls(self, latent: torch.Tensor) -> VoiceControls:
        """(B, D, T) -> pitch, amplitude and timbre logits of every voice slot, per frame."""
        B, _, T = latent.shape
        h = self.proj_out(self.blocks(self.proj_in(latent)))  # (B, V * (2 + K), T)
        h = h.transpose(1, 2).reshape(B, T, self.voices, 2 + self.timbres)
        log2_hz = self.log2_lo + self.log2_span * torch.sigmoid(h[..., 0])  # within harmonic_hz
        amplitude = 0.1 * F.softplus(h[..., 1])  # the world's hums peak at 0.18-0.32
        return VoiceControls(log2_hz, amplitude, h[..., 2:])

    def forward(self, latent: torch.Tensor) -> torch.Tensor:  # (B, D, T) -> (B, 1, T * hop)
        c = self.controls(latent)
        partials = self.bank[c.timbre_logits.argmax(dim=-1)]  # (B, T, V, P): the most likely timbre
        return synthesize(c.log2_hz, c.amplitude, partials, self.hop, self.sample_rate)
