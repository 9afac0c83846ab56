"""Reconstruction losses and the spectral distance used to compare audio codecs (no torchaudio).

Mel spectrograms resolve loudness and timbre but are coarse at the world's pitches (one 64-band mel
bin spans ~35 Hz near 220 Hz, where half a semitone is 6.4 Hz), so a linear-frequency log-magnitude
term at long windows (7.8 Hz bins at 2048) holds the pitch, and short windows hold the clicks.
`click_loss` weighs the world's wall clicks, the only sound above 7.3 kHz: a 30 ms burst in a few
clips is too little of any spectrum to move the losses above.
Logs are floored at 1e-3, about 100 dB below the loudest bins of a world clip (~100 at 2048), so
the losses do not spend the model on reproducing inaudibly faint noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.audio_tokenizer.stft import STFT, compressed

WINDOWS = (256, 512, 1024, 2048)


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)  # HTK formula


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular filters, (n_mels, n_fft // 2 + 1), each peaking at 1 on its mel-spaced centre."""
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # (F,)
    edges = mel_to_hz(torch.linspace(hz_to_mel(torch.tensor(f_min, dtype=torch.float64)).item(),
                                     hz_to_mel(torch.tensor(f_max, dtype=torch.float64)).item(),
                                     n_mels + 2, dtype=torch.float64))  # (M + 2,)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (M, 1) each
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    return rising.minimum(falling).clamp(min=0).float()


class MultiScaleSpectralLoss(nn.Module):
    """Per window size: log-mel L1 + mel L1 + linear log-magnitude L1, averaged over the scales."""

    def __init__(self, sample_rate: int = 16_000, windows: tuple[int, ...] = WINDOWS, n_mels: int = 64,
                 eps: float = 1e-3) -> None:
        super().__init__()
        self.windows, self.eps = windows, eps
        for n_fft in windows:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)
            self.register_buffer(f"mel_{n_fft}", mel_filterbank(n_fft, min(n_mels, n_fft // 8), sample_rate),
                                 persistent=False)

    def magnitude(self, audio: torch.Tensor, n_fft: int) -> torch.Tensor:
        """(B, 1, N) -> (B, n_fft // 2 + 1, frames) STFT magnitude, hop n_fft / 4."""
        spec = torch.stft(audio.squeeze(1), n_fft, n_fft // 4, window=getattr(self, f"window_{n_fft}"),
                          return_complex=True)
        return spec.abs()

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        mel_loss = stft_loss = prediction.new_zeros(())
        for n_fft in self.windows:
            mag_p, mag_t = self.magnitude(prediction, n_fft), self.magnitude(target, n_fft)
            fb = getattr(self, f"mel_{n_fft}")
            mel_p, mel_t = fb @ mag_p, fb @ mag_t  # (B, M, frames)
            mel_loss = mel_loss + F.l1_loss((mel_p + self.eps).log(), (mel_t + self.eps).log()) \
                + F.l1_loss(mel_p, mel_t)
            stft_loss = stft_loss + F.l1_loss((mag_p + self.eps).log(), (mag_t + self.eps).log())
        n = len(self.windows)
        return {"mel": mel_loss / n, "stft": stft_loss / n}

    @torch.no_grad()
    def distance(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The spectral distance reported for codecs: multi-scale log-mel L1 per clip, (B,)."""
        out = prediction.new_zeros(prediction.shape[0])
        for n_fft in self.windows:
            fb = getattr(self, f"mel_{n_fft}")
            mel_p = (fb @ self.magnitude(prediction, n_fft) + self.eps).log()
            mel_t = (fb @ self.magnitude(target, n_fft) + self.eps).log()
            out += (mel_p - mel_t).abs().mean(dim=(1, 2))
        return out / len(self.windows)


def complex_spectral_loss(stft: STFT, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between magnitude-compressed complex spectra (real and imaginary parts): unlike the
    magnitude losses it also sees phase. Both signals are zero-padded to whole STFT frames."""
    hop = stft.hop
    pad = -prediction.shape[-1] % hop
    pred_re, pred_im = compressed(*stft.analysis(F.pad(prediction, (0, pad))))
    true_re, true_im = compressed(*stft.analysis(F.pad(target, (0, pad))))
    return (pred_re - true_re).abs().mean() + (pred_im - true_im).abs().mean()


def partials_loss(spectral: MultiScaleSpectralLoss, prediction: torch.Tensor, target: torch.Tensor,
                  n_fft: int = 2048, floor: float = 0.01) -> torch.Tensor:
    """Log-magnitude L1 at one long window, floored at `floor` x the target clip's loudest bin.

    The other losses floor every bin at the same absolute 1e-3, so the many near-silent bins between
    partials outweigh the few that hold harmonics 2-8 (what tells the timbres apart); bins more than
    40 dB under the clip's peak do not count here, so this term is about the partials.
    """
    mag_p, mag_t = spectral.magnitude(prediction, n_fft), spectral.magnitude(target, n_fft)  # (B, F, frames)
    eps = floor * mag_t.amax(dim=(1, 2), keepdim=True) + 1e-5
    return F.l1_loss((mag_p + eps).log(), (mag_t + eps).log())


def high_band_envelope(spectral: MultiScaleSpectralLoss, audio: torch.Tensor, cutoff_hz: float = 7300.0,
                       n_fft: int = 256, sample_rate: int = 16_000) -> torch.Tensor:
    """(B, 1, N) -> (B, frames): RMS of the audio above `cutoff_hz` per 4 ms hop (Parseval over a
    Hann window of `n_fft`: sum w^2 = 3 n_fft / 8), in the waveform's units."""
    mag = spectral.magnitude(audio, n_fft)  # (B, n_fft // 2 + 1, frames)
    first = int(cutoff_hz * n_fft / sample_rate) + 1
    energy = 2 * mag[:, first:].pow(2).sum(dim=1) / (n_fft * 3 * n_fft / 8)
    return (energy + 1e-12).sqrt()


def click_loss(spectral: MultiScaleSpectralLoss, prediction: torch.Tensor, target: torch.Tensor,
               floor: float = 0.005) -> torch.Tensor:
    """L1 between log high-band envelopes, floored at `floor` (a world click reaches ~0.08, the
    judge's threshold is 0.02): a missing click costs ~2.8 per 4 ms frame, silence nothing."""
    env_p = high_band_envelope(spectral, prediction)
    env_t = high_band_envelope(spectral, target)
    return F.l1_loss((env_p + floor).log(), (env_t + floor).log())
