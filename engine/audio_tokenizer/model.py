"""SoundStream-style audio tokenizer: 1-D conv encoder -> residual VQ -> 1-D conv decoder at 16 kHz.

The encoder halves/quarters/... the time axis with strided convolutions (product of `strides` =
samples per token frame, the hop), each stride preceded by residual units with dilations 1, 3, 9
so the receptive field covers several pitch periods; the decoder mirrors it with transposed
convolutions. Each latent frame is scaled to norm sqrt(latent_dim) before quantization: without it
the commitment loss shrinks the latents until the decoder sees almost nothing (measured: latent
magnitude 0.008 after 400 steps, reconstructions ten times too quiet).

The decoder may end in a spectral refiner (`refiner_blocks` > 0): a ConvNeXt stack over token
frames that reads the waveform decoder's STFT log-magnitudes and the latent, multiplies every bin
by a learned gain (keeping the waveform's phase, `stft.py`) and adds a predicted spectrum. The
waveform decoder gets pitch and phase right but is a low-pass (harmonics 2-8, which tell the
timbres apart, and the clicks come out 20-26 dB too quiet); a gain on a coherent signal restores
them without the phase problem a decoder that predicts spectra from scratch has (measured: its
pitch was off by > 1 semitone at 1,400 steps, where the waveform decoder's is 0.007), and the added
spectrum supplies partials the waveform lacks, which no gain can create. The refiner's last layer
starts at gain 1 with nothing added, i.e. as the identity; it lives inside `decoder`, so a refiner
added by a decoder-only fine-tune keeps every token (and so every token cache and the generator)
valid.

`decoder="harmonic"` replaces that decoder with `harmonic.HarmonicDecoder` (per-voice pitch,
loudness and a chosen timbre, then additive synthesis; trained by `train_harmonic.py` on the same
frozen tokens). The waveform decoder stays what trains the encoder (stage 1).

Tokens are (B, levels, frames) longs; the generator puts level l's codes at `level_offset(l) +
index` in one shared vocabulary of `vocab_size` entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.audio_tokenizer.harmonic import HarmonicDecoder
from engine.audio_tokenizer.layers import ConvNeXtBlock
from engine.audio_tokenizer.rvq import ResidualVQ, RVQOutput
from engine.audio_tokenizer.stft import STFT
from engine.components import Component


@dataclass(frozen=True)
class AudioTokenizerConfig:
    sample_rate: int = 16_000
    clip_samples: int = 34_000  # one world clip (2.125 s)
    channels: int = 8  # width of the first stage; doubled at each stride
    strides: tuple[int, ...] = (4, 4, 4, 5)  # product = hop: 320 samples -> 50 frames/s (README.md)
    dilations: tuple[int, ...] = (1, 3, 9)  # one residual unit per dilation, before each stride
    kernel_size: int = 7
    latent_dim: int = 64
    levels: int = 4
    codebook_size: int = 1024
    ema_decay: float = 0.99
    restart_after: int = 100  # training steps a code may stay unused before it is restarted
    quantizer_dropout: float = 0.5
    refiner_blocks: int = 0  # 0: the waveform decoder alone (the first training stage)
    refiner_width: int = 256
    refiner_fft: int = 1280  # STFT window of the refiner, a multiple of the hop (4 x 320: 12.5 Hz bins)
    refiner_max_log_gain: float = 5.0  # gains stay within exp(+-5), about +-43 dB
    decoder: str = "waveform"  # "waveform" (Decoder, + refiner) or "harmonic" (harmonic.py)
    harmonic_voices: int = 2  # voice slots (the world has one or two objects)
    harmonic_partials: int = 8  # harmonics per voice (the world's highest is the 8th)
    harmonic_timbres: int = 4  # entries of the learned timbre bank
    harmonic_width: int = 256
    harmonic_blocks: int = 6
    harmonic_hz: tuple[float, float] = (190.0, 950.0)  # pitch range (the world's 220-880 Hz, a margin)

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.clip_samples <= 0:
            raise ValueError("sample_rate and clip_samples must be positive")
        if not self.strides or any(s < 1 for s in self.strides):
            raise ValueError(f"strides must be positive integers, got {self.strides}")
        if self.channels < 1 or self.latent_dim < 1 or self.kernel_size % 2 == 0:
            raise ValueError("channels and latent_dim must be >= 1 and kernel_size odd")
        if self.levels < 1 or self.codebook_size < 2:
            raise ValueError("levels must be >= 1 and codebook_size >= 2")
        if not 0.0 <= self.quantizer_dropout <= 1.0 or not 0.0 < self.ema_decay < 1.0:
            raise ValueError("quantizer_dropout must be in [0, 1] and ema_decay in (0, 1)")
        if self.refiner_blocks < 0 or self.refiner_width < 1 or self.refiner_max_log_gain <= 0:
            raise ValueError("refiner_blocks must be >= 0, refiner_width >= 1, refiner_max_log_gain > 0")
        if self.decoder not in ("waveform", "harmonic"):
            raise ValueError(f"decoder must be 'waveform' or 'harmonic', got {self.decoder!r}")
        if min(self.harmonic_voices, self.harmonic_partials, self.harmonic_timbres, self.harmonic_width,
               self.harmonic_blocks) < 1:
            raise ValueError("harmonic_voices, _partials, _timbres, _width and _blocks must be >= 1")
        lo, hi = self.harmonic_hz
        if not 0 < lo < hi or hi * self.harmonic_partials >= self.sample_rate / 2:
            raise ValueError(f"harmonic_hz {self.harmonic_hz}: need 0 < lo < hi and every partial below Nyquist")
        if self.refiner_fft % self.hop:
            raise ValueError(f"refiner_fft ({self.refiner_fft}) must be a multiple of the hop ({self.hop})")

    @property
    def hop(self) -> int:
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N) -> (B, C, N)
        return x + self.proj(F.elu(self.conv(F.elu(x))))


def _stride_padding(stride: int) -> int:
    """Padding for a kernel of 2 * stride so that N samples map to exactly N / stride (and back)."""
    return (stride + 1) // 2


class Encoder(nn.Module):
    def __init__(self, config: AudioTokenizerConfig) -> None:
        super().__init__()
        c, k = config.channels, config.kernel_size
        layers: list[nn.Module] = [nn.Conv1d(1, c, k, padding=k // 2)]
        for i, stride in enumerate(config.strides):
            width = c * 2**i
            layers += [ResidualUnit(width, k, d) for d in config.dilations]
            layers += [nn.ELU(), nn.Conv1d(width, width * 2, 2 * stride, stride, _stride_padding(stride))]
        layers += [nn.ELU(), nn.Conv1d(c * 2 ** len(config.strides), config.latent_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:  # (B, 1, frames * hop) -> (B, D, frames)
        latent = self.net(audio)
        return F.normalize(latent, dim=1) * latent.shape[1] ** 0.5


RESIDUAL_OFF = -12.0  # initial log magnitude of the added spectrum: exp(-12) ~ 6e-6, i.e. nothing
MAX_LOG_ADDED = 6.0  # a world clip's loudest bins at this window are ~ exp(5)


class SpectralRefiner(nn.Module):
    """The waveform's STFT with a per-bin gain (its phase kept) plus an added spectrum, both predicted
    from the waveform's log-magnitudes and the latent."""

    def __init__(self, config: AudioTokenizerConfig) -> None:
        super().__init__()
        self.stft = STFT(config.refiner_fft, config.hop)
        self.max_log_gain = config.refiner_max_log_gain
        width = config.refiner_width
        self.proj_in = nn.Conv1d(self.stft.bins + config.latent_dim, width, 7, padding=3)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(width) for _ in range(config.refiner_blocks)])
        self.proj_out = nn.Conv1d(width, 3 * self.stft.bins, 1)  # log gain, added log magnitude, added phase
        nn.init.zeros_(self.proj_out.weight)  # gain 1 and (almost) nothing added: starts as the identity
        nn.init.zeros_(self.proj_out.bias)
        with torch.no_grad():
            self.proj_out.bias[self.stft.bins: 2 * self.stft.bins] = RESIDUAL_OFF

    def forward(self, audio: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """(B, 1, frames * hop), (B, D, frames) -> (B, 1, frames * hop)."""
        real, imag = self.stft.analysis(audio)  # (B, bins, frames) each
        log_magnitude = torch.log(torch.sqrt(real**2 + imag**2 + 1e-10) + 1e-4)
        h = self.blocks(self.proj_in(torch.cat([log_magnitude, latent], dim=1)))  # (B, width, frames)
        log_gain, log_added, phase = self.proj_out(h).chunk(3, dim=1)  # (B, bins, frames) each
        gain = torch.exp(self.max_log_gain * torch.tanh(log_gain / self.max_log_gain))
        added = torch.exp(log_added.clamp(max=MAX_LOG_ADDED))
        return self.stft.synthesis(real * gain + added * torch.cos(phase), imag * gain + added * torch.sin(phase))


class Decoder(nn.Module):
    def __init__(self, config: AudioTokenizerConfig) -> None:
        super().__init__()
        c, k, n = config.channels, config.kernel_size, len(config.strides)
        layers: list[nn.Module] = [nn.Conv1d(config.latent_dim, c * 2**n, k, padding=k // 2)]
        for i, stride in enumerate(reversed(config.strides)):
            width = c * 2 ** (n - i)
            layers += [nn.ELU(), nn.ConvTranspose1d(width, width // 2, 2 * stride, stride,
                                                    _stride_padding(stride), output_padding=stride % 2)]
            layers += [ResidualUnit(width // 2, k, d) for d in config.dilations]
        layers += [nn.ELU(), nn.Conv1d(c, 1, k, padding=k // 2)]
        self.net = nn.Sequential(*layers)
        self.refiner = SpectralRefiner(config) if config.refiner_blocks else None

    def forward(self, latent: torch.Tensor) -> torch.Tensor:  # (B, D, frames) -> (B, 1, frames * hop)
        audio = self.net(latent)
        return audio if self.refiner is None else self.refiner(audio, latent)


class AudioTokenizer(Component):
    """encode(audio (B, 1, N)) -> (B, levels, frames) longs; decode(indices) -> (B, 1, N)."""

    config_class = AudioTokenizerConfig

    def __init__(self, config: AudioTokenizerConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config)
        self.quantizer = ResidualVQ(config.latent_dim, config.levels, config.codebook_size,
                                    config.ema_decay, config.restart_after, config.quantizer_dropout)
        self.decoder = HarmonicDecoder(config) if config.decoder == "harmonic" else Decoder(config)

    # --- sizes -------------------------------------------------------------------------------
    def frames_for(self, num_samples: int) -> int:
        """Token frames for `num_samples` of audio (the input is zero-padded to a whole frame)."""
        return -(-num_samples // self.config.hop)

    def latent_shape(self, num_samples: int | None = None) -> tuple[int, int]:
        """(levels, frames) of the token grid for a clip (the world clip by default)."""
        return self.config.levels, self.frames_for(num_samples or self.config.clip_samples)

    @property
    def vocab_size_per_level(self) -> int:
        return self.config.codebook_size

    @property
    def vocab_size(self) -> int:
        """All levels in one vocabulary: level l's code i is token `level_offset(l) + i`."""
        return self.config.codebook_size * self.config.levels

    def level_offset(self, level: int) -> int:
        return level * self.config.codebook_size

    # --- codec -------------------------------------------------------------------------------
    def _pad(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() != 3 or audio.shape[1] != 1:
            raise ValueError(f"audio must be (B, 1, N), got {tuple(audio.shape)}")
        return F.pad(audio, (0, self.frames_for(audio.shape[-1]) * self.config.hop - audio.shape[-1]))

    def forward(self, audio: torch.Tensor, levels: int | None = None,
                quantize: bool = True) -> tuple[torch.Tensor, RVQOutput | None]:
        """Training pass: (B, 1, N) -> (reconstruction (B, 1, N), quantizer output).

        `quantize=False` decodes the continuous latent (the first training steps: an autoencoder
        learns an informative latent before codebooks are fitted to it, see train.py).
        """
        latent = self.encoder(self._pad(audio))
        q = self.quantizer(latent, levels) if quantize else None
        return self.decoder(q.quantized if q else latent)[..., : audio.shape[-1]], q

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """(B, 1, N) in [-1, 1] -> (B, levels, frames_for(N)) long."""
        return self.quantizer.encode(self.encoder(self._pad(audio)), levels)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """(B, L, frames) long, L <= levels -> (B, 1, num_samples or frames * hop)."""
        if indices.dim() != 3 or not 1 <= indices.shape[1] <= self.config.levels:
            raise ValueError(f"indices must be (B, 1..{self.config.levels}, frames), "
                             f"got {tuple(indices.shape)}")
        if indices.min() < 0 or indices.max() >= self.config.codebook_size:
            raise ValueError(f"indices must lie in [0, {self.config.codebook_size})")
        return self.decode_code(self.quantizer.dequantize(indices), num_samples)

    @torch.no_grad()
    def decode_code(self, latent: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """Quantized latent (B, latent_dim, frames) -> (B, 1, num_samples or frames * hop) in [-1, 1]."""
        audio = self.decoder(latent).clamp(-1, 1)
        return audio if num_samples is None else audio[..., :num_samples]
