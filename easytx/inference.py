"""Forward passes in batches: sort by length, pad each batch to its own length, restore order.

Shared by :class:`~easytx.Learner` (validation, top losses) and :class:`~easytx.Predictor`, and
by both prediction engines: a TensorFlow model runs through a compiled forward function, cached
on the model, that accepts any batch shape without retracing (its input signature has unknown
dimensions); a model with a ``numpy_forward`` method (the ONNX engine's
:class:`~easytx.onnx_engine.OnnxModel`) is called on the same batches. Importing this module
imports no TensorFlow.

The same path gives embeddings (:func:`predict_embeddings`): the forward function then returns
the backbone's last hidden state pooled over each text's tokens (``output="mean"`` or ``"cls"``,
see :data:`POOLINGS`) instead of the head's logits.

Texts longer than ``maxlen`` may arrive as sliding windows, one row each (a dataset with a
``text_index``); :func:`merge_windows` turns the rows' answers into one per text (see
:mod:`easytx.windows` and ``docs/long-texts.md``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from ._keras import logits_of
from .bindings import cache_of
from .errors import ConfigError
from .preprocess import TransformerDataset

__all__ = [
    "POOLINGS",
    "check_pooling",
    "forward_fn",
    "merge_windows",
    "numpy_forward",
    "predict_embeddings",
    "predict_logits",
]

#: how a text's token vectors become one vector: ``"mean"`` averages the last hidden state over
#: the text's tokens (padding excluded, special tokens included, as sentence-transformers does);
#: ``"cls"`` takes the first token's vector ([CLS] / <s>)
POOLINGS = ("mean", "cls")

_ONE = np.zeros(1, dtype=np.int64)


def _graph_errors() -> tuple:
    import tensorflow as tf

    return (tf.errors.OperatorNotAllowedInGraphError, TypeError, ValueError, NotImplementedError)


def check_pooling(pooling: Any) -> str:
    """``pooling`` if it is one of :data:`POOLINGS`, else a :class:`ConfigError` naming them."""
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ConfigError(
            f"`pooling` must be one of {list(POOLINGS)}. Received: pooling={pooling!r}. 'mean' averages "
            "the token vectors of each text (padding excluded); 'cls' takes its first token's vector."
        )
    return pooling


def _pooled(model: Any, inputs: dict, pooling: str) -> Any:
    """The backbone's last hidden state for ``inputs``, pooled per row, as float32 ``[batch, hidden]``."""
    import tensorflow as tf

    from .backend import last_hidden_state

    hidden = tf.cast(last_hidden_state(model, inputs, training=False), tf.float32)
    if pooling == "cls":
        return hidden[:, 0, :]
    mask = tf.cast(inputs["attention_mask"], tf.float32)[:, :, None]
    total = tf.reduce_sum(hidden * mask, axis=1)
    return total / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def forward_fn(model: Any, input_names: list[str], output: str = "logits") -> Any:
    """A ``tf.function`` returning the model's logits, cached on the model per input set.

    With ``output="mean"`` or ``"cls"`` it returns the backbone's last hidden state pooled per
    row (float32 ``[batch, hidden]``) instead: see :data:`POOLINGS`.

    It is traced once, at creation, for any batch shape (unknown dimensions in its signature), and
    without AutoGraph: Hugging Face TF models branch only on Python values, and skipping
    AutoGraph's source conversion makes the trace (the first prediction after loading) several
    times faster. A model that needs AutoGraph gets it (the trace is retried with it).
    """
    import tensorflow as tf

    if output != "logits":
        check_pooling(output)
    cache = cache_of(model).setdefault("forward", {})
    key = (output, *input_names)
    if key not in cache:
        signature = [{name: tf.TensorSpec((None, None), tf.int32) for name in input_names}]

        model_ref = weakref.ref(model)  # the cache lives in bindings, keyed weakly by the model

        def forward(inputs):
            if output != "logits":
                return _pooled(model_ref(), inputs, output)
            return logits_of(model_ref()(inputs, training=False))

        try:
            function = tf.function(forward, input_signature=signature, autograph=False)
            function.get_concrete_function()
        except _graph_errors():
            function = tf.function(forward, input_signature=signature)
        cache[key] = function
    return cache[key]


