"""Save and load model components as `config.json` + `model.safetensors` (diffusers style).

A component is an `nn.Module` built from a config dataclass. `save_pretrained` writes the config
(with the class name and the world version it was trained on) and the weights; `from_pretrained`
takes a folder or a Hub repo id, rebuilds the module from the config and loads the weights
strictly: a missing or unexpected key, or a shape mismatch, is an error, never a warning.
Weights are never unpickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.weights import resolve_weights

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WORLD_VERSION = 1  # the Moving Shapes world version (world.md); recorded in every checkpoint


class ComponentLoadError(ValueError):
    """A checkpoint does not fit the component that is loading it."""


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-able values (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """Build a config dataclass, refusing keys it does not know (strict, like the weights)."""
    names = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ComponentLoadError(f"{config_class.__name__} has no fields {unknown}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return config_class(**kwargs)


def config_hash(config: Any) -> str:
    """A short stable hash of a config dataclass."""
    values = config_to_dict(config) if dataclasses.is_dataclass(config) else config
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def model_version(component: Any) -> str:
    """A short hash of a component's config and, for a module, its weights (as float32 on the CPU, so
    the same weights give the same version on any device and dtype): which model made a result."""
    digest = hashlib.sha256(config_hash(component.config).encode())
    state = component.state_dict() if isinstance(component, torch.nn.Module) else {}
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


class Component(nn.Module):
    """Base class: subclasses set `config_class` and build themselves from `self.config`."""

    config_class: ClassVar[type]

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write `config.json` and `model.safetensors` into `directory` (atomically per file)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"_class_name": type(self).__name__, "world_version": WORLD_VERSION}
        _atomic_write_text(directory / CONFIG_NAME, json.dumps({**meta, **config_to_dict(self.config)}, indent=2))
        state = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        save_file(state, str(tmp_path), metadata={"format": "pt"})
        tmp_path.chmod(0o644)  # temporary files are created 0600; shipped weights are world-readable
        os.replace(tmp_path, directory / WEIGHTS_NAME)
        return directory

    @classmethod
    def load_config(cls, folder: Path) -> Any:
        values = json.loads((folder / CONFIG_NAME).read_text())
        class_name = values.pop("_class_name", cls.__name__)
        if class_name != cls.__name__:
            raise ComponentLoadError(f"{folder} holds a {class_name}, not a {cls.__name__}")
        world_version = values.pop("world_version", WORLD_VERSION)
        if world_version != WORLD_VERSION:
            raise ComponentLoadError(f"{folder} was trained on world v{world_version}, this is v{WORLD_VERSION}")
        return config_from_dict(cls.config_class, values)

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | Path,
        subfolder: str | None = None,
        device: str | torch.device = "cpu",
        revision: str | None = None,
    ) -> Self:
        """Load from a folder or a Hub repo id (optionally a subfolder of it), strictly, in eval mode."""
        folder = resolve_weights(path_or_repo_id, revision=revision)
        if subfolder:
            folder = folder / subfolder
        if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(f"{folder} has no {CONFIG_NAME} + {WEIGHTS_NAME}")
        model = cls(cls.load_config(folder))
        state = load_file(str(folder / WEIGHTS_NAME), device="cpu")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ComponentLoadError(f"{folder / WEIGHTS_NAME} does not fit {cls.__name__}: {error}") from error
        return model.to(device).eval()


def _atomic_write_text(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)
