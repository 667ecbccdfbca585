"""Training jobs that tests/test_distribute.py runs in fresh Python processes.

TensorFlow fixes its devices and its cross-worker communication when it first runs, so each
distributed set-up needs a process of its own::

    python tests/distributed_job.py mirrored MODEL_DIR OUT_DIR
        two logical CPU devices; trains the same tiny model on the same data and global batch
        once on one device and once with MirroredStrategy over both, and writes OUT_DIR/mirrored.json
    python tests/distributed_job.py worker MODEL_DIR OUT_DIR
        one worker of a MultiWorkerMirroredStrategy cluster described by TF_CONFIG: lr_find,
        fit_onecycle with checkpoints, autofit, validate, save the predictor; writes
        OUT_DIR/worker-<index>.json, and (chief only) OUT_DIR/predictor-w<index> and checkpoints
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_TRAIN, N_VAL, BATCH, EPOCHS, LR, MAXLEN = 480, 64, 16, 2, 5e-3, 32
WORKER_TRAIN, WORKER_VAL, WORKER_EPOCHS = 96, 32, 2
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def _data(model_dir: str, n_train: int = N_TRAIN, n_val: int = N_VAL):
    from easytx import text
    from easytx.testing import keyword_dataset

    x, y = keyword_dataset(n_train + n_val, seed=11)
    t = text.Transformer(model_dir, maxlen=MAXLEN, verbose=0)
    trn = t.preprocess_train(x[:n_train], y[:n_train])
    val = t.preprocess_test(x[n_train:], y[n_train:])
    return t, trn, val


def _train(t, trn, val, strategy):
    import numpy as np

    import easytx

    learner = easytx.get_learner(
        t.get_classifier(seed=0, **NO_DROPOUT),  # ktrain order: built outside the scope
        train_data=trn,
        val_data=val,
        batch_size=BATCH,
        seed=0,
        strategy=strategy,
    )
    start = time.perf_counter()
    learner.fit_onecycle(LR, EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    proba = learner.predict_proba(val)
    return learner, {
        "loss": learner.history.history["loss"],
        "val_accuracy": learner.history.history["val_accuracy"],
        "batch_loss": learner.batch_history["loss"],
        "proba": np.asarray(proba).tolist(),
        "weights": np.concatenate([w.ravel() for w in learner.model.get_weights()]).tolist(),
        "seconds": seconds,
        "examples_per_s": EPOCHS * N_TRAIN / seconds,
    }


def _checksum(model) -> list[float]:
    import numpy as np

    return [float(np.abs(w).astype(np.float64).sum()) for w in model.get_weights()]


def mirrored(model_dir: str, out: Path) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import easytx.distribute as dist
    from easytx._keras import tf_variable

    _, single = _train(*_data(model_dir), None)  # fresh data: same shuffles in both runs
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    learner, multi = _train(*_data(model_dir), strategy)
    multi["replicas"] = dist.num_replicas(learner.model.distribute_strategy)
    multi["in_scope"] = bool(
        strategy.extended.variable_created_in_scope(tf_variable(learner.model.weights[0]))
    )
    result = {"single": single, "mirrored": multi}
    (out / "mirrored.json").write_text(json.dumps(result), encoding="utf-8")


def worker_recipe(learner, checkpoint_folder) -> dict:
    """What each worker runs (the test repeats it on one device): lr_find, fit_onecycle with
    checkpoints, autofit, validate."""
    suggestion = learner.lr_find(num_steps=6, verbose=0)
    learner.fit_onecycle(LR, WORKER_EPOCHS, checkpoint_folder=checkpoint_folder, verbose=0)
    epoch_losses = list(learner.history.history["loss"])
    learner.autofit(1e-3, 1, verbose=0)
    epoch_losses += learner.history.history["loss"]
    matrix = learner.validate(print_report=False)
    return {
        "lr_find": suggestion.losses,
        "epoch_losses": epoch_losses,
        "batch_losses": learner.batch_history["loss"],
        "steps": len(learner.batch_history["loss"]),
        "validated": int(matrix.sum()),
    }


def worker(model_dir: str, out: Path) -> None:
    import easytx.distribute as dist

    clock = {"start": time.perf_counter()}
    strategy = dist.get_strategy("multi_worker")  # first: before TensorFlow runs anything
    clock["strategy"] = time.perf_counter()
    index = strategy.cluster_resolver.task_id
    import easytx

    t, trn, val = _data(model_dir, n_train=WORKER_TRAIN, n_val=WORKER_VAL)
    learner = easytx.get_learner(
        # ktrain order, built outside the scope with a head that differs on each worker: the
        # copy into the scope must give every worker the chief's weights
        t.get_classifier(seed=index, **NO_DROPOUT),
        train_data=trn,
        val_data=val,
        batch_size=BATCH,
        strategy="multi_worker",  # the same (cached) strategy
    )
    start_weights = _checksum(learner.model)
    clock["built"] = time.perf_counter()
    recipe = worker_recipe(learner, out / f"ckpt-w{index}")
    clock["trained"] = time.perf_counter()
    predictor = easytx.get_predictor(learner.model, t)
    predictor.save(out / f"predictor-w{index}")
    clock["saved"] = time.perf_counter()
    result = {
        "index": index,
        "chief": dist.is_chief(strategy),
        "replicas": dist.num_replicas(strategy),
        "expected_steps": math.ceil(WORKER_TRAIN / BATCH) * (WORKER_EPOCHS + 1),
        **recipe,
        "start_weights": start_weights,
        "end_weights": _checksum(learner.model),
        "predictions": predictor.predict(val.texts[:8]),
        "texts": val.texts[:8],
        "seconds": {k: round(v - clock["start"], 2) for k, v in clock.items()},
    }
    (out / f"worker-{index}.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    mode, model_dir, out_dir = sys.argv[1:4]
    {"mirrored": mirrored, "worker": worker}[mode](model_dir, Path(out_dir))
