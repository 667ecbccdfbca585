import csv
import json
import logging

import numpy as np
import pytest

import easytx
from easytx import backend, text
from easytx import callbacks as cb
from easytx._keras import keras_of, weights_file_name
from easytx.errors import ConfigError, DataTypeError, NotFittedError
from easytx.testing import FAMILIES, TINY_HEAD_LR, keyword_dataset


def _learner(model_dir, data, *, seed=0, batch_size=16, val=True):
    train, test = data
    t = text.Transformer(model_dir, maxlen="auto")
    trn = t.preprocess_train(train)
    vd = t.preprocess_test(test) if val else None
    learner = easytx.get_learner(
        t.get_classifier(seed=seed),
        train_data=trn,
        val_data=vd,
        batch_size=batch_size,
        seed=seed,
        head_lr_multiplier=TINY_HEAD_LR,
    )
    return learner, t


@pytest.mark.integration
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_learns_the_keyword_task(tiny_models, keyword_data, family):
    learner, _ = _learner(tiny_models[family, "pt_safetensors"], keyword_data)
    learner.fit_onecycle(5e-3, 4, verbose=0)
    assert learner.history.history["val_accuracy"][-1] >= 0.85
    assert learner.history.history["loss"][-1] < learner.history.history["loss"][0]


def test_trained_fixture_validates_and_reports(trained, capsys):
    learner, t, _ = trained
    cm = learner.validate(class_names=t.get_classes())
    out = capsys.readouterr().out
    assert "precision" in out and "neg" in out and "pos" in out
    assert cm.shape == (2, 2) and cm.trace() / cm.sum() >= 0.9


def test_view_top_losses_shows_texts(trained, capsys):
    learner, t, test = trained
    rows = learner.view_top_losses(n=3, preproc=t)
    assert len(rows) == 3
    losses = [r[1] for r in rows]
    assert losses == sorted(losses, reverse=True)
    index, _, truth, _, shown = rows[0]
    assert shown == learner.val_data.texts[index]
    assert truth == test.labels[index]
    assert shown in capsys.readouterr().out


