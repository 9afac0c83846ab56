import json
import subprocess
import sys

from engine.__main__ import main


def test_world_command_writes_mp4_and_json(tmp_path):
    out = tmp_path / "clip.mp4"
    main(["world", "--seed", "3", "--split", "eval", "--out", str(out)])
    info = json.loads(out.with_suffix(".json").read_text())
    assert out.stat().st_size > 1000 and info["split"] == "eval" and info["caption"]


def test_world_pair_writes_both_clips(tmp_path):
    out = tmp_path / "pair.mp4"
    main(["world", "--seed", "4", "--pair", "--out", str(out)])
    assert (tmp_path / "pair-styled.mp4").is_file() and (tmp_path / "pair-styled.json").is_file()


def test_out_of_range_seed_is_refused(tmp_path):
    result = subprocess.run([sys.executable, "-m", "engine", "world", "--seed", "-1", "--out", str(tmp_path / "x.mp4")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--seed" in result.stderr


def test_generate_help_documents_masked_decoding_and_interpolate_and_refuses_unknown_decodings(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "engine", "generate", "--help"], capture_output=True,
                               text=True).stdout
    assert "--decoding {autoregressive,masked}" in help_text and "--steps" in help_text
    assert "interpolate" in help_text and "--last-image" in help_text
    result = subprocess.run([sys.executable, "-m", "engine", "generate", "--task", "text_to_video", "--decoding",
                             "diffusion", "--out", str(tmp_path / "x.mp4")], capture_output=True, text=True)
    assert result.returncode == 2 and "--decoding" in result.stderr
