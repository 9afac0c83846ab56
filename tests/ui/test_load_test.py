"""scripts/load_test.py against the launched studio (tiny random engine, served from this process): its
report carries the memory before the warm-up request beside the warm baseline and the rounds."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_test():
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "scripts" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_report_has_the_memory_before_the_warm_up_beside_the_warm_baseline(studio_url, capsys):
    status = _load_test().main(["--url", studio_url, "--pid", str(os.getpid()), "--clients", "2", "--requests", "1"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["counts"] == {"ok": 2}
    memory = report["server_memory_mb"]
    assert list(memory)[:2] == ["before_warm_up", "baseline"]
    assert all(memory[key] > 0 for key in ("before_warm_up", "baseline", "peak_during_load", "after"))
    assert len(memory["after_each_round"]) == 1
    split = memory["anon_and_file"]
    assert set(split) == {"before_warm_up", "baseline", "after_each_round"}
    assert set(split["before_warm_up"]) == {"anon", "file"}
