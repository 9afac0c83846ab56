import json

import pytest

from engine.training.run import JsonLog, RunClock, export_weights, warmup_cosine


def test_warmup_then_cosine_to_the_floor():
    assert warmup_cosine(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, 1.0) == pytest.approx(0.55)
    assert warmup_cosine(100, 100, 10, 1.0) == pytest.approx(0.1)
    assert warmup_cosine(500, 100, 10, 1.0) == pytest.approx(0.1)


def test_only_rank_zero_writes_the_log(tmp_path, capsys):
    JsonLog(tmp_path / "main", is_main=True)({"step": 1, "loss": 0.5})
    JsonLog(tmp_path / "other", is_main=False)({"step": 1, "loss": 0.5})
    assert json.loads((tmp_path / "main" / "log.jsonl").read_text()) == {"step": 1, "loss": 0.5}
    assert not (tmp_path / "other").exists()
    assert capsys.readouterr().out.count("loss") == 1


def test_clock_budget_and_checkpoint_cadence():
    clock = RunClock(max_minutes=0, ckpt_minutes=0)
    assert not clock.out_of_time() and clock.checkpoint_due()
    clock.max_minutes = 1e-9
    assert clock.out_of_time()
    clock = RunClock(max_minutes=10, ckpt_minutes=10)
    assert not clock.out_of_time() and not clock.checkpoint_due()


def test_export_copies_config_and_weights(tmp_path):
    source = tmp_path / "best"
    source.mkdir()
    (source / "config.json").write_text("{}")
    (source / "model.safetensors").write_bytes(b"w")
    (source / "scratch.txt").write_text("not shipped")
    export_weights(source, tmp_path / "weights" / "x")
    assert sorted(p.name for p in (tmp_path / "weights" / "x").iterdir()) == ["config.json", "model.safetensors"]


def test_eval_and_checkpoint_cadence():
    from engine.training.run import eval_and_checkpoint

    calls = []
    clock = RunClock(max_minutes=0, ckpt_minutes=60)

    def step(n: int, total: int = 10) -> bool:
        return eval_and_checkpoint(n, total, 4, clock, lambda: calls.append(("eval", n)),
                                   lambda: calls.append(("ckpt", n)))

    assert not any(step(n) for n in range(1, 11))
    assert calls == [("eval", 4), ("ckpt", 4), ("eval", 8), ("ckpt", 8), ("eval", 10), ("ckpt", 10)]
    calls.clear()
    clock.ckpt_minutes = 0  # due at every step: checkpoint without evaluating
    assert not step(5) and calls == [("ckpt", 5)]
    clock.max_minutes = 1e-9  # out of time: evaluate, checkpoint, and stop
    calls.clear()
    assert step(5) and calls == [("eval", 5), ("ckpt", 5)]
