"""Texts longer than the model: sliding windows for a classifier and a tagger (docs/long-texts.md).

    python examples/long_texts.py        # offline: tiny generated models, about a minute on a laptop

A text longer than ``maxlen`` tokens is read in windows of ``maxlen`` tokens that overlap by
``stride`` tokens (default ``maxlen // 4``): a classifier answers with the mean of its windows'
probabilities, a tagger predicts each word in the window where it has the most context. This is
the default at prediction; ``windows=False`` truncates instead, as easytx did before.

1. A keyword classifier (tiny model, ``maxlen=32``) trained on short texts, then with
   ``Transformer(windows=True)`` on long texts whose keyword comes after 60 neutral words: each
   window is a training row with its text's label. On new long texts it is right with windows
   and at chance truncated.
2. A tagger (``maxlen=48``) trained on single sentences finds the names in a text of twenty
   sentences, at their character offsets in the whole text.
"""

from __future__ import annotations

import logging
import os
import tempfile

import easytx
from easytx import text
from easytx.testing import (
    TINY_HEAD_LR,
    entity_dataset,
    keyword_dataset,
    long_keyword_dataset,
    make_tiny_model,
)


def accuracy(predicted: list, truth: list) -> float:
    return sum(a == b for a, b in zip(predicted, truth)) / len(truth)


def classifier(model: str, work: str) -> None:
    short_x, short_y = keyword_dataset(480, seed=1)
    long_x, long_y = long_keyword_dataset(240, filler_words=60, seed=3)
    test_x, test_y = long_keyword_dataset(100, filler_words=60, seed=8)

    # windows=True: a long training text becomes one row per window, each with the text's label
    t = text.Transformer(model, maxlen=32, windows=True)
    trn = t.preprocess_train(short_x + long_x, short_y + long_y)
    val = t.preprocess_test(test_x, test_y)  # windows too; Learner.validate pools them per text
    model_ = t.get_classifier(seed=0)
    options = {"batch_size": 16, "seed": 0, "head_lr_multiplier": TINY_HEAD_LR}
    # a tiny random model first learns the keywords from short texts (a pretrained model knows
    # words already), then learns from the windows that most of a long text decides nothing
    easytx.get_learner(model_, t.preprocess_test(short_x, short_y, windows=False), **options).fit_onecycle(
        5e-3, 4, verbose=0
    )
    learner = easytx.get_learner(model_, trn, val, **options)
    learner.fit_onecycle(3e-3, 2, verbose=0)

    predictor = easytx.get_predictor(learner.model, t)
    read = accuracy(predictor.predict(test_x), test_y)  # windows: the default
    cut = accuracy(predictor.predict(test_x, windows=False), test_y)
    n_tokens = sum(len(t.tokenizer(x)["input_ids"]) for x in test_x) / len(test_x)
    print(
        f"{len(test_x)} texts of {n_tokens:.0f} tokens on average, maxlen={t.maxlen_}, "
        f"stride={t.window_stride()}: accuracy {read:.2f} in windows, {cut:.2f} truncated"
    )
    folder = predictor.save(os.path.join(work, "classifier"))  # stride and windows are saved
    reloaded = easytx.load_predictor(folder)
    assert reloaded.predict(test_x[:10]) == predictor.predict(test_x[:10])
    print(
        f"saved and reloaded {folder}: {reloaded.predict(test_x[0])!r} for a text ending {test_x[0][-40:]!r}"
    )


def tagger(model: str) -> None:
    words, tags = entity_dataset(320, seed=0)
    trn, val, preproc = text.entities_from_array(words, tags, model=model, maxlen=48, random_state=0)
    learner = easytx.get_learner(
        text.sequence_tagger("transformer", preproc, seed=0),
        train_data=trn,
        val_data=val,
        batch_size=16,
        seed=0,
        head_lr_multiplier=TINY_HEAD_LR,
    )
    learner.fit_onecycle(8e-3, 8, verbose=0)
    predictor = easytx.get_predictor(learner.model, preproc)
    document = " ".join(["Anna visited Paris ."] * 20)  # 100 sub-tokens: 3 windows of 48
    found = predictor.predict(document)
    cut = predictor.predict(document, windows=False)
    last = found[-1]
    print(
        f"a {len(document)}-character text: {len(found)} entities in windows, {len(cut)} truncated; "
        f"the last: {last['text']!r} ({last['type']}) at characters {last['start']}-{last['end']}"
    )
    assert document[last["start"] : last["end"]] == last["text"]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    work = tempfile.mkdtemp(prefix="easytx_long_texts_")
    model = str(make_tiny_model(os.path.join(work, "tiny-bert")))
    classifier(model, work)
    tagger(model)


if __name__ == "__main__":
    main()
