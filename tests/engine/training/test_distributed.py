import pytest
import torch
from torch import nn

from engine.training.distributed import DistInfo, load_checkpoint, rank_seeds, save_checkpoint, setup


def _info(rank: int, world: int) -> DistInfo:
    return DistInfo(rank=rank, world_size=world, local_rank=rank, device=torch.device("cpu"))


def test_rank_seeds_are_disjoint_across_ranks_and_steps():
    seen = set()
    for step in range(5):
        for rank in range(3):
            seeds = rank_seeds(step, 4, _info(rank, 3))
            assert len(seeds) == 4
            assert seen.isdisjoint(seeds)
            seen.update(seeds)
    assert seen == set(range(5 * 3 * 4))


def test_rank_seeds_never_reach_the_eval_split():
    from engine.world import EVAL_SEED_START

    last = rank_seeds(0, 4, _info(0, 1), offset=EVAL_SEED_START - 4)
    assert last == list(range(EVAL_SEED_START - 4, EVAL_SEED_START))
    with pytest.raises(ValueError, match="eval split"):
        rank_seeds(0, 4, _info(0, 1), offset=EVAL_SEED_START - 3)


def test_single_process_setup_needs_no_process_group(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = setup("cpu")
    assert (info.rank, info.world_size, info.is_main) == (0, 1, True)
    assert not torch.distributed.is_initialized()


def test_checkpoint_resumes_model_optimizer_and_step(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(torch.randn(4, 3)).sum().backward()
    optim.step()
    save_checkpoint(tmp_path / "last.pt", model, optim, step=7, extra={"best_psnr": 31.5})

    fresh = nn.Linear(3, 2)
    fresh_optim = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    step, extra = load_checkpoint(tmp_path / "last.pt", fresh, fresh_optim)
    assert step == 7 and extra == {"best_psnr": 31.5}
    assert torch.equal(fresh.weight, model.weight)
    assert fresh_optim.state_dict()["state"][0]["step"] == optim.state_dict()["state"][0]["step"]
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_checkpoint_starts_from_zero(tmp_path):
    assert load_checkpoint(tmp_path / "none.pt", nn.Linear(1, 1)) == (0, {})
