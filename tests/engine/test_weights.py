from pathlib import Path

import pytest

from engine.weights import DEFAULT_WEIGHTS, WeightsNotFoundError, available_components, is_hub_id, resolve_weights


def test_none_means_the_shipped_folder():
    assert resolve_weights(None) == DEFAULT_WEIGHTS


def test_local_folder_wins_over_a_hub_id_spelling(tmp_path, monkeypatch):
    (tmp_path / "owner" / "repo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert is_hub_id("owner/repo")
    assert resolve_weights("owner/repo") == (tmp_path / "owner" / "repo").resolve()


def test_missing_path_that_is_not_a_hub_id_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="not a Hub id"):
        resolve_weights(tmp_path / "nope" / "deeper" / "still")


def test_unknown_hub_repo_offline_fails_cleanly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="Hub repo"):
        resolve_weights("magpoet-test/definitely-not-cached")


def test_available_components_lists_folders_with_a_config(tmp_path: Path):
    (tmp_path / "video_tokenizer").mkdir()
    (tmp_path / "video_tokenizer" / "config.json").write_text("{}")
    (tmp_path / "scratch").mkdir()
    assert available_components(tmp_path) == ["video_tokenizer"]
    assert available_components(tmp_path / "missing") == []
