"""ktrain side of the easytx-vs-ktrain benchmark (SST-2, all-MiniLM-L6-v2).

Fine-tunes with ktrain's documented workflow and measures, all in one process:

* preprocessing time (``text.Transformer`` construction, ``preprocess_train``,
  ``preprocess_test`` on dev) separately from training time (``fit_onecycle``);
* training throughput (examples/s) and dev accuracy;
* batch prediction throughput over the test split (after one warm-up call),
  single-text ``predict`` latency p50/p95, test accuracy;
* ``predictor.save`` + ``ktrain.load_predictor`` + first prediction, both in
  this process (TF already initialised: optimistic) and in a fresh process
  (``--cold-load``: includes ``import ktrain``);
* peak RSS of the process (VmHWM; ru_maxrss alongside) and the machine's
  fp32 matmul ceiling (machine.py).

Run with the ktrain venv (see setup_ktrain_env.sh)::

    benchmarks/.venv-ktrain/bin/python benchmarks/ktrain_side.py \
        --train-rows 500 --epochs 1 --model-dir benchmarks/.cache/minilm-tf \
        --out benchmarks/results/ktrain_short.json

Notes on what ktrain does (0.41.4): training examples are padded to
``--maxlen`` (static shape); dev/test/predict inputs are padded to the longest
sequence of the list passed in (+2), capped at ``--maxlen``. ``fit_onecycle``
here gets no validation data, so the fit time excludes evaluation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # ktrain 0.41.4 needs Keras 2 (tf_keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402  (benchmarks/machine.py)
import sst2  # noqa: E402  (benchmarks/sst2.py)

LOG = logging.getLogger("ktrain_side")
DEFAULT_MODEL_DIR = HERE / ".cache" / "minilm-tf"


# ---------------------------------------------------------------- helpers


@contextmanager
def timed(store: dict, key: str):
    """Record the wall time of the ``with`` body in ``store[key]`` (seconds).

    The process CPU time of the body goes to ``store["cpu"][key]``: CPU/wall
    near the core count means the stage used the machine fully; much lower
    means it waited (I/O, Python overhead, or other processes on the box).
    """
    start, cpu_start = time.perf_counter(), machine.cpu_seconds()
    try:
        yield
    finally:
        store[key] = time.perf_counter() - start
        store.setdefault("cpu", {})[key] = machine.cpu_seconds() - cpu_start
        LOG.info("%s: %.2fs (cpu %.2fs)", key, store[key], store["cpu"][key])


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (linear interpolation), q in [0, 100]."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and TensorFlow (ktrain has no seeding helper)."""
    import numpy as np
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)


