"""Load test: N concurrent API clients x M text_to_video requests against one studio process.

    python scripts/load_test.py --launch                      # start `python app.py` (weights/) and test it
    python scripts/load_test.py --launch --tiny               # the same on a tiny random generator
    python scripts/load_test.py --url http://127.0.0.1:7860/ --pid 12345   # a server already running

Every request must either succeed (an MP4 comes back) or get a clean "queue is full" answer;
anything else is counted as a failure and the exit status is 1. Prints latency p50/p95 (from
submit to result, so it includes queueing), the server's resident memory (RSS from /proc: before
the warm-up request (`before_warm_up`: with --launch, the cold server), the baseline after one
warm-up request, the peak sampled during the load, VmHWM, and after each round), and the outcome
counts. The baseline is the warm one: on the tiny generator the first request paged in ~60 MB of
code and files (RssFile 123 -> 184 MB, RssAnon +3 MB) and started Gradio's worker threads (5 -> 8),
all one-time; growth beyond it is what a load leaves. `--rounds 3` repeats the load: memory that settles after the first
round is the allocator keeping its pages, memory that grows every round is a leak.
`--session-idle S` (with --launch) starts the server with sessions forgotten after S idle seconds
(ui/sessions.py; 900 by default) and, after the load, waits for them to go and reports the memory
then (`after_sessions_expired`). The server's thread count is reported beside each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # engine/, for --tiny
PROMPTS = ["a red ball bouncing on sand", "a small blue square drifting left on a black background",
           "a large green star spinning in place", "a yellow triangle moving up over stripes"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running studio (give --pid too, to read its memory)")
    parser.add_argument("--pid", type=int, help="the server process id (for RSS)")
    parser.add_argument("--launch", action="store_true", help="start `python app.py` for the test")
    parser.add_argument("--weights", default=None, help="weights folder for --launch (default: weights/)")
    parser.add_argument("--tiny", action="store_true", help="with --launch: a tiny random generator")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3, help="requests per client")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the whole load")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the load, reading memory after each")
    parser.add_argument("--server-log", type=Path, default=None,
                        help="with --launch: write the server's log here (default: a temporary file)")
    parser.add_argument("--session-idle", type=float, default=None,
                        help="with --launch: forget sessions idle this many seconds, and measure after they go")
    return parser.parse_args(argv)


def proc_status(pid: int, field: str) -> int:
    """A figure of a Linux process from /proc/<pid>/status (the first number of its line)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of a Linux process in MB (VmRSS now, VmHWM = peak)."""
    return proc_status(pid, field) / 1024


def rss_split(pid: int) -> dict[str, float]:
    """Resident MB in anonymous memory (the heap: what the process allocated) and in file pages (code and
    mapped files paged in; clean, so the kernel can drop them under pressure)."""
    return {"anon": round(rss_mb(pid, "RssAnon"), 1), "file": round(rss_mb(pid, "RssFile"), 1)}


class PeakSampler(threading.Thread):
    """Samples a process's RSS every `interval` seconds until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak


