import json
import shutil

import numpy as np
import onnx
import pytest
import torch

pytest.importorskip("onnxruntime")

from engine.onnx_runtime import default_providers  # noqa: E402
from engine.video_tokenizer.onnx_export import (  # noqa: E402
    OnnxVideoDecoder,
    export_onnx,
    load_decoder,
    quantize_decoder,
    session,
)


def test_onnx_export_matches_pytorch(tiny_model, video, tmp_path):
    encoder_path, decoder_path = export_onnx(tiny_model, tmp_path, frames=17, size=32)
    encoder = session(encoder_path, threads=1)
    assert [i.name for i in encoder.get_inputs()] == ["video"]
    indices = tiny_model.encode(video)
    onnx_indices = encoder.run(["indices"], {"video": video.numpy()})[0]
    assert np.array_equal(onnx_indices, indices.numpy())  # dynamic batch: exported at 1, run at 2

    decoder = OnnxVideoDecoder(decoder_path, threads=1)
    assert decoder.provider == "CPUExecutionProvider" or torch.cuda.is_available()
    assert (decoder(indices) - tiny_model.decode(indices)).abs().max() < 1e-4
    image_indices = tiny_model.encode(video[:, :, :1])  # dynamic t: an image through the same graph
    assert (decoder(image_indices) - tiny_model.decode(image_indices)).abs().max() < 1e-4

    # int8 with unsigned weights: signed ones saturate in ONNX Runtime's kernels on CPUs without AVX-VNNI
    int8_path = quantize_decoder(decoder_path, [indices.numpy()], tmp_path / "decoder_int8.onnx")
    graph = onnx.load(str(int8_path)).graph
    names = {n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    weights = [t for t in graph.initializer if t.name in names and len(t.dims) > 1]
    assert weights and all(t.data_type == onnx.TensorProto.UINT8 for t in weights)
    fp32, int8 = decoder(indices), OnnxVideoDecoder(int8_path, threads=1)(indices)
    assert int8.shape == video.shape
    assert (int8 - fp32).abs().mean() < 0.02 * fp32.abs().mean() + 1e-3


def test_load_decoder_falls_back_to_pytorch(tiny_model, tmp_path):
    assert OnnxVideoDecoder.from_folder(tmp_path) is None
    assert load_decoder(tiny_model, tmp_path) == tiny_model.decode
    export_onnx(tiny_model, tmp_path, frames=1, size=32)
    assert isinstance(load_decoder(tiny_model, tmp_path), OnnxVideoDecoder)


def test_from_folder_takes_int8_only_when_its_manifest_passed(tiny_model, tmp_path):
    _, decoder_path = export_onnx(tiny_model, tmp_path, frames=1, size=32)
    shutil.copy(decoder_path, tmp_path / "decoder_int8.onnx")  # which file is taken is what counts here
    assert OnnxVideoDecoder.from_folder(tmp_path).path.name == "decoder.onnx"  # no onnx.json: fp32
    for passed, name in ((False, "decoder.onnx"), (True, "decoder_int8.onnx")):
        (tmp_path / "onnx.json").write_text(json.dumps({"int8_default": passed}))
        expected = "decoder.onnx" if "CUDAExecutionProvider" in default_providers() else name
        assert OnnxVideoDecoder.from_folder(tmp_path).path.name == expected
    assert OnnxVideoDecoder.from_folder(tmp_path, int8=False).path.name == "decoder.onnx"