@pytest.mark.integration
def test_one_cycle_history_has_per_batch_lr_and_momentum(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    learner.fit_onecycle(1e-3, 2, pct_start=0.25, verbose=0)
    lrs = np.array(learner.batch_history["lr"])
    moms = np.array(learner.batch_history["momentum"])
    assert len(lrs) == 2 * learner.steps_per_epoch
    peak = int(np.argmax(lrs))
    assert 0 < peak < len(lrs) - 1
    assert lrs.max() == pytest.approx(1e-3, rel=0.05)
    assert lrs[0] == pytest.approx(1e-3 / 25, rel=0.01)
    assert int(np.argmin(moms)) == peak
    assert learner.model.optimizer.beta_1.numpy() == pytest.approx(moms[-1], abs=1e-6)


@pytest.mark.integration
def test_lr_find_restores_weights_and_keeps_optimizer(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data)
    learner.fit_onecycle(1e-3, 1, verbose=0)
    before = [w.copy() for w in learner.model.get_weights()]
    optimizer = learner.model.optimizer
    iterations = int(optimizer.iterations.numpy())
    result = learner.lr_find(num_steps=30, verbose=0)
    after = learner.model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert learner.model.optimizer is optimizer
    assert int(optimizer.iterations.numpy()) == iterations
    assert 1e-7 <= result.min_loss <= 10
    assert result.min_div10 == pytest.approx(max(result.min_loss / 10, result.lrs[0]))
    assert 1e-7 <= result.steepest <= 10 and 1e-7 <= result.valley <= 10
    assert len(result.lrs) == len(result.losses) >= 3
    # metrics still work after the sweep
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert "val_accuracy" in learner.history.history


@pytest.mark.integration
def test_lr_plot_returns_a_figure(tiny_bert, small_data, tmp_path):
    pytest.importorskip("matplotlib")
    learner, _ = _learner(tiny_bert, small_data, val=False)
    with pytest.raises(NotFittedError, match="lr_find"):
        learner.lr_plot()
    learner.lr_find(num_steps=20, verbose=0)
    fig = learner.lr_plot()
    assert fig.axes[0].get_xscale() == "log"
    fig.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000


@pytest.mark.integration
def test_training_is_repeatable_under_a_seed(tiny_bert, small_data):
    weights = []
    for _ in range(2):
        learner, _ = _learner(tiny_bert, small_data, seed=7, val=False)
        learner.fit_onecycle(1e-3, 1, verbose=0)
        weights.append(learner.model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.integration
def test_finetune_is_repeatable_under_a_seed(tiny_bert, small_data):
    """The seed also fixes the new head's initial weights: before, finetune built the classifier
    unseeded, and the same call with the same seed ended with other weights in every process
    (measured on all-MiniLM-L6-v2: probabilities 0.01 apart after 20 steps)."""
    import pandas as pd

    train, test = small_data
    frame = pd.DataFrame({"text": list(train.texts)[:64], "label": list(train.labels)[:64]})
    options = {"epochs": 1, "lr": 5e-3, "batch_size": 16, "maxlen": 32, "verbose": 0}
    first = easytx.finetune(frame, tiny_bert, seed=3, **options)
    np.random.default_rng().random(5)  # move the global generators on between the two calls
    second = easytx.finetune(frame, tiny_bert, seed=3, **options)
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    other = easytx.finetune(frame, tiny_bert, seed=4, **options)
    assert not np.allclose(first.predict_proba(list(test.texts)), other.predict_proba(list(test.texts)))


@pytest.mark.integration
def test_autofit_early_stopping_restores_best(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data)
    history = learner.autofit(3e-2, epochs=None, early_stopping=1, reduce_on_plateau=1, verbose=0)
    losses = history.history["val_loss"]
    assert len(losses) < 1024
    np.testing.assert_allclose(
        learner.model.evaluate(learner._val_dataset(), verbose=0)[0], min(losses), rtol=1e-4
    )


def _saboteur(model, steps_per_epoch):
    """A callback of the model's Keras that, once an epoch has validated at accuracy >= 0.9, zeroes
    every weight after the last batch of each later epoch: those epochs validate a model that knows
    nothing (all logits equal, accuracy 0.5), worse than the learned one. ``snapshots`` holds the
    weights each epoch validated."""

    class Saboteur(keras_of(model).callbacks.Callback):
        snapshots: list = []
        armed = False

        def on_train_batch_end(self, batch, logs=None):
            if self.armed and batch == steps_per_epoch - 1:
                self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])

        def on_epoch_end(self, epoch, logs=None):
            self.snapshots.append([w.copy() for w in self.model.get_weights()])
            self.armed = self.armed or (logs or {}).get("val_accuracy", 0.0) >= 0.9

    return Saboteur()


@pytest.mark.integration
@pytest.mark.parametrize("method", ["fit_onecycle", "fit"])
def test_early_stopping_restores_the_best_epoch(tiny_bert, keyword_data, tmp_path, method):
    learner, _ = _learner(tiny_bert, keyword_data)
    saboteur = _saboteur(learner.model, learner.steps_per_epoch)
    folder = tmp_path / "ckpt"
    train = getattr(learner, method)
    history = train(5e-3, 8, early_stopping=2, checkpoint_folder=folder, callbacks=[saboteur], verbose=0)
    accuracy = history.history["val_accuracy"]  # the classifier's declared monitor, "max" is better
    best_epoch = int(np.argmax(accuracy)) + 1
    assert accuracy[best_epoch - 1] >= 0.9 and max(accuracy[best_epoch:]) < 0.9
    assert len(accuracy) == best_epoch + 2 < 8  # stopped after two epochs without improvement
    for restored, kept in zip(learner.model.get_weights(), saboteur.snapshots[best_epoch - 1]):
        np.testing.assert_array_equal(restored, kept)
    np.testing.assert_allclose(
        learner.model.evaluate(learner._val_dataset(), verbose=0)[1], max(accuracy), atol=1e-6
    )
    # the checkpoint records the early stop and the best epoch's weights file
    progress = json.loads((folder / "progress.json").read_text())
    assert progress["epoch"] == len(accuracy)
    assert progress["best_weights"] == weights_file_name(learner.model, f"weights-{best_epoch:02d}")
    stopped = progress["early_stopping"]
    assert stopped["monitor"] == "val_accuracy" and stopped["mode"] == "max"
    assert stopped["best_epoch"] == best_epoch and stopped["stopped_epoch"] == len(accuracy)
    # resuming a run that stopped early trains nothing and ends on the best weights (read from disk)
    learner.model.set_weights([np.zeros_like(w) for w in learner.model.get_weights()])
    steps_before = len(learner.batch_history["lr"])
    train(5e-3, 8, early_stopping=2, checkpoint_folder=folder, resume=True, verbose=0)
    assert len(learner.batch_history["lr"]) == steps_before
    for restored, kept in zip(learner.model.get_weights(), saboteur.snapshots[best_epoch - 1]):
        np.testing.assert_allclose(restored, kept, atol=1e-7)


