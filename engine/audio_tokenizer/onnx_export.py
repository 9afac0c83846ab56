"""The audio decoder (token indices -> waveform) as ONNX, and a runtime that prefers it.

    python -m engine.audio_tokenizer.onnx_export weights/audio_tokenizer

writes `decoder.onnx` next to the weights: input `indices` (batch, levels, frames) int64, output
`audio` (batch, 1, frames * hop) float32, batch and frames dynamic, the codebook lookup included.
`load_audio_decoder(folder)` returns an `OnnxAudioDecoder` (CUDA provider first, then the CPU one)
when the file is there and ONNX Runtime imports, and the PyTorch `AudioTokenizer` otherwise; both
answer `decode(indices, num_samples)`.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from engine.audio_tokenizer.model import AudioTokenizer
from engine.onnx_runtime import session

ONNX_NAME = "decoder.onnx"
OPSET = 17


class _IndicesToAudio(nn.Module):
    """Codebook lookup + decoder in one graph, with all levels (the shipped token layout)."""

    def __init__(self, tokenizer: AudioTokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer

    def forward(self, indices: torch.Tensor) -> torch.Tensor:  # (B, L, T) -> (B, 1, T * hop)
        return self.tokenizer.decoder(self.tokenizer.quantizer.dequantize(indices)).clamp(-1, 1)


def export_decoder(tokenizer: AudioTokenizer, path: str | Path) -> Path:
    """Trace the decoder to ONNX at `path` (a file, or a folder to hold `decoder.onnx`)."""
    path = Path(path)
    if path.suffix != ".onnx":
        path = path / ONNX_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, tokenizer.config.levels, 8, dtype=torch.long)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated; the new one needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _IndicesToAudio(tokenizer.eval()), (example,), str(path), dynamo=False, opset_version=OPSET,
            input_names=["indices"], output_names=["audio"],
            dynamic_axes={"indices": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}},
        )
    graph = onnx.load(str(path))
    merge_equal_constants(graph.graph)
    onnx.save(graph, str(path))
    return path


def merge_equal_constants(graph: onnx.GraphProto) -> int:
    """Keep one of each set of equal Constant nodes and point their users at it; returns how many went.

    The tracer bakes a non-persistent buffer in once per use: the refiner's STFT basis (6.6 MB at
    1280 points) came out twice, for analysis and for synthesis."""
    first: dict[bytes, str] = {}
    renamed: dict[str, str] = {}
    kept = []
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            unnamed = onnx.TensorProto()
            unnamed.CopyFrom(node.attribute[0].t)
            unnamed.name = ""
            key = unnamed.SerializeToString(deterministic=True)  # type, dims and values
            if key in first:
                renamed[node.output[0]] = first[key]
                continue
            first[key] = node.output[0]
        kept.append(node)
    removed = len(graph.node) - len(kept)
    del graph.node[:]
    graph.node.extend(kept)
    return removed


class OnnxAudioDecoder:
    """ONNX Runtime session over `decoder.onnx`; same `decode` contract as the PyTorch model."""

    def __init__(self, path: str | Path, providers: list[str] | None = None, threads: int = 0) -> None:
        self.session = session(path, threads, providers)
        self.providers = self.session.get_providers()

    def decode(self, indices: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """(B, levels, frames) long -> (B, 1, num_samples or frames * hop) float32 on the CPU."""
        feed = {"indices": np.ascontiguousarray(indices.detach().cpu().numpy().astype(np.int64))}
        audio = torch.from_numpy(self.session.run(["audio"], feed)[0])
        return audio if num_samples is None else audio[..., :num_samples]


def load_audio_decoder(folder: str | Path, device: str = "cpu") -> OnnxAudioDecoder | AudioTokenizer:
    """The ONNX decoder when `<folder>/decoder.onnx` exists and ONNX Runtime works, else PyTorch."""
    onnx_path = Path(folder) / ONNX_NAME
    if onnx_path.is_file():
        try:
            return OnnxAudioDecoder(onnx_path)
        except ImportError:
            pass
    return AudioTokenizer.from_pretrained(folder, device=device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export the audio decoder to ONNX next to its weights.")
    parser.add_argument("folder", type=Path, help="a save_pretrained folder (e.g. weights/audio_tokenizer)")
    args = parser.parse_args(argv)
    path = export_decoder(AudioTokenizer.from_pretrained(args.folder), args.folder)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
