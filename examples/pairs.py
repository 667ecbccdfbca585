"""Sentence-pair classification: two texts in, one label out (docs/pairs.md).

    python examples/pairs.py                  # offline: a tiny generated model, seconds
    MODEL=<hub name or folder> python examples/pairs.py   # TREC: same coarse class or not?

Pairs are (text_a, text_b) tuples, tokenized together ([CLS] a [SEP] b [SEP], with
token_type_ids where the model has them). With MODEL=... the task is built from TREC questions:
are the two questions of the same coarse class (ABBR, DESC, ENTY, HUM, LOC, NUM)?
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from pathlib import Path

import easytx
from easytx import text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "trec"


def trec_pairs(split: str, n: int, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    rows = [line.split(" ", 1) for line in (DATA / split).read_text(encoding="latin-1").splitlines()]
    questions, coarse = [q for _, q in rows], [label.split(":")[0] for label, _ in rows]
    rng = random.Random(seed)
    pairs, labels = [], []
    for k in range(n):
        a = rng.randrange(len(questions))
        pool = [i for i in range(len(questions)) if (coarse[i] == coarse[a]) == (k % 2 == 0)]
        b = rng.choice(pool)
        pairs.append((questions[a], questions[b]))
        labels.append("same" if coarse[a] == coarse[b] else "different")
    return pairs, labels


def load(work: str) -> tuple:
    model = os.environ.get("MODEL")
    if model:
        return model, trec_pairs("TREC.train", 2000, 0), trec_pairs("TREC.test", 600, 1), 1e-4, 1
    from easytx.testing import make_tiny_model, pair_dataset

    x, y = pair_dataset(600, seed=0)  # the label is the sentiment of text_b
    return (
        str(make_tiny_model(os.path.join(work, "tiny-bert"))),
        (x[:480], y[:480]),
        (x[480:], y[480:]),
        5e-3,
        4,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    work = tempfile.mkdtemp(prefix="easytx_pairs_")
    model, (x_train, y_train), (x_val, y_val), lr, epochs = load(work)

    t = text.Transformer(model, maxlen=64)
    trn = t.preprocess_train(x_train, y_train)  # a list of (text_a, text_b) tuples
    val = t.preprocess_test(x_val, y_val)
    learner = easytx.get_learner(t.get_classifier(seed=0), trn, val, batch_size=16, seed=0)
    learner.fit_onecycle(lr, epochs)
    learner.validate()

    predictor = easytx.get_predictor(learner.model, t)
    print(predictor.predict(x_val[0]), "<-", x_val[0])  # one pair -> one label
    folder = predictor.save(os.path.join(work, "predictor"))
    reloaded = easytx.load_predictor(folder)
    assert reloaded.predict(x_val[:20]) == predictor.predict(x_val[:20])
    print(f"saved and reloaded {folder}: {reloaded.evaluate(x_val, y_val, print_report=False)}")


if __name__ == "__main__":
    main()
