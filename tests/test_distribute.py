"""Distributed training: strategy resolution, models in the strategy scope, mixed precision, XLA,
MirroredStrategy over two logical CPU devices and MultiWorkerMirroredStrategy over two processes.

TensorFlow fixes its devices and its cross-worker communication when it first runs, so the
two-device and two-worker tests run tests/distributed_job.py in fresh processes (with timeouts).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import distributed_job as job
import numpy as np
import pytest

import easytx
import easytx.distribute as dist
from easytx import bindings, text
from easytx._keras import keras_of, optimizer_variables, tf_variable, weights_file_name
from easytx.backend import backend_of
from easytx.errors import ConfigError
from easytx.testing import keyword_dataset

ROOT = Path(__file__).resolve().parents[1]
JOB = Path(__file__).with_name("distributed_job.py")
JOB_TIMEOUT = 300  # seconds per process; the jobs take ~20-60 s on 2 busy cores


# ------------------------------------------------------------------------------ worker set-up
def test_tf_config_lists_workers_and_this_task(monkeypatch):
    config = dist.tf_config("10.0.0.1:2222, 10.0.0.2:2222", 1)
    assert config == {
        "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    assert dist.tf_config(["a:1", "b:2", "c:3"], 0)["cluster"]["worker"] == ["a:1", "b:2", "c:3"]
    monkeypatch.delenv("TF_CONFIG", raising=False)
    written = dist.configure_workers("127.0.0.1:1111,127.0.0.1:1112", 0)
    assert json.loads(os.environ["TF_CONFIG"]) == written
    assert dist._auto_kind() == "multi_worker"  # a cluster of two: "auto" picks multi-worker
    for workers, index, match in [
        ("10.0.0.1", 0, "host:port"),
        ("a:1,a:1", 0, "twice"),
        ("a:1,b:2", 2, "0 to 1"),
        ("a:1,b:2", True, "index"),
        ("", 0, "host:port"),
    ]:
        with pytest.raises(ConfigError, match=match):
            dist.tf_config(workers, index)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        dist._auto_kind()


def test_strategy_names_resolve_and_errors_name_the_choices(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    default = dist.get_strategy("default")
    assert default is tf.distribute.get_strategy()
    assert dist.num_replicas(default) == 1 and dist.is_chief(default) and not dist.is_multi_worker(default)
    # this machine has no GPU and no cluster: "auto" is the default strategy
    assert dist.get_strategy("auto") is default
    mirrored = dist.resolve_strategy("Mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert dist.resolve_strategy("mirrored") is mirrored  # created once per process
    assert dist.resolve_strategy(mirrored) is mirrored
    assert dist.resolve_strategy(None) is None and dist.is_chief(None)
    with pytest.raises(ConfigError, match="Did you mean 'mirrored'"):
        dist.resolve_strategy("mirored")
    with pytest.raises(ConfigError, match="tf.distribute.Strategy"):
        dist.resolve_strategy(2)
    with pytest.raises(ConfigError, match="mixed_precision"):
        dist.precision_scope("float16").__enter__()


def test_multi_worker_strategy_after_tensorflow_started_says_how_to_fix(monkeypatch):
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has run: too late to set up cross-worker communication
    monkeypatch.setenv("TF_CONFIG", json.dumps(dist.tf_config("127.0.0.1:1,127.0.0.1:2", 0)))
    monkeypatch.setattr(dist, "_CACHE", {})
    with pytest.raises(ConfigError, match="top of the script"):
        dist.get_strategy("multi_worker")


# ------------------------------------------------------------------------------ one process
def _data(model_dir, n=96, maxlen=32):
    x, y = keyword_dataset(n + 32, seed=5)
    t = text.Transformer(model_dir, maxlen=maxlen, verbose=0)
    return t, t.preprocess_train(x[:n], y[:n]), t.preprocess_test(x[n:], y[n:])


@pytest.mark.integration
def test_learner_under_mirrored_strategy_end_to_end(tiny_bert, tmp_path):
    """ktrain call order: the model built outside the scope is re-created inside it."""
    import tensorflow as tf

    t, trn, val = _data(tiny_bert, n=64)
    original = t.get_classifier(seed=0)
    learner = easytx.get_learner(original, train_data=trn, val_data=val, batch_size=16, strategy="mirrored")
    strategy = dist.resolve_strategy("mirrored")
    model = learner.model
    assert model is not original and model.distribute_strategy is strategy
    assert all(strategy.extended.variable_created_in_scope(tf_variable(w)) for w in model.weights)
    for a, b in zip(original.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert bindings.task_of(model) is bindings.task_of(original) is t.task  # the binding followed
    assert bindings.preproc_of(model) is t and "_easytx_task" not in vars(model)
    optimizer = model.optimizer
    assert isinstance(tf_variable(optimizer.beta_1), tf.distribute.DistributedValues)  # made in the scope
    for variable in [optimizer.beta_1, optimizer.learning_rate, *optimizer_variables(optimizer)]:
        assert strategy.extended.variable_created_in_scope(tf_variable(variable)), variable.name

    before = [w.copy() for w in model.get_weights()]
    learner.lr_find(num_steps=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    learner.fit_onecycle(5e-3, 1, checkpoint_folder=tmp_path / "ckpt", verbose=0)
    learner.autofit(1e-3, 1, verbose=0)
    assert len(learner.batch_history["lr"]) == 2 * learner.steps_per_epoch
    assert (tmp_path / "ckpt" / weights_file_name(model, "weights-01")).is_file()
    metric_variables = [v for metric in model.metrics for v in metric.variables]
    assert metric_variables and all(
        strategy.extended.variable_created_in_scope(tf_variable(v)) for v in metric_variables
    )
    assert learner.validate(print_report=False).sum() == len(val)

    predictor = easytx.get_predictor(learner.model, t)
    predictor.save(tmp_path / "predictor")
    reloaded = easytx.load_predictor(tmp_path / "predictor")  # an ordinary single-device model
    assert reloaded.model.distribute_strategy is tf.distribute.get_strategy()
    np.testing.assert_allclose(
        reloaded.predict_proba(val.texts), predictor.predict_proba(val.texts), rtol=1e-5, atol=1e-6
    )

    # built inside the scope in the first place: get_learner keeps that very model
    inside = t.get_classifier(seed=0, strategy="mirrored")
    assert easytx.get_learner(inside, train_data=trn, strategy=strategy).model is inside


@pytest.mark.integration
def test_training_under_a_strategy_makes_one_pass_over_the_data_per_epoch(tiny_bert, monkeypatch):
    """Keras 3 reads a batch from a new pass over the data at the start of fit/evaluate under a
    strategy (to learn its shapes); that pass shifted the per-epoch shuffle seed of easytx datasets,
    so training under a strategy saw other batches than on one device."""
    from easytx.preprocess import TransformerDataset

    t, trn, val = _data(tiny_bert, n=32)
    learner = easytx.get_learner(
        t.get_classifier(seed=0), train_data=trn, val_data=val, batch_size=16, seed=0, strategy="mirrored"
    )
    passes = []
    original = TransformerDataset.batch_indices

    def spy(self, *args, **kwargs):
        passes.append(("train" if self is trn else "val", kwargs.get("seed")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TransformerDataset, "batch_indices", spy)
    learner.fit_onecycle(1e-3, 2, verbose=0)
    assert passes == [("train", 0), ("val", None), ("train", 1), ("val", None)]


@pytest.mark.slow
def test_finetune_passes_the_strategy_on(tiny_bert):
    import pandas as pd

    x, y = keyword_dataset(80, seed=3)
    predictor = easytx.finetune(
        pd.DataFrame({"text": x, "label": y}),
        tiny_bert,
        epochs=1,
        lr=1e-3,
        batch_size=16,
        val_pct=0.2,
        strategy="mirrored",
        verbose=0,
    )
    strategy = dist.resolve_strategy("mirrored")
    model = predictor.learner.model
    assert model.distribute_strategy is strategy
    assert strategy.extended.variable_created_in_scope(tf_variable(model.weights[0]))
    assert set(predictor.metrics) >= {"accuracy", "macro_f1"}


@pytest.mark.integration
@pytest.mark.parametrize("policy", ["mixed_bfloat16", pytest.param("mixed_float16", marks=pytest.mark.slow)])
def test_mixed_precision_trains_and_saves_a_float32_predictor(tiny_bert, tmp_path, policy):
    t, trn, val = _data(tiny_bert, n=64)
    learner = easytx.get_learner(
        t.get_classifier(seed=0), train_data=trn, val_data=val, batch_size=16, seed=0, mixed_precision=policy
    )
    model = learner.model
    assert model.dtype_policy.name == policy
    assert keras_of(model).mixed_precision.global_policy().name == "float32"  # policy used only to build
    assert all(w.dtype == "float32" for w in model.weights)  # variables stay float32
    # float16 needs loss scaling (Keras wraps the optimizer); schedules reach the inner AdamW
    wrapper = {"keras3": "LossScaleOptimizer", "transformers": "LossScaleOptimizerV3"}[backend_of(model)]
    assert (type(model.optimizer).__name__ == wrapper) == (policy == "mixed_float16")
    before = [w.copy() for w in model.get_weights()]
    learner.fit_onecycle(5e-3, 2, verbose=0)
    losses = learner.history.history["loss"]
    assert all(np.isfinite(losses))
    moms = learner.batch_history["momentum"]
    assert min(moms) < 0.9 < max(moms)  # one-cycle momentum moved beta_1 under the wrapper too
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    learner.set_weight_decay(0.05)
    assert type(model.loss).__name__ == "Float32Logits"  # the loss sees float32 logits

    predictor = easytx.get_predictor(model, t)
    predictor.save(tmp_path / "p")
    reloaded = easytx.load_predictor(tmp_path / "p")
    assert reloaded.model.dtype_policy.name == "float32"
    # the reloaded model computes in float32; the trained one in 16-bit: close, not equal
    np.testing.assert_allclose(
        reloaded.predict_proba(val.texts), predictor.predict_proba(val.texts), atol=0.05
    )


@pytest.mark.slow
def test_jit_compile_trains_like_the_graph_step(tiny_bert):
    """XLA (jit_compile=True) gives the same training on CPU within float rounding.

    Dropout is off (XLA draws other random numbers); maxlen=8 keeps batch shapes to one or two
    widths, so XLA compiles few programs.
    """
    from tensorflow.python.framework import config as tf_config

    results = []
    determinism = tf_config.is_op_determinism_enabled()  # conftest turns it on; Keras 3 runs no
    tf_config.disable_op_determinism()  # XLA while it is on
    try:
        for jit in (False, True):
            t, trn, _ = _data(tiny_bert, n=32, maxlen=8)
            model = t.get_classifier(seed=0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
            learner = easytx.get_learner(model, train_data=trn, batch_size=16, seed=0, jit_compile=jit)
            assert learner.model.jit_compile is jit
            learner.fit_onecycle(1e-3, 2, verbose=0)
            results.append((learner.batch_history["loss"], learner.model.get_weights()))
    finally:
        if determinism:
            tf_config.enable_op_determinism()
    (loss_a, w_a), (loss_b, w_b) = results
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-4)
    for a, b in zip(w_a, w_b):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


# ------------------------------------------------------------------------------ several processes
def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])  # this checkout's easytx
    env.pop("TF_CONFIG", None)
    return env


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_matches_one_device(tiny_bert, tmp_path):
    """Same data, same global batch (16 = 2 x 8), no dropout: the two runs agree.

    Stated tolerances (measured on this machine in brackets): first-epoch batch losses within
    1e-5 and all 60 batch losses within 1e-4 (1.2e-7), epoch losses within 1e-4 relative (0),
    final weights within 1e-3 in relative L2 norm (5.5e-6), validation probabilities within
    1e-3 (5e-8). The margin covers float32 sums taken in another order (two half-batch gradients
    instead of one) growing over the 60 Adam steps; at lr 1e-2, where the loss falls much more
    abruptly, we measured up to 2e-4 on batch losses.
    """
    log = tmp_path / "job.log"
    with open(log, "w") as handle:
        proc = subprocess.run(
            [sys.executable, str(JOB), "mirrored", str(tiny_bert), str(tmp_path)],
            env=_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=JOB_TIMEOUT,
            check=False,
        )
    assert proc.returncode == 0, _tail(log)
    result = json.loads((tmp_path / "mirrored.json").read_text())
    single, multi = result["single"], result["mirrored"]
    assert multi["replicas"] == 2 and multi["in_scope"]
    assert multi["loss"][-1] < multi["loss"][0] - 0.1  # it learns
    assert multi["val_accuracy"][-1] >= 0.8
    steps = len(single["batch_loss"]) // len(single["loss"])  # the first epoch
    np.testing.assert_allclose(multi["batch_loss"][:steps], single["batch_loss"][:steps], atol=1e-5)
    np.testing.assert_allclose(multi["batch_loss"], single["batch_loss"], atol=1e-4)
    np.testing.assert_allclose(multi["loss"], single["loss"], rtol=1e-4)
    w_single, w_multi = np.asarray(single["weights"]), np.asarray(multi["weights"])
    assert np.linalg.norm(w_multi - w_single) / np.linalg.norm(w_single) < 1e-3
    np.testing.assert_allclose(multi["proba"], single["proba"], atol=1e-3)


@pytest.mark.slow
def test_multi_worker_two_processes_chief_writes_the_predictor(tiny_bert, tmp_path):
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    procs, logs = [], []
    for index in range(2):
        env = _env()
        env["TF_CONFIG"] = json.dumps(dist.tf_config(workers, index))
        logs.append(tmp_path / f"worker-{index}.log")
        procs.append(
            subprocess.Popen(
                [sys.executable, str(JOB), "worker", str(tiny_bert), str(tmp_path)],
                env=env,
                stdout=open(logs[-1], "w"),  # noqa: SIM115 - closed when the process ends
                stderr=subprocess.STDOUT,
            )
        )
    try:
        # meanwhile, the same recipe on one device in this process, as the reference
        t, trn, val = job._data(str(tiny_bert), n_train=job.WORKER_TRAIN, n_val=job.WORKER_VAL)
        reference = job.worker_recipe(
            easytx.get_learner(
                t.get_classifier(seed=0, **job.NO_DROPOUT), trn, val, batch_size=job.BATCH, seed=0
            ),
            tmp_path / "ckpt-reference",
        )
        codes = [proc.wait(timeout=JOB_TIMEOUT) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert codes == [0, 0], "\n\n".join(_tail(log) for log in logs)

    results = [json.loads((tmp_path / f"worker-{i}.json").read_text()) for i in range(2)]
    assert [r["chief"] for r in results] == [True, False]
    for r in results:
        assert r["replicas"] == 2
        assert r["steps"] == r["expected_steps"]  # each step consumed one global batch
        assert r["validated"] == job.WORKER_VAL
        # per-batch logs are the synchronised global values (not summed over the workers)
        assert r["batch_losses"][-1] == pytest.approx(r["epoch_losses"][-1], rel=1e-6)
    for key in ("epoch_losses", "batch_losses", "lr_find"):
        assert results[0][key] == pytest.approx(results[1][key], rel=1e-6), key  # all-reduced
    # two workers with a global batch of 16 (8 each) train as one device with batch 16: the
    # worker 0 head (seed 0) is broadcast, data order is seed 0, no dropout. Measured in a probe
    # run: the same epoch loss to all 16 printed digits; stated tolerance 1e-4.
    for key in ("epoch_losses", "batch_losses", "lr_find"):
        np.testing.assert_allclose(results[0][key], reference[key], rtol=1e-4, err_msg=key)
    # the workers built different heads (seed=index); the copy into the scope synchronised them
    assert results[0]["start_weights"] == results[1]["start_weights"]
    np.testing.assert_allclose(results[0]["end_weights"], results[1]["end_weights"], rtol=1e-6)
    assert results[0]["predictions"] == results[1]["predictions"]  # one model on both workers

    # written once, by the chief; nothing from worker 1
    assert (tmp_path / "predictor-w0" / "easytx.json").is_file()
    predictor = easytx.load_predictor(tmp_path / "predictor-w0")  # loads on one machine
    # the checkpoint's weights file is named by the backend the workers trained on (the same here)
    assert (tmp_path / "ckpt-w0" / weights_file_name(predictor.model, "weights-02")).is_file()
    assert not (tmp_path / "predictor-w1").exists() and not (tmp_path / "ckpt-w1").exists()
    assert predictor.predict(results[0]["texts"]) == results[0]["predictions"]


def test_keras3_says_when_it_turns_jit_compile_off(tiny_bert, caplog):
    # with TF op determinism on (conftest), Keras 3 compiles without XLA; the Learner says so
    t, trn, _ = _data(tiny_bert, n=32, maxlen=8)
    with caplog.at_level("WARNING", logger="easytx.learner"):
        learner = easytx.get_learner(
            t.get_classifier(seed=0, backend="keras3"), train_data=trn, jit_compile=True
        )
    assert learner.model.jit_compile is False
    assert "turned off by Keras" in caplog.text
