"""ONNX Runtime sessions for the tokenizer decoders: one place that picks providers and options.

CUDA first when there is a usable GPU, then the CPU. onnxruntime-gpu lists its CUDA provider even on
machines without a GPU (and logs an error when it cannot start), so torch is asked whether CUDA works.
"""

from __future__ import annotations

from pathlib import Path

import torch


def default_providers() -> list[str]:
    import onnxruntime as ort

    cuda = torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers()
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]


def session(path: str | Path, threads: int = 0, providers: list[str] | None = None):
    """An ONNX Runtime session with all graph optimisations; threads = 0 lets ONNX Runtime choose."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle ONNX Runtime threads otherwise spin-wait, stealing the few cores from PyTorch and other sessions
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=providers or default_providers())
