"""app.py's start-up choices: whether the decode step is compiled, and that a failed compile only costs speed."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import torch

import app


def test_compile_is_on_unless_the_flag_or_the_environment_says_no(monkeypatch):
    monkeypatch.delenv("MAGPOET_COMPILE", raising=False)
    assert app.parse_args([]).compile
    assert not app.parse_args(["--no-compile"]).compile
    monkeypatch.setenv("MAGPOET_COMPILE", "0")
    assert not app.parse_args([]).compile and app.parse_args(["--compile"]).compile


def test_a_failed_compile_leaves_an_eager_engine(tmp_path, monkeypatch, caplog):
    (tmp_path / "transformer").mkdir()
    (tmp_path / "transformer" / "config.json").write_text("{}")

    def refuse() -> float:
        raise RuntimeError("no C++ compiler")

    engine = SimpleNamespace(device=torch.device("cpu"), compile_decoding=refuse)
    monkeypatch.setattr(app.Engine, "from_pretrained", classmethod(lambda cls, *a, **kw: engine))
    with caplog.at_level(logging.WARNING, logger="magpoet"):
        assert app.load_engine(tmp_path, "cpu", compile=True) is engine
    assert "decoding eagerly" in caplog.text
    assert app.load_engine(tmp_path / "none", "cpu", compile=True) is None  # no generator: no engine
