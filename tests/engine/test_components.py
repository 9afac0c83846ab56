import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from engine.components import Component, ComponentLoadError


@dataclass
class TinyConfig:
    width: int = 4
    kernel: tuple[int, int] = (3, 3)


class Tiny(Component):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.proj = nn.Linear(config.width, 2)


def test_round_trip_is_exact_and_keeps_the_config(tmp_path):
    torch.manual_seed(0)
    model = Tiny(TinyConfig(width=5, kernel=(1, 2)))
    model.save_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path)
    assert loaded.config == model.config
    assert torch.equal(loaded.proj.weight, model.proj.weight)
    assert not loaded.training
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["_class_name"] == "Tiny" and saved["world_version"] == 1
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in tmp_path.iterdir())


def test_loading_is_strict_about_keys_and_shapes(tmp_path):
    Tiny(TinyConfig()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["width"] = 6  # the weights no longer fit the config
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ComponentLoadError, match="does not fit"):
        Tiny.from_pretrained(tmp_path)


def test_unknown_config_fields_and_other_classes_are_refused(tmp_path):
    Tiny(TinyConfig()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "surprise": 1}))
    with pytest.raises(ComponentLoadError, match="surprise"):
        Tiny.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "_class_name": "Other"}))
    with pytest.raises(ComponentLoadError, match="Other"):
        Tiny.from_pretrained(tmp_path)


def test_other_world_versions_are_refused(tmp_path):
    Tiny(TinyConfig()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "world_version": 99}))
    with pytest.raises(ComponentLoadError, match="world v99"):
        Tiny.from_pretrained(tmp_path)


def test_missing_files_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError):
        Tiny.from_pretrained(tmp_path)