def make_tiny_weights(folder: Path) -> Path:
    """A tiny random generator with the shipped tokenizer configs' shapes scaled down, and the real text
    encoder config (so the server loads exactly as it would with trained weights)."""
    import torch

    from engine.audio_tokenizer import AudioTokenizer, AudioTokenizerConfig
    from engine.transformer import Transformer, TransformerConfig
    from engine.video_tokenizer import VideoTokenizer, VideoTokenizerConfig

    torch.manual_seed(0)
    video = VideoTokenizer(VideoTokenizerConfig(patch_size=8, channels=(8, 8, 8), spatial_down=(True, False),
                                                temporal_down=(True, True), num_res_blocks=0, bits=5))
    audio = AudioTokenizer(AudioTokenizerConfig(channels=2, strides=(16, 40), dilations=(1,), latent_dim=4,
                                                levels=2, codebook_size=8))
    config = TransformerConfig(video_vocab=video.vocab_size, audio_vocab_per_level=8, audio_levels=2, d_model=32,
                               n_layers=1, n_heads=2, max_seq_len=384, text_dim=384, grid_size=(5, 4, 4))
    video.save_pretrained(folder / "video_tokenizer")
    audio.save_pretrained(folder / "audio_tokenizer")
    Transformer(config).save_pretrained(folder / "transformer")
    (folder / "text_encoder").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "weights" / "text_encoder" / "config.json", folder / "text_encoder" / "config.json")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(weights: str | None, session_idle: float | None = None,
           log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start the studio in a child process and wait until it answers; its log goes to `log` (a file, not a
    pipe nobody reads: a full pipe would stall the server)."""
    import httpx

    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)]
    if weights:
        command += ["--weights", weights]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    if session_idle is not None:
        env["MAGPOET_SESSION_IDLE_S"] = str(session_idle)
    log = log or Path(tempfile.mkdtemp(prefix="magpoet-load-")) / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited: " + log.read_text(errors="replace")[-2000:])
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise TimeoutError("the server did not answer within 300 s")


def one_request(url: str, client_id: int, index: int) -> tuple[str, float, str]:
    """(outcome, seconds, detail); outcome is ok, queue_full or failed."""
    from gradio_client import Client

    start = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        _, native, settings, _ = client.predict(prompt=PROMPTS[(client_id + index) % len(PROMPTS)],
                                                seed=client_id * 100 + index, api_name="/text_to_video")
        ok = Path(native).stat().st_size > 0 and settings["output"]["frames"] == 17
        return ("ok" if ok else "failed"), time.perf_counter() - start, ""
    except Exception as error:  # the client raises on any answer but a result
        text = str(error)
        outcome = "queue_full" if "queue is full" in text.lower() else "failed"
        return outcome, time.perf_counter() - start, text[:200]


def run_load(url: str, clients: int, requests: int, timeout: float) -> list[tuple[str, float, str]]:
    def client_loop(client_id: int) -> list[tuple[str, float, str]]:
        return [one_request(url, client_id, i) for i in range(requests)]

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client_loop, c) for c in range(clients)]
        return [r for f in futures for r in f.result(timeout=timeout)]


def wait_for_expiry(pid: int, idle_s: float) -> tuple[float, dict[str, float]]:
    """RSS in MB once the load's sessions have had time to expire (idle_s plus two sweeps, see ui/sessions.py)."""
    from ui.sessions import SWEEP_EVERY_S

    time.sleep(idle_s + 2 * SWEEP_EVERY_S + 1)
    return round(rss_mb(pid), 1), rss_split(pid)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = scratch = None
    url, pid = args.url, args.pid
    if args.launch:
        weights = args.weights
        if args.tiny:
            scratch = Path(tempfile.mkdtemp(prefix="magpoet-tiny-"))
            weights = str(make_tiny_weights(scratch))
        server, url = launch(weights, args.session_idle, args.server_log)
        pid = server.pid
    if not url:
        raise SystemExit("give --url (and --pid) or --launch")
    try:
        cold = (round(rss_mb(pid), 1), rss_split(pid)) if pid else None
        one_request(url, 0, 99)  # warm-up: first-request costs are not the steady state
        time.sleep(1.0)
        baseline = rss_mb(pid) if pid else None
        threads = [proc_status(pid, "Threads")] if pid else []
        split = {"before_warm_up": cold[1], "baseline": rss_split(pid), "after_each_round": []} if pid else {}
        sampler = PeakSampler(pid) if pid else None
        if sampler:
            sampler.start()
        start, results, after_rounds = time.perf_counter(), [], []
        for _ in range(args.rounds):
            results += run_load(url, args.clients, args.requests, args.timeout)
            time.sleep(1.0)
            after_rounds.append(round(rss_mb(pid), 1) if pid else None)
            if pid:
                threads.append(proc_status(pid, "Threads"))
                split["after_each_round"].append(rss_split(pid))
        wall = time.perf_counter() - start
        peak = sampler.stop() if sampler else None
        report = summarise(results, wall, baseline, peak, pid)
        if pid:
            report["server_memory_mb"] = {"before_warm_up": cold[0], **report["server_memory_mb"],
                                          "after_each_round": after_rounds}
            report["server_threads"] = {"baseline_then_after_each_round": threads}
        if pid and args.launch and args.session_idle is not None:
            report["server_memory_mb"]["after_sessions_expired"], split["after_sessions_expired"] = \
                wait_for_expiry(pid, args.session_idle)
        if pid:
            report["server_memory_mb"]["anon_and_file"] = split
        print(json.dumps(report, indent=2))
        return 0 if report["counts"].get("failed", 0) == 0 else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def summarise(results: list[tuple[str, float, str]], wall: float, baseline: float | None, peak: float | None,
              pid: int | None) -> dict:
    ok = sorted(seconds for outcome, seconds, _ in results if outcome == "ok")
    counts: dict[str, int] = {}
    for outcome, _, _ in results:
        counts[outcome] = counts.get(outcome, 0) + 1
    report: dict = {
        "requests": len(results), "counts": counts, "wall_s": round(wall, 2),
        "latency_s": {"p50": round(percentile(ok, 50), 3), "p95": round(percentile(ok, 95), 3),
                      "max": round(ok[-1], 3)} if ok else None,
        "failures": sorted({detail for outcome, _, detail in results if outcome == "failed"})[:5],
    }
    if pid:
        after = rss_mb(pid)
        report["server_memory_mb"] = {"baseline": round(baseline, 1), "peak_during_load": round(peak, 1),
                                      "peak_lifetime_vmhwm": round(rss_mb(pid, "VmHWM"), 1),
                                      "after": round(after, 1), "after_minus_baseline": round(after - baseline, 1)}
    return report


if __name__ == "__main__":
    sys.exit(main())