def dir_size_mb(path: Path) -> float:
    """Total size of the files under ``path`` in MiB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def accuracy(predicted: list, expected: list) -> float:
    """Fraction of equal pairs."""
    if len(predicted) != len(expected) or not expected:
        raise ValueError("prediction/label length mismatch or empty")
    return sum(p == e for p, e in zip(predicted, expected)) / len(expected)


def versions() -> dict:
    """Versions of the libraries that matter for the comparison."""
    import ktrain
    import numpy
    import tensorflow as tf
    import tf_keras
    import transformers

    return {
        "ktrain": ktrain.__version__,
        "tensorflow": tf.__version__,
        "tf_keras": tf_keras.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
    }


# ---------------------------------------------------------------- stages


def load_data(train_rows: int, test_rows: int = 0) -> dict:
    """Train (first ``train_rows`` rows, 0 = all), dev and test (first ``test_rows``) splits."""
    data = {split: sst2.read_split(split, train_rows if split == "train" else 0) for split in sst2.SPLITS}
    if test_rows:
        data["test"] = sst2.read_split("test", test_rows)
    LOG.info("rows: %s", {k: len(v[0]) for k, v in data.items()})
    return data


def preprocess(args, data: dict, timings: dict):
    """Build ``text.Transformer`` and preprocess train + dev, timing each step."""
    from ktrain import text

    with timed(timings, "preprocessor_init_s"):
        # NB: ktrain loads the whole TF model here once, only to inspect call()
        t = text.Transformer(str(args.model_dir), maxlen=args.maxlen, class_names=sst2.CLASS_NAMES)
    with timed(timings, "preprocess_train_s"):
        trn = t.preprocess_train(data["train"][0], data["train"][1])
    with timed(timings, "preprocess_dev_s"):
        val = t.preprocess_test(data["dev"][0], data["dev"][1])
    return t, trn, val


def train(args, t, trn, timings: dict):
    """Create the classifier and learner, then ``fit_onecycle`` (timed alone)."""
    import ktrain

    with timed(timings, "build_model_s"):
        model = t.get_classifier()
    learner = ktrain.get_learner(model, train_data=trn, batch_size=args.batch_size)
    with timed(timings, "fit_s"):
        learner.fit_onecycle(args.lr, args.epochs)
    return learner


def train_flops_estimate(t, texts: list[str], epochs: int, maxlen: int, fit_s: float) -> dict:
    """Padding and useful-FLOP figures, computed the same way as easytx_side.py.

    ktrain pads every training row to ``maxlen``: computed tokens = rows x maxlen. Useful tokens
    are each text's real token count (truncated to maxlen), from ktrain's own tokenizer.
    Training FLOPs per useful token = 3 x the forward FLOPs at the mean useful length.
    """
    cfg = t.get_config()
    lengths = [len(ids) for ids in t.tok(texts, truncation=True, max_length=maxlen)["input_ids"]]
    useful = sum(lengths) * epochs
    computed = len(texts) * maxlen * epochs
    mean_len = useful / max(1, len(texts) * epochs)
    per_token = 3.0 * machine.encoder_forward_flops_per_token(
        cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size, mean_len
    )
    padded_per_token = 3.0 * machine.encoder_forward_flops_per_token(
        cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size, maxlen
    )
    return {
        "computed_tokens": computed,
        "useful_tokens": useful,
        "padding_fraction": 1.0 - useful / computed,
        "mean_useful_length": mean_len,
        "train_flops_per_useful_token": per_token,
        "useful_tokens_per_s": useful / fit_s,
        "useful_gflops": useful / fit_s * per_token / 1e9,
        "achieved_gflops_est": computed * padded_per_token / fit_s / 1e9,
    }


def dev_accuracy(learner, val, labels: list[int], batch_size: int, timings: dict) -> float:
    """Accuracy of the fine-tuned model on the preprocessed dev set."""
    val.batch_size = batch_size  # get_learner only sets it for val_data it was given
    with timed(timings, "dev_predict_s"):
        probs = learner.predict(val_data=val)
    return accuracy(list(probs.argmax(axis=1)), labels)


def bench_batch_predict(predictor, texts: list[str], labels: list[int]) -> dict:
    """Throughput of ``predictor.predict(list)`` after one identical warm-up call."""
    start = time.perf_counter()
    predictor.predict(texts)
    warmup_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), machine.cpu_seconds()
    predicted = predictor.predict(texts)
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
    """Latency of ``predictor.predict(str)`` for one text at a time."""
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


def bench_save_load(predictor, probe: str, folder: Path) -> dict:
    """Save the predictor, reload it in-process and in a fresh process."""
    import ktrain

    start = time.perf_counter()
    predictor.save(str(folder))
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    reloaded = ktrain.load_predictor(str(folder))
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
            "how": "same process; TensorFlow and ktrain already imported and warm",
        },
        "cold_process": cold_load_subprocess(folder, probe),
    }
    LOG.info("save %.2fs, load %.2fs, first predict %.2fs (in-process)", save_s, load_s, first_s)
    return result


def cold_load_subprocess(folder: Path, probe: str) -> dict:
    """Run ``--cold-load`` in a new interpreter and return its JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cold-load", str(folder), "--probe-text", probe]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"cold load failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["how"] = "fresh python process: import ktrain, load_predictor, predict one text"
    LOG.info("cold process: %s", result)
    return result


def cold_load(folder: str, probe: str) -> dict:
    """Body of ``--cold-load``: time import, load_predictor and the first predict."""
    start = time.perf_counter()
    import ktrain

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    predictor = ktrain.load_predictor(folder)
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
        "ru_maxrss_mb": machine.ru_maxrss_mb(),
    }


