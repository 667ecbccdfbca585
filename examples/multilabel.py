"""Multi-label classification: any number of labels per text (docs/multilabel.md).

    python examples/multilabel.py                 # offline: a tiny generated model, seconds
    MODEL=<hub name or folder> python examples/multilabel.py   # GoEmotions (Ekman) subset

Offline it trains a tiny model on generated texts labelled ["pos"], ["neg"] or [] (none).
With MODEL=... it fine-tunes that model on 2,000 GoEmotions comments from ../shared/data.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from pathlib import Path

import easytx
from easytx import text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "goemotions_ekman"


def goemotions(split: str, n: int) -> tuple[list[str], list[list[str]]]:
    names = (DATA / "labels.txt").read_text(encoding="utf-8").split()
    texts, labels = [], []
    with open(DATA / f"{split}.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row[0])
            labels.append([names[int(i)] for i in row[1].split(",")])  # e.g. ["joy", "surprise"]
    return texts[:n], labels[:n]


def load(work: str) -> tuple:
    model = os.environ.get("MODEL")
    if model:
        return model, goemotions("train", 2000), goemotions("dev", 500), 3e-4, 1
    from easytx.testing import make_tiny_model, multilabel_dataset

    x, y = multilabel_dataset(600, seed=0)  # y: [], ["pos"] or ["neg"]
    return (
        str(make_tiny_model(os.path.join(work, "tiny-bert"))),
        (x[:480], y[:480]),
        (x[480:], y[480:]),
        5e-3,
        6,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    work = tempfile.mkdtemp(prefix="easytx_multilabel_")
    model, (x_train, y_train), (x_val, y_val), lr, epochs = load(work)

    t = text.Transformer(model, maxlen=64)  # lists of names per text -> multi-label (or multilabel=True)
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_val, y_val)
    learner = easytx.get_learner(
        t.get_classifier(seed=0), trn, val, batch_size=32 if os.environ.get("MODEL") else 16, seed=0
    )
    learner.fit_onecycle(lr, epochs)
    learner.validate()  # per-label precision / recall / F1, micro and macro averages
    print("thresholds tuned on the validation data:", learner.tune_thresholds())

    predictor = easytx.get_predictor(learner.model, t)
    print(predictor.predict(x_val[:5]))  # a list of labels per text, maybe empty
    print(predictor.predict_proba(x_val[:2]).round(3))  # independent probabilities
    folder = predictor.save(os.path.join(work, "predictor"))  # thresholds are saved with it
    reloaded = easytx.load_predictor(folder)
    assert reloaded.predict(x_val[:20]) == predictor.predict(x_val[:20])
    print(f"saved and reloaded {folder}: {reloaded.evaluate(x_val, y_val, print_report=False)}")


if __name__ == "__main__":
    main()
