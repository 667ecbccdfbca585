"""Texts longer than the model: accuracy with and without sliding windows, on tiny models.

    python benchmarks/long_texts.py                  # about a minute on two CPU cores
    python benchmarks/long_texts.py --filler 120     # the keyword farther from the start

Two tiny keyword classifiers (a random tiny BERT, ``maxlen=32``; ``tests/conftest.py``'s recipe:
one-cycle at 5e-3 for 4 epochs on 480 short keyword texts, seed 0):

- ``short``: trained on the short texts only (the test suite's ``trained`` fixture);
- ``windows``: then trained 2 more epochs at 3e-3 with ``Transformer(windows=True)`` on the short
  texts and 240 long ones (60 neutral words, then the keyword text), each window a row with its
  text's label (``tests/test_windows.py``'s ``window_trained``).

Each predicts ``--n`` new long texts (:func:`easytx.testing.long_keyword_dataset`: about
``--filler`` neutral words, then the short text whose keyword decides the class) truncated
(``windows=False``: the keyword is cut off) and in windows pooled by ``"mean"`` (the default) and
``"max"``. Prints one Markdown table of accuracies and the settings; nothing is typed in by hand.
Offline. (Speed is not measured here: a text costs one forward pass per window.)
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="long texts to predict (default 200)")
    parser.add_argument("--filler", type=int, default=60, help="neutral words before the keyword (60)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np

    import easytx
    from easytx import text
    from easytx.testing import TINY_HEAD_LR, keyword_dataset, long_keyword_dataset, make_tiny_model

    tensorflow = importlib.import_module("tensorflow")  # after easytx, which sets up its environment
    tensorflow.config.experimental.enable_op_determinism()  # as the tests do

    work = tempfile.mkdtemp(prefix="easytx_long_texts_")
    model = make_tiny_model(os.path.join(work, "tiny-bert"), "bert")
    x, y = keyword_dataset(600, seed=1)
    train, _ = easytx.train_test_split(x, y, test_size=0.2, random_state=0)
    long_x, long_y = long_keyword_dataset(240, filler_words=60, seed=3)
    test_x, test_y = long_keyword_dataset(args.n, filler_words=args.filler, seed=8)

    t = text.Transformer(model, maxlen=32, windows=True, verbose=0)
    windows_data = t.preprocess_train(list(train.texts) + long_x, list(train.labels) + long_y)
    short_data = t.preprocess_test(train, windows=False)
    net = t.get_classifier(seed=0)
    options = {"batch_size": 16, "seed": 0, "head_lr_multiplier": TINY_HEAD_LR}
    easytx.get_learner(net, short_data, **options).fit_onecycle(5e-3, 4, verbose=0)
    rows = []
    for trained_on in ("short", "windows"):
        if trained_on == "windows":
            easytx.get_learner(net, windows_data, **options).fit_onecycle(3e-3, 2, verbose=0)
        predictor = easytx.get_predictor(net, t)
        predictor.verbose = 0
        for name, windows, pooling in (
            ("truncated", False, "mean"),
            ("windows, mean", True, "mean"),
            ("windows, max", True, "max"),
        ):
            predictor.window_pooling = pooling
            labels = predictor.predict(test_x, windows=windows)
            accuracy = float(np.mean([a == b for a, b in zip(labels, test_y)]))
            rows.append((trained_on, name, accuracy))

    lengths = [len(t.tokenizer(s)["input_ids"]) for s in test_x]
    print(
        f"tiny BERT ({easytx.backend.backend_of(net)} backend), maxlen={t.maxlen_}, "
        f"stride={t.window_stride()}; {len(test_x)} long texts of {min(lengths)}-{max(lengths)} tokens "
        f"(mean {np.mean(lengths):.0f}), the keyword in the last 30 or so"
    )
    print()
    print("| trained on | long texts read | accuracy |")
    print("| --- | --- | ---: |")
    for trained_on, name, accuracy in rows:
        print(f"| {trained_on} | {name} | {accuracy:.3f} |")


if __name__ == "__main__":
    main()
