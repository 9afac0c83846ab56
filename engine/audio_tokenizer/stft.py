"""A short-time Fourier transform built from matmuls and pads, so the decoder exports to ONNX.

Frame f of a signal of `frames * hop` samples is the `n_fft` samples centred on the middle of hop
segment f (the signal is zero-padded by (n_fft - hop) / 2 on each side), Hann-windowed. The DFT
takes its time origin at the frame's centre, so a partial's phase is the same in every bin of its
main lobe; that keeps the spectra a decoder has to predict smooth across bins.

Synthesis is the least-squares inverse (as `torch.istft`): the inverse real DFT of each frame,
windowed again, overlap-added and divided by the summed squared windows. `n_fft` must be a
multiple of `hop`, so overlap-add is `n_fft / hop` shifted adds of whole hop segments.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class STFT(nn.Module):
    """analysis: (B, 1, frames * hop) -> real, imag (B, bins, frames); synthesis: the inverse."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        if n_fft % hop or n_fft < hop:
            raise ValueError(f"n_fft ({n_fft}) must be a multiple of hop ({hop})")
        self.n_fft, self.hop, self.overlap = n_fft, hop, n_fft // hop
        self.bins = n_fft // 2 + 1
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        n = torch.arange(n_fft, dtype=torch.float64) - n_fft // 2  # time origin at the frame centre
        k = torch.arange(self.bins, dtype=torch.float64)
        angle = 2 * math.pi * k[:, None] * n[None] / n_fft  # (bins, n_fft)
        weight = torch.full((self.bins,), 2.0, dtype=torch.float64)
        weight[0] = weight[-1] = 1.0  # DC and Nyquist appear once in a real signal's spectrum
        # (n_fft, 2 * bins): [windowed cos | windowed -sin], one matrix for analysis and synthesis
        # alike (the ONNX graph holds a copy per use: two, not four)
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window]).t()
        self.register_buffer("basis", basis.float().contiguous(), persistent=False)
        # the inverse DFT (windowed again) is the same basis with its rows scaled
        self.register_buffer("inverse_scale", (weight / n_fft).float()[:, None], persistent=False)  # (bins, 1)
        self.register_buffer("window_squared", (window**2).float().reshape(self.overlap, hop), persistent=False)

    @property
    def pad(self) -> int:
        return (self.n_fft - self.hop) // 2

    def analysis(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, frames * hop) -> (real, imag), each (B, bins, frames)."""
        frames = self._frames(F.pad(audio.squeeze(1), (self.pad, self.pad)))  # (B, T, n_fft)
        spectrum = (frames @ self.basis).transpose(1, 2)  # (B, 2 * bins, T)
        return spectrum[:, : self.bins], spectrum[:, self.bins:]

    def synthesis(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """(real, imag), each (B, bins, frames) -> (B, 1, frames * hop)."""
        spectrum = torch.cat([real * self.inverse_scale, imag * self.inverse_scale], dim=1)  # (B, 2 * bins, T)
        frames = (self.basis @ spectrum).transpose(1, 2)  # (B, T, n_fft)
        signal = self._overlap_add(frames.reshape(*frames.shape[:2], self.overlap, self.hop))
        envelope = self._overlap_add(self.window_squared.expand(1, frames.shape[1], -1, -1))
        t = frames.shape[1]
        return (signal / envelope.clamp(min=1e-3))[:, None, self.pad: self.pad + t * self.hop]

    def _frames(self, padded: torch.Tensor) -> torch.Tensor:
        """(B, (T + overlap - 1) * hop) -> (B, T, n_fft): frame f is hop segments f .. f + overlap - 1.
        (Slices of whole segments rather than `unfold`, which ONNX export does not take.)"""
        segments = padded.reshape(padded.shape[0], -1, self.hop)  # (B, T + overlap - 1, hop)
        last = self.overlap - 1
        return torch.cat([segments[:, j: j - last if j < last else None] for j in range(self.overlap)], dim=-1)

    def _overlap_add(self, parts: torch.Tensor) -> torch.Tensor:
        """(B, T, overlap, hop) -> (B, (T + overlap - 1) * hop): part j of frame f lands at hop f + j."""
        b, t = parts.shape[:2]
        out = parts.new_zeros(b, (t + self.overlap - 1) * self.hop)
        for j in range(self.overlap):
            shifted = (j * self.hop, (self.overlap - 1 - j) * self.hop)
            out = out + F.pad(parts[:, :, j].reshape(b, t * self.hop), shifted)
        return out


def compressed(real: torch.Tensor, imag: torch.Tensor, power: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """The complex spectrum with its magnitude raised to `power` (phase kept): loud and quiet bins
    weigh alike in an L1 on it, and its gradient stays finite at zero (the 1e-8 inside the root)."""
    scale = (real**2 + imag**2 + 1e-8) ** ((power - 1) / 2)
    return real * scale, imag * scale
