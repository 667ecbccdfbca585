"""Custom training steps: gradient accumulation.

:func:`install_accumulation` replaces a model's ``train_step`` with one that adds each
micro-batch's gradients (divided by ``steps``) into accumulators and lets the optimizer update the
weights once every ``steps`` micro-batches. With equal micro-batches and a mean-reduced loss the
update equals the one a single batch ``steps`` times larger would give (dropout aside), at the
memory cost of one micro-batch plus one copy of the gradients.

The :class:`~easytx.Learner` installs it for ``get_learner(..., accumulation_steps=k)``; the
learning-rate schedule still moves every micro-batch, so the rate used by an update is the one
reached at its last micro-batch.
"""

from __future__ import annotations

from typing import Any

from . import _env  # noqa: F401

__all__ = ["install_accumulation"]


def _pick_logits(y_pred: Any) -> Any:
    """The first non-loss output of a Hugging Face model output (the logits)."""
    if hasattr(y_pred, "keys"):
        keys = list(y_pred.keys())
        return y_pred[keys[1]] if keys and keys[0] == "loss" else y_pred[keys[0]]
    return y_pred


def install_accumulation(model: Any, steps: int) -> None:
    """Make ``model.fit`` update the weights every ``steps`` batches with their mean gradient.

    Call after ``model.compile`` (the optimizer must exist). ``steps=1`` restores the model's own
    ``train_step``.
    """
    import tensorflow as tf
    import tf_keras

    model.__dict__.pop("train_step", None)
    model.train_function = None  # re-made with the new step on the next fit
    if steps == 1:
        return
    optimizer = model.optimizer
    variables = model.trainable_variables
    with model.distribute_strategy.scope():
        accumulators = [
            tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False, name=f"accum_{i}")
            for i, v in enumerate(variables)
        ]
        counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="accum_counter")
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
        for acc, grad in zip(accumulators, grads):
            if grad is not None:
                acc.assign_add(tf.cast(tf.convert_to_tensor(grad), tf.float32) / steps)
        counter.assign_add(1)

        def apply() -> Any:
            pairs = [
                (acc.read_value(), var)
                for acc, var, grad in zip(accumulators, variables, grads)
                if grad is not None
            ]
            optimizer.apply_gradients(pairs)
            for acc in accumulators:
                acc.assign(tf.zeros_like(acc))
            return tf.constant(True)

        tf.cond(counter % steps == 0, apply, lambda: tf.constant(False))
        model.compiled_metrics.update_state(y, y_pred, sample_weight)
        results = {}
        for metric in model.metrics:
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[metric.name] = value
        return results

    # bypass Keras' attribute tracking: the accumulators must not become model weights
    model.__dict__["train_step"] = train_step
    model.__dict__["_easytx_accumulation"] = (steps, accumulators, counter)
