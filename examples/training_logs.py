"""Early stopping, training logs and the model card (docs/one-cycle.md, docs/predictor-format.md).

    python examples/training_logs.py     # offline: a tiny generated model, under a minute

1. ``fit_onecycle(..., early_stopping=2, log_dir=...)`` watches the task's validation metric
   (``val_accuracy`` for classification), stops after two epochs without improvement and ends
   with the best epoch's weights; ``log_dir`` gets ``history.csv`` (one row per epoch) and
   TensorBoard logs when ``tensorboard`` is installed.
2. ``predictor.save(folder)`` writes ``README.md`` beside the model: task, labels, base model,
   the training recipe and the kept epoch's validation metrics. Loading checks it like every
   other file of the folder.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from pathlib import Path

import easytx
from easytx import text
from easytx.testing import TINY_HEAD_LR, keyword_dataset, make_tiny_model


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="easytx-logs-"))
    model = make_tiny_model(work / "tiny-bert", "bert")  # offline stand-in for a hub model

    x, y = keyword_dataset(480, seed=1)
    train, test = easytx.train_test_split(x, y, test_size=0.2, random_state=0)
    t = text.Transformer(str(model), maxlen="auto")
    trn, val = t.preprocess_train(train), t.preprocess_test(test)
    # the tiny model's encoder is random: it trains at one rate (easytx.testing.TINY_HEAD_LR)
    learner = easytx.get_learner(
        t.get_classifier(seed=0), trn, val, batch_size=16, seed=0, head_lr_multiplier=TINY_HEAD_LR
    )

    logs = work / "run"
    learner.fit_onecycle(5e-3, 12, early_stopping=2, log_dir=logs, verbose=0)
    history = learner.history.history["val_accuracy"]
    best = max(range(len(history)), key=history.__getitem__) + 1
    print(f"trained {len(history)} of 12 epochs; best val_accuracy {max(history):.3f} at epoch {best}")
    with open(logs / "history.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    print(f"{logs / 'history.csv'}: {len(rows)} rows, columns {list(rows[0])}")

    predictor = easytx.get_predictor(learner.model, t)
    folder = predictor.save(work / "predictor")
    card = (folder / "README.md").read_text(encoding="utf-8")
    print(f"model card {folder / 'README.md'}: {len(card.splitlines())} lines; its metric lines:")
    print("\n".join(line for line in card.splitlines() if "val_accuracy" in line))

    reloaded = easytx.load_predictor(folder)
    same = reloaded.predict(test.texts[:20]) == predictor.predict(test.texts[:20])
    print(f"saved and reloaded: same answers on 20 texts: {same}")
    if os.environ.get("KEEP") is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
