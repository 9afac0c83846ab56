"""A private folder per request for the files the studio serves back.

Each request writes under its own random subfolder of one per-process root, so two users never
see (or overwrite) each other's files and nothing a user typed ever becomes part of a path.
Gradio copies returned files into its cache, which `delete_cache` cleans; the root here is
removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path

_ROOT: Path | None = None


def outputs_root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="magpoet-outputs-"))
        atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
    return _ROOT


def new_request_dir() -> Path:
    """A fresh, empty folder for one request's outputs."""
    folder = outputs_root() / uuid.uuid4().hex
    folder.mkdir()
    return folder
