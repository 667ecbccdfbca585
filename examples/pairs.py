"""Sentence-pair classification: two texts in, one label out (docs/pairs.md).

    python examples/pairs.py                  # offline: a tiny generated model, seconds
    MODEL=<hub name or folder> python examples/pairs.py   # TREC: question / answer type

Pairs are (text_a, text_b) tuples, tokenized together ([CLS] a [SEP] b [SEP], with
token_type_ids where the model has them). With MODEL=... the task is built from TREC questions:
does the question (text_a) ask for the answer type described in text_b?
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


ANSWER_TYPES = {
    "ABBR": "an abbreviation or its expansion",
    "DESC": "a description, definition, manner or reason",
    "ENTY": "an entity such as a thing, animal, colour or product",
    "HUM": "a person, a group of people or an organisation",
    "LOC": "a location such as a city, country or place",
    "NUM": "a number, date, count, distance or amount",
}


def trec_pairs(split: str, n: int, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(question, answer type in words) -> "yes" if the question asks for that type, else "no"."""
    rows = [line.split(" ", 1) for line in (DATA / split).read_text(encoding="latin-1").splitlines()]
    questions, coarse = [q for _, q in rows], [label.split(":")[0] for label, _ in rows]
    rng = random.Random(seed)
    pairs, labels = [], []
    for k in range(n):
        i = rng.randrange(len(questions))
        kind = coarse[i] if k % 2 == 0 else rng.choice([c for c in ANSWER_TYPES if c != coarse[i]])
        pairs.append((questions[i], f"The answer is {ANSWER_TYPES[kind]}."))
        labels.append("yes" if kind == coarse[i] else "no")
    return pairs, labels


def load(work: str) -> tuple:
    model = os.environ.get("MODEL")
    if model:
        return model, trec_pairs("TREC.train", 2000, 0), trec_pairs("TREC.test", 500, 1), 2e-4, 1
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
