"""How robust are the tiny-model training recipes of the test fixtures? Train them from many seeds.

The tests train tiny offline models (hidden 32, 2 layers) from one seed each. A seeded run is the
same in every process on one machine, but another CPU rounds differently and starts the run
somewhere else, so a fixture's recipe has to learn from any start. This script trains a recipe from
each seed in a fresh model and prints the per-epoch validation metric and the checks the tests make.

Usage (one backend per process, as the suite runs)::

    python benchmarks/fixture_seeds.py --backend keras3 --recipe multilabel --seeds 0-11
    python benchmarks/fixture_seeds.py --backend transformers --recipe multilabel --lr 1e-3

Recipes:

- ``multilabel``: ``tests/test_tasks.py::multilabel_trained`` (900 texts, maxlen 32, batch 8,
  lr 2e-3, 12 epochs); prints val macro-F1 per epoch, how many "neither" texts got ``[]``, and the
  exact-match accuracy (the test needs >= 0.8).
- ``keyword``: ``tests/conftest.py::trained`` (600 keyword texts, batch 16, lr 5e-3, 4 epochs);
  prints val accuracy per epoch.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["keras3", "transformers"], required=True)
    parser.add_argument("--recipe", choices=["multilabel", "keyword"], default="multilabel")
    parser.add_argument("--seeds", default="0-11", help="e.g. 0-11 or 0,3,5")
    parser.add_argument("--lr", type=float, help="override the recipe's learning rate")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    args = parser.parse_args()

    os.environ["EASYTX_BACKEND"] = args.backend
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # as tests/conftest.py does
    import easytx
    from easytx import text
    from easytx.testing import keyword_dataset, make_tiny_model, multilabel_dataset

    path = make_tiny_model(Path(tempfile.mkdtemp()) / "bert", "bert")  # as the tiny_bert fixture
    if args.recipe == "multilabel":
        x, y = multilabel_dataset(900, seed=0)
        t = text.Transformer(path, maxlen=32)
        trn, val = t.preprocess_train(x[:720], y[:720]), t.preprocess_test(x[720:], y[720:])
        x_val, y_val = x[720:], y[720:]
        lr, epochs, batch, metric = args.lr or 2e-3, args.epochs or 12, 8, "val_macro_f1"
    else:
        train, test = easytx.train_test_split(*keyword_dataset(600, seed=1), test_size=0.2, random_state=0)
        t = text.Transformer(path, maxlen="auto")
        trn, val = t.preprocess_train(train), t.preprocess_test(test)
        x_val, y_val = list(test.x), list(test.y)
        lr, epochs, batch, metric = args.lr or 5e-3, args.epochs or 4, 16, "val_accuracy"

    print(f"backend={args.backend} recipe={args.recipe} lr={lr:g} epochs={epochs} batch={batch}")
    failures = 0
    for seed in _seeds(args.seeds):
        start = time.perf_counter()
        learner = easytx.get_learner(t.get_classifier(seed=seed), trn, val, batch_size=batch, seed=seed)
        learner.fit_onecycle(lr, epochs, verbose=0)
        predicted = easytx.get_predictor(learner.model, t).predict(x_val)
        if args.recipe == "multilabel":
            exact = float(np.mean([sorted(p) == sorted(q) for p, q in zip(predicted, y_val)]))
            empty = sum(p == [] for p in predicted)
            ok = exact >= 0.8 and empty > 0
            extra = f"[] predicted {empty:3d}  exact-match {exact:.3f}"
        else:
            exact = float(np.mean([p == q for p, q in zip(predicted, y_val)]))
            ok = exact >= 0.9
            extra = f"accuracy {exact:.3f}"
        failures += not ok
        curve = " ".join(f"{v:.2f}" for v in learner.history.history[metric])
        verdict = "ok" if ok else "FAIL"
        seconds = time.perf_counter() - start
        print(f"seed {seed:2d}  {metric}: {curve}  {extra}  {verdict}  ({seconds:.0f} s)", flush=True)
    print(f"{failures} of {len(_seeds(args.seeds))} seeds fail the test's checks")


if __name__ == "__main__":
    main()
