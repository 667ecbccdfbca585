"""Serve a predictor over HTTP and talk to it from Python (standard library only on the client side).

    python examples/serve_client.py                  # trains a tiny offline predictor first (~30 s)
    python examples/serve_client.py my_predictor     # or serve one you saved

Starts `easytx serve` on a free loopback port, waits for /health, reads /metadata, posts texts to
/predict (labels, then probabilities), shows what a malformed request gets back, sends a few
requests at once (the server micro-batches them), and stops the server. Needs the serve extra:
pip install 'easytx-nlp[serve]'.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tiny_predictor(folder: Path) -> Path:
    """A tiny BERT (hidden 32) fine-tuned on keyword-labelled sentences: offline, in seconds."""
    import pandas as pd

    import easytx
    from easytx.testing import keyword_dataset, make_tiny_model

    texts, labels = keyword_dataset(400, seed=0)
    model = make_tiny_model(folder / "tiny_bert", "bert")
    predictor = easytx.finetune(
        pd.DataFrame({"text": texts, "label": labels}), model, epochs=3, lr=5e-3, batch_size=16, verbose=0
    )
    return predictor.save(folder / "predictor")


def call(base: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:  # 4xx/5xx still carry a JSON body
        return error.code, json.loads(error.read())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="easytx-serve-"))
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else tiny_predictor(work)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "easytx", "serve", str(folder), "--port", str(port), "-q"], env=env
    )
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"the server stopped (exit status {server.returncode})")
            try:
                if call(base, "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        print("metadata:", call(base, "/metadata")[1]["classes"])
        texts = ["the film was wonderful and the cast was lovely.", "the plot was dreadful."]
        print("labels:  ", call(base, "/predict", {"texts": texts}))
        print("proba:   ", call(base, "/predict", {"texts": texts, "proba": True}))
        print("mistake: ", call(base, "/predict", {"text": texts}))
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda t: call(base, "/predict", {"texts": [t]}), texts * 8))
        print("16 concurrent requests:", [a[1]["predictions"][0] for a in answers])
        print("health:  ", call(base, "/health")[1])
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
