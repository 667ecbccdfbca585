"""Training steps: gradient accumulation, traced without AutoGraph.

The accumulating step is traced without AutoGraph's source conversion (Hugging Face TF models
branch only on Python values, and skipping the conversion makes the trace several times faster);
should a model need AutoGraph, the step falls back to it. With ``accumulation_steps=1`` the
model's own ``train_step`` is left as it is.

With ``accumulation_steps=k``, the installed ``train_step`` adds each
micro-batch's gradients (divided by ``steps``) into accumulators and lets the optimizer update the
weights once every ``steps`` micro-batches. With equal micro-batches and a mean-reduced loss the
update equals the one a single batch ``steps`` times larger would give (dropout aside), at the
memory cost of one micro-batch plus one copy of the gradients.

The :class:`~easytx.Learner` installs it for ``get_learner(..., accumulation_steps=k)``; the
learning-rate schedule still moves every micro-batch, so the rate used by an update is the one
reached at its last micro-batch.
"""

from __future__ import annotations

import logging
from typing import Any

from . import _env  # noqa: F401
from .bindings import cache_of

__all__ = ["install_train_step"]

logger = logging.getLogger(__name__)


def _graph_errors() -> tuple:
    import tensorflow as tf

    return (tf.errors.OperatorNotAllowedInGraphError, NotImplementedError)


def _without_autograph(step: Any, what: str) -> Any:
    """``step`` traced without AutoGraph; with it if that fails (checked at the first trace)."""
    import tensorflow as tf

    plain = tf.autograph.experimental.do_not_convert(step)
    state = {"plain": True}

    def run(data):
        if state["plain"]:
            try:
                return plain(data)
            except _graph_errors() as exc:
                state["plain"] = False
                logger.info("The %s needs AutoGraph (%s); tracing it with AutoGraph.", what, exc)
        return step(data)

    return run


def _pick_logits(y_pred: Any) -> Any:
    """The first non-loss output of a Hugging Face model output (the logits)."""
    if hasattr(y_pred, "keys"):
        keys = list(y_pred.keys())
        return y_pred[keys[1]] if keys and keys[0] == "loss" else y_pred[keys[0]]
    return y_pred


def install_train_step(model: Any, accumulation_steps: int = 1) -> None:
    """Install the training step on ``model`` (after ``model.compile``).

    With ``accumulation_steps > 1``, ``model.fit`` updates the weights every
    ``accumulation_steps`` batches with their mean gradient; with 1, the model's own
    ``train_step`` is restored.
    """
    from ._keras import is_keras3_model

    model.__dict__.pop("train_step", None)
    model.train_function = None  # re-made with the new step
    if accumulation_steps == 1:
        # The model's own steps, traced by Keras with AutoGraph: tracing the same step without
        # AutoGraph is faster but builds a different graph, which changes the seeds of its dropout
        # ops and so the random draws of a seeded run. Kept as it was for repeatability.
        return
    # Keras 3 optimizers can accumulate gradients themselves (``gradient_accumulation_steps``), but
    # they count every micro-batch as an iteration, so Adam's bias correction (and ``iterations``)
    # would differ from one batch ``accumulation_steps`` times larger: both Kerases use this step.
    if is_keras3_model(model):
        step = _keras3_accumulating_step(model, accumulation_steps)
    else:
        step = _accumulating_step(model, accumulation_steps)
    # bypass Keras' attribute tracking (nothing here is a layer or a weight)
    model.__dict__["train_step"] = _without_autograph(step, "training step")


def _accumulators(model: Any, variables: list, steps: int) -> tuple[list, Any]:
    """Float32 gradient accumulators for ``variables`` and a micro-batch counter, kept on ``model``."""
    import tensorflow as tf

    with model.distribute_strategy.scope():
        accumulators = [
            tf.Variable(tf.zeros(tuple(v.shape), tf.float32), trainable=False, name=f"accum_{i}")
            for i, v in enumerate(variables)
        ]
        counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="accum_counter")
    # kept beside the model, not on it: the accumulators must not become model weights
    cache_of(model)["accumulation"] = (steps, accumulators, counter)
    return accumulators, counter


def _accumulate(
    optimizer: Any, variables: list, grads: list, accumulators: list, counter: Any, steps: int
) -> None:
    """Add ``grads / steps`` to the accumulators; every ``steps``-th call apply them and reset."""
    import tensorflow as tf

    for acc, grad in zip(accumulators, grads):
        if grad is not None:
            acc.assign_add(tf.cast(tf.convert_to_tensor(grad), tf.float32) / steps)
    counter.assign_add(1)

    def apply() -> Any:
        pairs = [
            (tf.cast(acc.read_value(), var.dtype), var)  # float32 variables: the cast is the identity
            for acc, var, grad in zip(accumulators, variables, grads)
            if grad is not None
        ]
        optimizer.apply_gradients(pairs)
        for acc in accumulators:
            acc.assign(tf.zeros_like(acc))
        return tf.constant(True)

    tf.cond(counter % steps == 0, apply, lambda: tf.constant(False))


def _keras3_accumulating_step(model: Any, steps: int) -> Any:
    """A Keras 3 ``train_step`` that applies the mean gradient of ``steps`` batches."""
    import keras
    import tensorflow as tf

    optimizer = model.optimizer
    variables = model.trainable_variables
    accumulators, counter = _accumulators(model, variables, steps)

    def train_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            batch = tf.shape(next(t for t in tf.nest.flatten(x) if t is not None))[0]
            model._loss_tracker.update_state(loss, sample_weight=batch)
            target = optimizer.scale_loss(loss)  # a LossScaleOptimizer unscales in apply_gradients
        grads = tape.gradient(target, variables)
        _accumulate(optimizer, variables, grads, accumulators, counter, steps)
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    return train_step


def _accumulating_step(model: Any, steps: int) -> Any:
    """A ``train_step`` that applies the mean gradient of ``steps`` batches."""
    import tensorflow as tf
    import tf_keras

    optimizer = model.optimizer
    variables = model.trainable_variables
    accumulators, counter = _accumulators(model, variables, steps)
    scaled = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

    def train_step(data):
        x, y, sample_weight = tf_keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = _pick_logits(model(x, training=True))
            loss = model.compiled_loss(y, y_pred, sample_weight, regularization_losses=model.losses)
            target = optimizer.get_scaled_loss(loss) if scaled else loss
        grads = tape.gradient(target, variables)
        if scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        _accumulate(optimizer, variables, grads, accumulators, counter, steps)
        model.compiled_metrics.update_state(y, y_pred, sample_weight)
        results = {}
        for metric in model.metrics:
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[metric.name] = value
        return results

    return train_step
