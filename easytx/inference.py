"""Forward passes in batches: sort by length, pad each batch to its own length, restore order.

Shared by :class:`~easytx.Learner` (validation, top losses) and :class:`~easytx.Predictor`, and
by both prediction engines: a TensorFlow model runs through a compiled forward function, cached
on the model, that accepts any batch shape without retracing (its input signature has unknown
dimensions); a model with a ``numpy_forward`` method (the ONNX engine's
:class:`~easytx.onnx_engine.OnnxModel`) is called on the same batches. Importing this module
imports no TensorFlow.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from ._keras import logits_of
from .bindings import cache_of
from .preprocess import TransformerDataset

__all__ = ["forward_fn", "numpy_forward", "predict_logits"]

_ONE = np.zeros(1, dtype=np.int64)


def _graph_errors() -> tuple:
    import tensorflow as tf

    return (tf.errors.OperatorNotAllowedInGraphError, TypeError, ValueError, NotImplementedError)


def forward_fn(model: Any, input_names: list[str]) -> Any:
    """A ``tf.function`` returning the model's logits, cached on the model per input set.

    It is traced once, at creation, for any batch shape (unknown dimensions in its signature), and
    without AutoGraph: Hugging Face TF models branch only on Python values, and skipping
    AutoGraph's source conversion makes the trace (the first prediction after loading) several
    times faster. A model that needs AutoGraph gets it (the trace is retried with it).
    """
    import tensorflow as tf

    cache = cache_of(model).setdefault("forward", {})
    key = tuple(input_names)
    if key not in cache:
        signature = [{name: tf.TensorSpec((None, None), tf.int32) for name in input_names}]

        model_ref = weakref.ref(model)  # the cache lives in bindings, keyed weakly by the model

        def forward(inputs):
            return logits_of(model_ref()(inputs, training=False))

        try:
            function = tf.function(forward, input_signature=signature, autograph=False)
            function.get_concrete_function()
        except _graph_errors():
            function = tf.function(forward, input_signature=signature)
        cache[key] = function
    return cache[key]


def numpy_forward(model: Any, input_names: list[str]) -> Callable[[dict], np.ndarray]:
    """A function from a padded batch (int32 numpy arrays by input name) to numpy logits.

    The model's own ``numpy_forward`` where it has one (ONNX engine), else the cached
    ``tf.function`` of :func:`forward_fn`.
    """
    own = getattr(model, "numpy_forward", None)
    if own is not None:
        return own
    forward = forward_fn(model, input_names)
    return lambda inputs: forward(inputs).numpy()


def predict_logits(
    model: Any, dataset: TransformerDataset, *, batch_size: int = 64, progress: bool = False
) -> np.ndarray:
    """Logits for every row of ``dataset``, in the dataset's order."""
    forward = numpy_forward(model, dataset.input_names)
    if len(dataset) == 1:  # fast path for one text (a server's request): no batching machinery
        return np.asarray(forward(dataset.pad(_ONE)), dtype=np.float32)
    batches = dataset.batch_indices(batch_size, shuffle=False, bucket=True)
    outputs: list[np.ndarray] = []
    if progress:  # tqdm is imported only to show a bar: the ONNX engine's apps may lack it
        from tqdm.auto import tqdm

        batches_shown: Any = tqdm(batches, desc="predicting", unit="batch")
    else:
        batches_shown = batches
    for index in batches_shown:
        outputs.append(forward(dataset.pad(index)))
    if not outputs:
        return np.zeros((0,), dtype=np.float32)
    order = np.concatenate(batches)
    stacked_shape = (len(dataset), *outputs[0].shape[1:])
    if outputs[0].ndim == 3:  # token-level outputs: pad the sequence axis
        width = max(o.shape[1] for o in outputs)
        stacked_shape = (len(dataset), width, outputs[0].shape[2])
        result = np.zeros(stacked_shape, dtype=np.float32)
        for index, out in zip(batches, outputs):
            result[index, : out.shape[1]] = out
        return result
    result = np.empty(stacked_shape, dtype=np.float32)
    result[order] = np.concatenate(outputs)
    return result
