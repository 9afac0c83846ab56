import pytest
import torch

from engine.device import bf16_autocast_pays, describe_device, select_device


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    assert select_device(None).type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_asking_for_missing_cuda_is_an_error():
    with pytest.raises(ValueError, match="CUDA"):
        select_device("cuda")


def test_description_names_the_device():
    assert describe_device(torch.device("cpu")).startswith("cpu (")


def test_bf16_autocast_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert not bf16_autocast_pays(torch.device("cpu"))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert bf16_autocast_pays(torch.device("cpu")) and bf16_autocast_pays(torch.device("cuda"))