# ---------------------------------------------------------------- main


def run(args) -> dict:
    """Whole benchmark; returns the result dict written to ``--out``."""
    timings: dict = {}
    load_before = machine.load_average()
    with timed(timings, "import_ktrain_s"):
        import ktrain
        from ktrain import text  # noqa: F401
    seed_everything(args.seed)
    result: dict = {
        "side": "ktrain",
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

    data = load_data(args.train_rows, args.test_rows)
    t, trn, val = preprocess(args, data, timings)
    learner = train(args, t, trn, timings)
    n_train = len(data["train"][0])
    result["train"] = {
        "rows": n_train,
        "epochs": args.epochs,
        "examples_per_s": n_train * args.epochs / timings["fit_s"],
        "fit_includes_validation": False,
        "padding": f"static to maxlen={args.maxlen}",
    }
    result["train"].update(
        train_flops_estimate(t, data["train"][0], args.epochs, args.maxlen, timings["fit_s"])
    )
    if "machine" in result:
        ceiling = result["machine"]["matmul_fp32_gflops"]
        result["train"]["useful_flop_efficiency"] = result["train"]["useful_gflops"] / ceiling
        result["train"]["fraction_of_matmul_ceiling_est"] = result["train"]["achieved_gflops_est"] / ceiling
    result["dev_accuracy"] = dev_accuracy(learner, val, data["dev"][1], args.batch_size, timings)
    LOG.info("dev accuracy: %.4f", result["dev_accuracy"])

    predictor = ktrain.get_predictor(learner.model, t, batch_size=args.predict_batch_size)
    test_texts, test_labels = data["test"]
    result["batch_predict"] = bench_batch_predict(predictor, test_texts, test_labels)
    result["single_predict"] = bench_single_predict(
        predictor, test_texts, args.latency_calls, args.latency_warmup
    )
    result["peak_rss_mb_before_save"] = machine.peak_rss_mb()

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="ktrain-predictor-", dir=args.cache_dir))
    try:
        result["save_load"] = bench_save_load(predictor, test_texts[0], folder / "predictor")
    finally:
        if not args.keep_predictor:
            shutil.rmtree(folder)
    cpu = timings.pop("cpu")
    result["timings_s"] = {
        **timings,
        "preprocess_total_s": timings["preprocess_train_s"] + timings["preprocess_dev_s"],
    }
    result["cpu_s"] = cpu
    result["fit_cpu_utilisation_cores"] = cpu["fit_s"] / timings["fit_s"]
    result["loadavg"] = {"start": load_before, "end": machine.load_average(), "cpu_count": os.cpu_count()}
    result["peak_rss_mb"] = machine.peak_rss_mb()
    result["ru_maxrss_mb"] = machine.ru_maxrss_mb()
    return result


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="ktrain side of the easytx benchmark")
    p.add_argument("--train-rows", type=int, default=0, help="first N training rows (0 = all)")
    p.add_argument("--test-rows", type=int, default=0, help="first N test rows (0 = all 1,821)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="TF copy of the model (convert_minilm_tf.py)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON result file")
    p.add_argument("--latency-calls", type=int, default=50)
    p.add_argument("--latency-warmup", type=int, default=5)
    p.add_argument("--matmul-n", type=int, default=2048, help="0 skips the matmul figure")
    p.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    p.add_argument("--keep-predictor", action="store_true")
    p.add_argument("--predict-batch-size", type=int, default=32)
    p.add_argument("--cold-load", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--probe-text", default="a good movie", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.cold_load and args.out is None:
        p.error("--out is required")
    return args


def main(argv=None) -> int:
    """Entry point."""
    args = parse_args(argv)
    if args.cold_load:
        print(json.dumps(cold_load(args.cold_load, args.probe_text)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not (args.model_dir / "tf_model.h5").is_file():
        LOG.error("no TF model in %s; run convert_minilm_tf.py first", args.model_dir)
        return 1
    start = time.perf_counter()
    result = run(args)
    result["total_wall_s"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    LOG.info("wrote %s (total %.1fs)", args.out, result["total_wall_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
