"""Train on and predict a CSV file without loading it into memory (docs/performance.md).

    python examples/large_file.py                 # 20,000 generated rows, tiny offline model
    python examples/large_file.py --rows 2000000  # bigger: memory stays the same
    MODEL=sentence-transformers/all-MiniLM-L6-v2 python examples/large_file.py --rows 5000

The file is streamed window by window for training (``Transformer.preprocess_train_file``) and
chunk by chunk for prediction (``Predictor.predict_file``); ``accumulation_steps`` gives a large
effective batch in the memory of a small one.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import resource
import tempfile
from pathlib import Path

import easytx
from easytx import text
from easytx.testing import keyword_dataset, make_tiny_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--steps", type=int, default=300, help="training batches")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    work = Path(tempfile.mkdtemp(prefix="easytx-large-file-"))
    model = os.environ.get("MODEL") or make_tiny_model(work / "tiny", "bert")

    texts, labels = keyword_dataset(1000, seed=0)  # repeated to fill the file
    data = work / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "sentiment"])
        for i in range(args.rows):
            writer.writerow([texts[i % len(texts)], labels[i % len(labels)]])

    t = text.Transformer(model, maxlen="auto")
    trn = t.preprocess_train_file(
        data, text_column="review", label_column="sentiment", batch_size=16, steps_per_epoch=args.steps
    )
    learner = easytx.get_learner(t.get_classifier(seed=0), train_data=trn, accumulation_steps=2, seed=0)
    learner.fit_onecycle(5e-3 if "MODEL" not in os.environ else 5e-5, 1)  # effective batch 32

    predictor = easytx.get_predictor(learner.model, t)
    rows = predictor.predict_file(data, work / "predicted.csv", text_column="review")
    with open(work / "predicted.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        right = sum(row["prediction"] == row["sentiment"] for row in reader)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{rows} rows predicted into {work / 'predicted.csv'}: "
        f"accuracy {right / rows:.3f}, peak RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
