"""Where weights come from: a local folder or a Hugging Face Hub repository id.

Every component saves as `config.json` + `model.safetensors` in its own subfolder (diffusers
convention). `resolve_weights` turns what the user typed (`weights`, `./my_ckpt`,
`someone/magpoet-large`) into a local folder. A local path always wins over a Hub id of the same
spelling, and the Hub is only asked when no such folder exists, so tests and offline machines
never touch the network.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_WEIGHT_FILES = ["*.json", "*.safetensors", "*.onnx", "*.onnx.data", "*.md"]


class WeightsNotFoundError(FileNotFoundError):
    """The weights location is neither a folder nor a reachable Hub repository."""


def is_hub_id(name: str) -> bool:
    """True when `name` is spelled like `owner/repo` (it may still also be a local path)."""
    return bool(_HUB_ID.match(name))


def resolve_weights(path_or_repo_id: str | Path | None = None, revision: str | None = None) -> Path:
    """Return a local folder holding the weights.

    `None` means the shipped default in `weights/`. A Hub id is downloaded (or read from the
    local Hub cache when `HF_HUB_OFFLINE=1`) with only weight and config files allowed.
    """
    if path_or_repo_id is None:
        return DEFAULT_WEIGHTS
    local = Path(path_or_repo_id).expanduser()
    if local.is_dir():
        return local.resolve()
    name = str(path_or_repo_id)
    if not is_hub_id(name):
        raise WeightsNotFoundError(f"no weights folder at {name!r}, and it is not a Hub id (owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id=name, revision=revision, allow_patterns=_WEIGHT_FILES))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise WeightsNotFoundError(f"could not get weights from the Hub repo {name!r}: {error}") from error


def available_components(folder: Path) -> list[str]:
    """Names of the component subfolders (those with a config.json) in a weights folder."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file())
