"""Regression: predict a number (or several) from a text (docs/regression.md).

    python examples/regression.py                  # offline: a tiny generated model, seconds
    MODEL=<hub name or folder> python examples/regression.py    # SST-2 polarity as a 0.0/1.0 target

Offline the target is 2.5 x (positive words) - 1.5 x (negative words) + 10 on generated texts.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

import easytx
from easytx import text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2_sentences"


def sst2(split: str, n: int) -> tuple[list[str], list[float]]:
    rows = [
        line.split(" ", 1)
        for line in (DATA / f"stsa.binary.{split}").read_text(encoding="utf-8").splitlines()
    ]
    return [s for _, s in rows][:n], [float(label) for label, _ in rows][:n]


def load(work: str) -> tuple:
    model = os.environ.get("MODEL")
    if model:
        return model, sst2("train", 1500), sst2("dev", 872), 2e-4, 1
    from easytx.testing import make_tiny_model, regression_dataset

    x, y = regression_dataset(400, seed=0)
    return (
        str(make_tiny_model(os.path.join(work, "tiny-bert"))),
        (x[:320], y[:320]),
        (x[320:], y[320:]),
        5e-3,
        4,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    work = tempfile.mkdtemp(prefix="easytx_regression_")
    model, (x_train, y_train), (x_val, y_val), lr, epochs = load(work)

    # regression is never guessed from the labels: ask for it (scale_targets standardises y)
    t = text.Transformer(model, maxlen=64, task="regression", scale_targets=True)
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_val, y_val)
    learner = easytx.get_learner(t.get_regression_model(seed=0), trn, val, batch_size=16, seed=0)
    learner.fit_onecycle(lr, epochs)  # MSE loss; MAE and RMSE metrics
    learner.validate()  # MAE, RMSE, R2 per target

    predictor = easytx.get_predictor(learner.model, t)
    predicted = predictor.predict(x_val)  # floats, in the targets' units
    constant = np.mean(np.abs(np.mean(y_train) - np.asarray(y_val)))
    print(f"MAE {np.mean(np.abs(np.asarray(predicted) - y_val)):.3f} (constant predictor: {constant:.3f})")
    folder = predictor.save(os.path.join(work, "predictor"))  # the scaling is saved and undone
    reloaded = easytx.load_predictor(folder)
    assert np.allclose(reloaded.predict(x_val[:10]), predicted[:10], atol=1e-4)
    print(f"saved and reloaded {folder}: {x_val[0]!r} -> {reloaded.predict(x_val[0]):.2f}")


if __name__ == "__main__":
    main()
