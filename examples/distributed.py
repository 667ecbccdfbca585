"""One training script for one device, all local GPUs, or several machines (docs/distributed.md).

    python examples/distributed.py                         # "auto": all local GPUs if several
    python examples/distributed.py --strategy default      # force a single device
    python examples/distributed.py --mixed-precision mixed_float16 --xla   # on an NVIDIA GPU

    # several machines: the same command on each, with its own --worker-index (0 is the chief)
    python examples/distributed.py --workers 10.0.0.1:12345,10.0.0.2:12345 --worker-index 0
    python examples/distributed.py --workers 10.0.0.1:12345,10.0.0.2:12345 --worker-index 1

Both workers can run on one machine to try it (two terminals, 127.0.0.1 and two free ports).
Runs offline: without MODEL=... it trains a tiny generated model on a keyword task; with
MODEL=<hub name or folder> it fine-tunes that model on the bundled SMS spam sample.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time

import easytx
import easytx.distribute as dist
from easytx import text


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strategy", default="auto", choices=dist.STRATEGY_NAMES)
    p.add_argument("--workers", help="host:port of every worker, comma-separated, same order everywhere")
    p.add_argument("--worker-index", type=int, default=0, help="this machine's position in --workers")
    p.add_argument("--batch-size", type=int, default=16, help="global batch (split across replicas)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--mixed-precision", choices=dist.PRECISION_POLICIES, default=None)
    p.add_argument("--xla", action="store_true", help="jit_compile the training step")
    p.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "easytx_distributed"))
    return p.parse_args()


def load_data(model: str | None, work: str):
    """(model folder or name, train texts/labels, validation texts/labels, default lr)."""
    if model:
        from easytx.datasets import load_sample

        frame = load_sample()
        split = int(len(frame) * 0.75)
        rows = frame["text"].tolist(), frame["label"].tolist()
        return model, (rows[0][:split], rows[1][:split]), (rows[0][split:], rows[1][split:]), 5e-5
    from easytx.testing import keyword_dataset, make_tiny_model

    folder = make_tiny_model(os.path.join(work, "tiny-bert"))  # same seed, same model on every worker
    x, y = keyword_dataset(600, seed=1)
    return str(folder), (x[:480], y[:480]), (x[480:], y[480:]), 5e-3


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.workers:  # the launcher part: TF_CONFIG for this worker
        dist.configure_workers(args.workers, args.worker_index)
        args.strategy = "multi_worker"
    # First, before anything runs TensorFlow (multi-worker set-up must come first).
    strategy = dist.get_strategy(args.strategy)
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(dir=args.out)

    model, (x_train, y_train), (x_val, y_val), lr = load_data(os.environ.get("MODEL"), work)
    t = text.Transformer(model, maxlen=64)
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_val, y_val)
    learner = easytx.get_learner(
        t.get_classifier(seed=0, strategy=strategy, mixed_precision=args.mixed_precision),
        train_data=trn,
        val_data=val,
        batch_size=args.batch_size,  # global batch size
        seed=0,
        strategy=strategy,
        jit_compile=args.xla or None,
    )
    start = time.perf_counter()
    learner.fit_onecycle(args.lr or lr, args.epochs, checkpoint_folder=os.path.join(args.out, "checkpoints"))
    seconds = time.perf_counter() - start
    learner.validate(class_names=t.get_classes())
    folder = easytx.get_predictor(learner.model, t).save(os.path.join(args.out, "predictor"))  # chief only
    if dist.is_chief(strategy):
        print(
            f"{dist.describe(strategy)}: {args.epochs * len(trn) / seconds:.0f} examples/s; "
            f"predictor saved to {folder}"
        )


if __name__ == "__main__":
    main()