def numpy_forward(model: Any, input_names: list[str], output: str = "logits") -> Callable[[dict], np.ndarray]:
    """A function from a padded batch (int32 numpy arrays by input name) to numpy logits (or
    pooled embeddings, see :func:`forward_fn`'s ``output``).

    The model's own ``numpy_forward`` where it has one (ONNX engine), else the cached
    ``tf.function`` of :func:`forward_fn`.

    Raises
    ------
    ConfigError
        Embeddings asked of an ONNX engine: its graph outputs the logits only.
    """
    own = getattr(model, "numpy_forward", None)
    if own is not None:
        if output != "logits":
            raise ConfigError(
                f"Embeddings need the model's hidden states, but this predictor runs on the "
                f"{getattr(model, 'easytx_engine', 'onnx')!r} engine, whose ONNX graph outputs the "
                "logits only. Load the folder with easytx.load_predictor(folder, engine='tf') to "
                "call embed()."
            )
        return own
    forward = forward_fn(model, input_names, output)
    return lambda inputs: forward(inputs).numpy()


def predict_logits(
    model: Any,
    dataset: TransformerDataset,
    *,
    batch_size: int = 64,
    progress: bool = False,
    output: str = "logits",
) -> np.ndarray:
    """Logits for every row of ``dataset``, in the dataset's order.

    ``output="mean"`` or ``"cls"`` gives pooled embeddings instead (see :func:`predict_embeddings`).
    """
    forward = numpy_forward(model, dataset.input_names, output)
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


def merge_windows(task: Any, proba: np.ndarray, dataset: TransformerDataset, *, how: str = "mean") -> tuple:
    """One answer per text from the answers of its windows: ``(proba, dataset)`` per text.

    ``proba`` holds the task's probabilities for every row of ``dataset`` (in its order). A
    dataset without windows (no ``text_index``) is returned as it is. Otherwise row-level
    answers (classification, multi-label, regression) are pooled by the task
    (:meth:`easytx.tasks.Task.pool_windows`, ``how`` = ``"mean"`` or ``"max"``), with the
    dataset's first window of each text (its labels are the texts'); token-level answers take
    each token from the window where it has the most context
    (:meth:`easytx.tagger.TaggedDataset.merge_token_windows`), with the dataset of whole texts.
    """
    from .windows import check_window_pooling

    check_window_pooling(how)
    if getattr(dataset, "text_index", None) is None:
        return proba, dataset
    if np.ndim(proba) == 3:
        return dataset.merge_token_windows(proba)
    pooled = task.pool_windows(proba, dataset.text_index, dataset.n_texts, how)
    return pooled, dataset.per_text()


def predict_embeddings(
    model: Any,
    dataset: TransformerDataset,
    *,
    pooling: str = "mean",
    normalize: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """One float32 vector per row of ``dataset``, in its order: shape ``(n, hidden)``.

    The rows run through :func:`predict_logits`'s batches (sorted by length, each padded to its
    own longest row, order restored) with the backbone's last hidden state pooled per row
    (``pooling``, see :data:`POOLINGS`) in place of the head's logits. ``normalize=True`` scales
    each vector to unit L2 norm (dot products are then cosine similarities).
    """
    check_pooling(pooling)
    if not isinstance(normalize, bool):
        raise ConfigError(f"`normalize` must be True or False. Received: normalize={normalize!r}")
    vectors = predict_logits(model, dataset, batch_size=batch_size, progress=progress, output=pooling)
    if len(dataset) == 0:
        from .backend import hidden_size

        return np.zeros((0, hidden_size(model)), dtype=np.float32)
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, np.finfo(np.float32).tiny)
    return np.ascontiguousarray(vectors, dtype=np.float32)
