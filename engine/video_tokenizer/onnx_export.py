"""Export the video tokenizer to ONNX, quantize the decoder to int8, and run it with ONNX Runtime.

    python -m engine.video_tokenizer.onnx_export --weights weights/video_tokenizer

writes, next to the weights:
- `encoder.onnx`: video (B, 3, T, H, W) float32 in [-1, 1] -> indices (B, t, h, w) int64;
- `decoder.onnx`: indices (B, t, h, w) int64 -> video (B, 3, T, H, W) float32 in [-1, 1];
- `decoder_int8.onnx`: the decoder with static QDQ int8 quantization (unsigned per-channel weights,
  activations calibrated on training-split clips);
- `onnx.json`: the measured PSNRs; int8 is the CPU default only when it is within `--max-psnr-drop`
  dB of fp32 on eval-split clips.
Batch, t, h and w are dynamic axes, so images (t = 1) and clips share the graphs.

`OnnxVideoDecoder` runs a decoder graph (CUDA provider first, CPU otherwise); `load_decoder` returns
it when the files are there and the PyTorch decoder otherwise.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.onnx_runtime import default_providers, session
from engine.video_tokenizer.model import VideoTokenizer

ENCODER_FILE, DECODER_FILE, DECODER_INT8_FILE, MANIFEST_FILE = (
    "encoder.onnx", "decoder.onnx", "decoder_int8.onnx", "onnx.json")
OPSET = 17


class _EncoderGraph(nn.Module):
    def __init__(self, model: VideoTokenizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.model.quantizer.codes_to_indices(self.model.encoder(video))  # (B, t, h, w)


class _DecoderGraph(nn.Module):
    def __init__(self, model: VideoTokenizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.model.decoder(self.model.quantizer.unpack(indices)).clamp(-1, 1)  # (B, 3, T, H, W)


def export_onnx(model: VideoTokenizer, folder: Path, frames: int = 17, size: int = 64) -> tuple[Path, Path]:
    """Write encoder.onnx and decoder.onnx (fp32) for `model` into `folder`."""
    model = model.eval().float()
    folder.mkdir(parents=True, exist_ok=True)
    video = torch.zeros(1, 3, frames, size, size)
    indices = torch.zeros(1, *model.latent_shape(frames, size, size), dtype=torch.long)
    spatial = {0: "batch", 2: "frames", 3: "height", 4: "width"}
    latent = {0: "batch", 1: "t", 2: "h", 3: "w"}
    graphs = [(_EncoderGraph(model), video, "video", "indices", spatial, latent, folder / ENCODER_FILE),
              (_DecoderGraph(model), indices, "indices", "video", latent, spatial, folder / DECODER_FILE)]
    for graph, example, name_in, name_out, axes_in, axes_out, path in graphs:
        with torch.no_grad():
            torch.onnx.export(graph, (example,), str(path), input_names=[name_in], output_names=[name_out],
                              dynamic_axes={name_in: axes_in, name_out: axes_out}, opset_version=OPSET,
                              dynamo=False)
    return folder / ENCODER_FILE, folder / DECODER_FILE


def quantize_decoder(decoder_path: Path, calibration_indices: list[np.ndarray], out_path: Path) -> Path:
    """Static QDQ int8 quantization of the decoder, calibrated on the given index grids (B, t, h, w).

    Weights and activations are both unsigned (U8U8). With signed weights (U8S8) ONNX Runtime's
    x86 kernels multiply with VPMADDUBSW, whose 16-bit sums saturate on CPUs without AVX-VNNI: the
    shipped decoder lost 0.94 dB on such a host against 0.22 dB on a VNNI one. U8U8 has no such
    saturation: 0.19 dB below fp32 on the AVX2 host, at ~75 % of the (saturating) U8S8 speed."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"indices": x} for x in calibration_indices])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(decoder_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8, per_channel=True)
    return out_path


class OnnxVideoDecoder:
    """indices (B, t, h, w) -> video (B, 3, T, H, W) through an ONNX Runtime decoder graph."""

    def __init__(self, path: Path, threads: int = 0, providers: list[str] | None = None) -> None:
        self.path = Path(path)
        self.session = session(self.path, threads, providers)

    @classmethod
    def from_folder(cls, folder: str | Path, threads: int = 0,
                    int8: bool | None = None) -> OnnxVideoDecoder | None:
        """The decoder in `folder`, or None when it has none. int8=None follows `onnx.json`: the int8
        graph is used on the CPU when it passed its PSNR check, fp32 otherwise (and always on CUDA)."""
        folder = Path(folder)
        if int8 is None:
            manifest = folder / MANIFEST_FILE
            int8_ok = manifest.is_file() and json.loads(manifest.read_text()).get("int8_default", False)
            int8 = int8_ok and "CUDAExecutionProvider" not in default_providers()
        path = folder / (DECODER_INT8_FILE if int8 else DECODER_FILE)
        return cls(path, threads) if path.is_file() else None

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        out = self.session.run(["video"], {"indices": indices.cpu().numpy().astype(np.int64)})[0]
        return torch.from_numpy(out).to(indices.device)


def load_decoder(model: VideoTokenizer, folder: str | Path | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """ONNX Runtime decoder from `folder` when its graph is there, the PyTorch `model.decode` otherwise."""
    onnx_decoder = OnnxVideoDecoder.from_folder(folder) if folder is not None else None
    return onnx_decoder if onnx_decoder is not None else model.decode


def main(argv: list[str] | None = None) -> None:
    from engine.training.data import eval_seeds, video_batch
    from engine.video_tokenizer.train import psnr

    p = argparse.ArgumentParser(description="Export the video tokenizer to ONNX (fp32 + int8 decoder).")
    p.add_argument("--weights", type=Path, default=Path("weights/video_tokenizer"))
    p.add_argument("--calibration-clips", type=int, default=32, help="training-split clips for int8")
    p.add_argument("--eval-clips", type=int, default=32, help="eval-split clips for the int8 PSNR check")
    p.add_argument("--max-psnr-drop", type=float, default=0.5)
    args = p.parse_args(argv)

    model = VideoTokenizer.from_pretrained(args.weights)
    encoder_path, decoder_path = export_onnx(model, args.weights)
    calibration = [model.encode(video_batch([s])).numpy() for s in range(args.calibration_clips)]
    int8_path = quantize_decoder(decoder_path, calibration, args.weights / DECODER_INT8_FILE)

    videos = video_batch(eval_seeds(args.eval_clips))
    fp32, int8 = OnnxVideoDecoder(decoder_path), OnnxVideoDecoder(int8_path)
    scores: dict[str, list[torch.Tensor]] = {"fp32": [], "int8": []}
    for x in videos.split(4):
        idx = model.encode(x)
        scores["fp32"].append(psnr(fp32(idx), x))
        scores["int8"].append(psnr(int8(idx), x))
    psnr_fp32, psnr_int8 = (float(torch.cat(scores[k]).mean()) for k in ("fp32", "int8"))
    keep = psnr_fp32 - psnr_int8 <= args.max_psnr_drop
    manifest = {"psnr_fp32": psnr_fp32, "psnr_int8": psnr_int8, "int8_default": keep,
                "eval_clips": args.eval_clips, "calibration_clips": args.calibration_clips, "opset": OPSET}
    (args.weights / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    print(json.dumps({"encoder": str(encoder_path), "decoder": str(decoder_path),
                      "decoder_int8": str(int8_path), **manifest}, indent=2))


if __name__ == "__main__":
    main()
