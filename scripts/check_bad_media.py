"""Feed the media readers the bad inputs users send, and print what each gives back.

Each case runs in a fresh Python process so its peak memory (the process and its ffmpeg child)
is its own. Prints a table: input, reader, error type, seconds, peak MB.

    python scripts/check_bad_media.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.media import write_mp4  # noqa: E402

PROBE = """
import resource, sys, time
from engine.media import read_audio, read_image, read_video, MediaError
reader = {"read_video": read_video, "read_image": read_image, "read_audio": read_audio}[sys.argv[1]]
start = time.perf_counter()
try:
    reader(sys.argv[2]); outcome = "accepted"
except MediaError as error:
    outcome = f"{type(error).__name__}: {error}"
seconds = time.perf_counter() - start
# VmHWM is this process's own peak (ru_maxrss would include the parent's peak at fork).
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{outcome}\\t{seconds:.3f}\\t{own:.0f}\\t{child:.0f}")
"""


def make_inputs(folder: Path) -> list[tuple[str, str, Path]]:
    video = np.full((17, 64, 64, 3), 128, np.uint8)
    good = write_mp4(folder / "good.mp4", video, audio=np.zeros(34000, np.float32))
    (folder / "empty.mp4").write_bytes(b"")
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) * 3 // 10])
    (folder / "text.mp4").write_text("this is not a video\n" * 100)
    Image.new("RGB", (20000, 20000), (10, 20, 30)).save(folder / "huge.png", optimize=False)
    with wave.open(str(folder / "ten_minutes.wav"), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        out.writeframes(np.zeros(16000 * 600, np.int16).tobytes())
    return [
        ("0-byte file", "read_video", folder / "empty.mp4"),
        ("truncated MP4 (first 30 %)", "read_video", folder / "truncated.mp4"),
        ("text renamed .mp4", "read_video", folder / "text.mp4"),
        ("20000x20000 PNG", "read_image", folder / "huge.png"),
        ("10-minute WAV", "read_audio", folder / "ten_minutes.wav"),
        ("valid clip (for scale)", "read_video", good),
    ]


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        cases = make_inputs(Path(tmp))
        print(f"{'input':28} {'reader':11} {'s':>6} {'py MB':>6} {'ffmpeg MB':>9}  outcome")
        for label, reader, path in cases:
            result = subprocess.run([sys.executable, "-c", PROBE, reader, str(path)], cwd=root,
                                    capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                print(f"{label:28} {reader:11} crashed: {result.stderr.strip().splitlines()[-1]}")
                continue
            outcome, seconds, own, child = result.stdout.strip().split("\t")
            print(f"{label:28} {reader:11} {float(seconds):6.3f} {own:>6} {child:>9}  {outcome}")


if __name__ == "__main__":
    main()