def test_early_stopping_options_are_checked_before_training(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    with pytest.raises(ConfigError, match="no labelled val_data"):
        learner.fit_onecycle(1e-3, 2, early_stopping=1, verbose=0)
    with pytest.raises(ConfigError, match="no labelled val_data"):
        learner.fit(1e-3, 2, early_stopping=1, verbose=0)
    with pytest.raises(ConfigError, match="early_stopping"):
        learner.fit_onecycle(1e-3, 2, early_stopping=0, verbose=0)
    with pytest.raises(ConfigError, match="reports no metric 'val_f1'"):
        learner.fit_onecycle(1e-3, 2, early_stopping=1, monitor="val_f1", verbose=0)
    assert learner.batch_history == {}  # nothing trained


@pytest.mark.integration
def test_log_dir_writes_the_epoch_history_as_csv(tiny_bert, small_data, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(cb, "tensorboard_available", lambda: False)  # as on a machine without it
    learner, _ = _learner(tiny_bert, small_data)
    with caplog.at_level(logging.INFO, logger="easytx.callbacks"):
        history = learner.fit_onecycle(1e-3, 2, log_dir=tmp_path / "logs", verbose=0).history
    assert "tensorboard is not installed" in caplog.text
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["history.csv"]
    with open(tmp_path / "logs" / "history.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "lr", "seconds", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    steps = learner.steps_per_epoch
    for i, row in enumerate(rows):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(row[key]) == pytest.approx(history[key][i], rel=1e-6)
        # the learning rate of the epoch's last batch (one-cycle: it moves every batch)
        assert float(row["lr"]) == pytest.approx(learner.batch_history["lr"][(i + 1) * steps - 1], rel=1e-6)
        assert float(row["seconds"]) > 0
    # a new call starts the file afresh
    learner.fit(1e-4, 1, log_dir=tmp_path / "logs", verbose=0)
    with open(tmp_path / "logs" / "history.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and float(rows[0]["lr"]) == pytest.approx(1e-4)


@pytest.mark.integration
def test_log_dir_gets_tensorboard_logs_where_tensorboard_is_installed(tiny_bert, small_data, tmp_path):
    pytest.importorskip("tensorboard")  # an optional dependency (tf.summary needs it)
    learner, _ = _learner(tiny_bert, small_data)
    learner.fit_onecycle(1e-3, 1, log_dir=tmp_path / "logs", verbose=0)
    assert (tmp_path / "logs" / "history.csv").is_file()
    for part in ("train", "validation"):
        assert list((tmp_path / "logs" / part).glob("events.out.tfevents.*")), part


def test_autofit_needs_validation_for_open_ended_training(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    with pytest.raises(ConfigError, match="val_data"):
        learner.autofit(1e-3)


@pytest.mark.integration
def test_fit_with_sgdr_cycles(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    learner.fit(1e-3, 2, cycle_len=1, verbose=0)
    lrs = learner.batch_history["lr"]
    n = learner.steps_per_epoch
    assert len(lrs) == 2 * n
    assert lrs[n] == pytest.approx(1e-3) and lrs[n - 1] < 1e-4  # warm restart


def test_freeze_trains_only_the_head(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    learner.freeze()
    embeddings, blocks = backend.base_layers(learner.model)
    body = [*embeddings.weights, *[w for block in blocks for w in block.weights]]
    frozen = [np.array(w.numpy()) for w in body]
    body_ids = {id(w) for w in body}
    head_weights = [w for w in learner.model.trainable_weights if id(w) not in body_ids]
    head = [np.array(w.numpy()) for w in head_weights]
    assert head_weights and len(learner.model.trainable_weights) < len(learner.model.weights)
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(frozen, body))
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(head, head_weights))
    learner.unfreeze()
    assert len(learner.model.trainable_weights) == len(learner.model.weights)


@pytest.mark.integration
def test_checkpoints_class_weight_and_user_callbacks(tiny_bert, small_data, tmp_path):
    seen = []
    learner, _ = _learner(tiny_bert, small_data)

    # a user's callback of the model's Keras works as-is (tf_keras for the legacy backend, keras 3
    # for the Keras 3 one; under EASYTX_BACKEND=transformers tf.keras is the former)
    class Count(keras_of(learner.model).callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    learner.fit_onecycle(
        1e-3, 2, checkpoint_folder=tmp_path / "ckpt", class_weight="balanced", callbacks=[Count()], verbose=0
    )
    assert seen == [0, 1]
    progress = json.loads((tmp_path / "ckpt" / "progress.json").read_text())
    assert progress["epoch"] == 2 and progress["schedule_step"] == 2 * learner.steps_per_epoch
    assert progress["weights"] == weights_file_name(learner.model, "weights-02")
    assert (tmp_path / "ckpt" / weights_file_name(learner.model, "weights-01")).is_file()
    learner.model.load_weights(str(tmp_path / "ckpt" / progress["weights"]))


def test_weight_decay_skips_layernorm_and_bias(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    opt = learner.model.optimizer
    learner.fit_onecycle(1e-3, 1, verbose=0)
    decayed = {v.name for v in learner.model.trainable_weights if opt._use_weight_decay(v)}
    assert decayed and not any("LayerNorm" in n or "bias" in n for n in decayed)


def test_learner_errors(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)
    for lr in (0, -1e-3, float("nan"), "fast"):
        with pytest.raises(ConfigError, match="lr"):
            learner.fit_onecycle(lr, 1)
    with pytest.raises(ConfigError, match="epochs"):
        learner.fit_onecycle(1e-3, 0, verbose=0)
    with pytest.raises(ConfigError, match="validation"):
        learner.validate()
    with pytest.raises(DataTypeError, match="callbacks of the model.s Keras"):
        learner.fit_onecycle(1e-3, 1, callbacks=[object()], verbose=0)
    with pytest.raises(ConfigError, match="batch_size"):
        easytx.get_learner(learner.model, train_data=learner.train_data, batch_size=0)
    with pytest.raises(DataTypeError, match="preprocess_train"):
        easytx.get_learner(learner.model, train_data=[("a", 1)])


def test_interrupt_keeps_weights(tiny_bert, small_data):
    learner, _ = _learner(tiny_bert, small_data, val=False)

    class Interrupt(keras_of(learner.model).callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                raise KeyboardInterrupt

    before = [w.copy() for w in learner.model.get_weights()]
    learner.fit_onecycle(1e-3, 2, callbacks=[Interrupt()], verbose=0)
    assert len(learner.batch_history["lr"]) == 4
    assert not all(np.array_equal(a, b) for a, b in zip(before, learner.model.get_weights()))


def test_three_classes_int_labels_with_class_names(tiny_bert):
    x, y = keyword_dataset(300, seed=9, classes=(0, 1, 2))
    t = text.Transformer(tiny_bert, class_names=["neg", "pos", "neutral"])
    t.preprocess_train(x, y)
    model = t.get_classifier()
    assert model.config.num_labels == 3
    assert t.get_classes() == ["neg", "pos", "neutral"]
    predictor = easytx.get_predictor(model, t)
    assert set(predictor.predict(x[:6])) <= {"neg", "pos", "neutral"}
    assert predictor.predict_proba(x[:6]).shape == (6, 3)


@pytest.mark.parametrize("multiplier", [0.5, 4.0])
def test_head_lr_multiplier_scales_the_heads_steps_only(tiny_bert, small_data, multiplier):
    # The compiled optimizer's step for the same weights and gradients, without weight decay:
    # the same for every variable but the head's, which moves `multiplier` times as far (steps of
    # 1e-5; atol: a few float32 roundings of the weights)
    train, _ = small_data
    t = text.Transformer(tiny_bert, maxlen="auto")
    trn = t.preprocess_train(train)
    rng = np.random.default_rng(0)
    moved = []
    for m in (1.0, multiplier):
        learner = easytx.get_learner(
            t.get_classifier(seed=0), trn, seed=0, weight_decay=0.0, head_lr_multiplier=m
        )
        variables = learner.model.trainable_variables
        head = {id(v) for v in backend.head_variables(learner.model)}
        assert head and len(head) < len(variables)
        if not moved:
            grads = [rng.normal(size=tuple(v.shape)).astype("float32") for v in variables]
        before = [v.numpy() for v in variables]
        for _ in range(2):  # the second step uses Adam's moments
            learner.model.optimizer.apply_gradients(zip(grads, variables))
        moved.append([(id(v) in head, v.numpy() - b) for v, b in zip(variables, before)])
    for (is_head, base), (_, scaled) in zip(*moved):
        np.testing.assert_allclose(scaled, base * multiplier if is_head else base, rtol=0, atol=1e-8)
    assert all(np.abs(base).max() > 0 for _, base in moved[0])


def test_head_lr_multiplier_defaults_to_the_tasks(tiny_bert, small_data):
    from easytx.testing import multilabel_dataset

    train, _ = small_data
    t = text.Transformer(tiny_bert, maxlen="auto")
    trn = t.preprocess_train(train)
    assert easytx.get_learner(t.get_classifier(seed=0), trn).head_lr_multiplier == 1.0
    x, y = multilabel_dataset(40)
    m = text.Transformer(tiny_bert, maxlen=24)
    mtrn = m.preprocess_train(x, y)
    multilabel = easytx.get_learner(m.get_classifier(seed=0), mtrn)
    assert multilabel.head_lr_multiplier == 30.0
    assert multilabel.model.optimizer.head_multiplier == 30.0  # what the optimizer applies
    chosen = easytx.get_learner(m.get_classifier(seed=0), mtrn, head_lr_multiplier=2)
    assert chosen.head_lr_multiplier == 2.0 and chosen.model.optimizer.head_multiplier == 2.0


def test_head_lr_multiplier_is_checked(tiny_bert, small_data):
    train, _ = small_data
    t = text.Transformer(tiny_bert, maxlen="auto")
    trn = t.preprocess_train(train)
    for bad in (0, -1.0, float("nan"), "10", True):
        with pytest.raises(ConfigError, match="head_lr_multiplier.*Received"):
            easytx.get_learner(t.get_classifier(seed=0), trn, head_lr_multiplier=bad)


def test_keras3_adam_step_is_one_fused_kernel_with_keras_results(tiny_bert, small_data):
    # easytx's Keras 3 AdamW runs each variable's Adam step as TensorFlow's fused ApplyAdam: the
    # weights after three steps (a moving beta_1, weight decay, a scaled head) equal those of
    # Keras' own AdamW from the same weights and gradients, and the traced step holds the kernel
    import keras
    import tensorflow as tf

    train, _ = small_data
    t = text.Transformer(tiny_bert, maxlen="auto")
    trn = t.preprocess_train(train)
    learner = easytx.get_learner(t.get_classifier(seed=0, backend="keras3"), trn, seed=0, weight_decay=0.01)
    fused = learner.model.optimizer
    variables = learner.model.trainable_variables
    twins = [keras.Variable(v.numpy(), name=f"twin_{i}") for i, v in enumerate(variables)]
    reference = keras.optimizers.AdamW(
        learning_rate=1e-3, weight_decay=0.01, beta_1=tf.Variable(0.9, trainable=False), epsilon=1e-7
    )
    no_decay = {id(v) for v in backend.no_decay_variables(learner.model)}
    assert 0 < len(no_decay) < len(variables)
    reference.exclude_from_weight_decay(var_list=[w for v, w in zip(variables, twins) if id(v) in no_decay])
    reference.build(twins)
    fused.learning_rate = 1e-3
    rng = np.random.default_rng(0)
    for beta_1 in (0.95, 0.9, 0.85):  # one-cycle moves beta_1 every batch
        fused.beta_1.assign(beta_1)
        reference.beta_1.assign(beta_1)
        grads = [rng.normal(size=tuple(v.shape)).astype("float32") for v in variables]
        fused.apply_gradients(zip(grads, variables))
        reference.apply_gradients(zip(grads, twins))
    for v, twin in zip(variables, twins):
        np.testing.assert_allclose(v.numpy(), twin.numpy(), rtol=0, atol=1e-6)

    @tf.function
    def step(grads):
        fused.apply(grads, variables)

    graph = step.get_concrete_function([tf.zeros(v.shape) for v in variables]).graph
    kernels = [op for op in graph.get_operations() if op.type == "ResourceApplyAdam"]
    assert len(kernels) == len(variables)
