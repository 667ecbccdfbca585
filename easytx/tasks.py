"""One small object per task: head, loss, metrics, turning logits into answers, and the report.

The :class:`~easytx.Learner` and :class:`~easytx.Predictor` never branch on the task; they ask the
task object. A new task is a new class here plus its label encoder in :mod:`easytx.labels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _env  # noqa: F401
from .errors import ArtifactError

__all__ = ["Task", "Classification", "task_from_name"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (rows sum to 1 to within 1e-12)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Task:
    """Interface every task implements."""

    #: name stored in ``easytx.json``
    name = "task"
    #: backend head (see :data:`easytx.backend.HEADS`)
    head = "sequence_classification"
    #: metric watched by early stopping and checkpoints when there is validation data
    monitor = "val_loss"

    def loss(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def metrics(self) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def probabilities(self, logits: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:  # pragma: no cover
        raise NotImplementedError

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, Any]:
        raise NotImplementedError  # pragma: no cover - interface


class Classification(Task):
    """Single-label classification: softmax over ``k`` classes, cross-entropy, accuracy."""

    name = "classification"
    head = "sequence_classification"
    monitor = "val_accuracy"

    def loss(self) -> Any:
        import tf_keras

        return tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def metrics(self) -> list:
        import tf_keras

        return [tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits)

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:
        return labels.inverse_transform(np.asarray(proba).argmax(axis=-1))

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
        proba = softmax(logits)
        picked = proba[np.arange(len(y)), np.asarray(y, dtype=int)]
        return -np.log(np.clip(picked, 1e-12, 1.0))

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, np.ndarray]:
        from sklearn.metrics import classification_report, confusion_matrix

        pred = np.asarray(proba).argmax(axis=-1)
        k = len(labels.classes_)
        names = [str(c) for c in labels.classes_]
        text = classification_report(
            y, pred, labels=list(range(k)), target_names=names, digits=4, zero_division=0
        )
        return text, confusion_matrix(y, pred, labels=list(range(k)))

    def scores(self, y: np.ndarray, proba: np.ndarray) -> dict:
        """Headline metrics stored with a saved predictor."""
        from sklearn.metrics import accuracy_score, f1_score

        pred = np.asarray(proba).argmax(axis=-1)
        return {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        }


_TASKS = {Classification.name: Classification}


def task_from_name(name: str) -> Task:
    """Return the task object registered under ``name``."""
    try:
        return _TASKS[name]()
    except KeyError:
        raise ArtifactError(
            f"Unknown task {name!r}; known tasks: {sorted(_TASKS)}. The predictor may come from a "
            "newer easytx."
        ) from None


# ---------------------------------------------------------------------------------------- tagging
def _masked_token_loss() -> Any:
    import tensorflow as tf
    import tf_keras

    from .tagging import IGNORE_INDEX

    class MaskedTokenCrossEntropy(tf_keras.losses.Loss):
        """Sparse cross-entropy averaged over the labelled sub-tokens (``y != -100``) of a batch."""

        def __init__(self, name: str = "masked_token_crossentropy", **kwargs: Any):
            kwargs.setdefault("reduction", tf_keras.losses.Reduction.SUM_OVER_BATCH_SIZE)
            super().__init__(name=name, **kwargs)

        def call(self, y_true: Any, y_pred: Any) -> Any:
            y_true = tf.cast(y_true, tf.int32)
            mask = tf.not_equal(y_true, IGNORE_INDEX)
            safe = tf.where(mask, y_true, tf.zeros_like(y_true))
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=y_pred)
            maskf = tf.cast(mask, losses.dtype)
            # SUM_OVER_BATCH_SIZE divides by every position; rescale so the result is the mean
            # over labelled positions only
            scale = tf.cast(tf.size(maskf), losses.dtype) / tf.maximum(tf.reduce_sum(maskf), 1.0)
            return losses * maskf * scale

    return MaskedTokenCrossEntropy()


def _masked_token_accuracy() -> Any:
    import tensorflow as tf
    import tf_keras

    from .tagging import IGNORE_INDEX

    class MaskedTokenAccuracy(tf_keras.metrics.Mean):
        """Accuracy over labelled sub-tokens (each word's first sub-token)."""

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            y_true = tf.cast(y_true, tf.int32)
            mask = tf.cast(tf.not_equal(y_true, IGNORE_INDEX), tf.float32)
            pred = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
            correct = tf.cast(tf.equal(pred, y_true), tf.float32)
            return super().update_state(correct, sample_weight=mask)

    return MaskedTokenAccuracy(name="accuracy")


class TokenClassification(Task):
    """Token classification (NER, chunking, POS): one softmax per word, entity-level scores.

    Labels are per sub-token ids with :data:`easytx.tagging.IGNORE_INDEX` where a sub-token
    carries none (see :class:`easytx.tagger.TaggingTransformer`). ``validate`` reports
    entity-level precision/recall/F1 per type (conlleval rules); plain tagging (scheme ``none``)
    reports per-tag scores.

    ``decode`` returns, per text, a list of entities ``{"text", "type", "start", "end",
    "score"}`` (character offsets into the text), or ``(word, tag)`` pairs with
    ``return_tokens=True`` (always for scheme ``none``).
    """

    name = "token_classification"
    head = "token_classification"
    monitor = "val_loss"
    #: keyword options :meth:`Predictor.predict` passes on to :meth:`decode`
    decode_options = ("return_tokens",)

    def __init__(self) -> None:
        self.preproc = None  # the TaggingTransformer, to re-tokenize texts when decode lacks inputs

    def label_encoder(self, class_names: Any = None, **options: Any) -> Any:
        from .tagging import TagLabels

        return TagLabels(options.get("tag_scheme", "auto"))

    def n_outputs(self, labels: Any) -> int:
        return int(labels.n_outputs)

    def loss(self) -> Any:
        return _masked_token_loss()

    def metrics(self) -> list:
        return [_masked_token_accuracy()]

    def probabilities(self, logits: np.ndarray, labels: Any = None) -> np.ndarray:
        return softmax(logits)

    # ------------------------------------------------------------------ word level
    @staticmethod
    def _word_rows(y: np.ndarray, proba: np.ndarray) -> tuple[list, list]:
        """(true ids, predicted ids) per row at the labelled positions (each word's first piece)."""
        from .tagging import IGNORE_INDEX

        y = np.asarray(y)
        truth, pred = [], []
        for row in range(len(y)):
            width = min(y.shape[1], proba.shape[1])
            positions = np.flatnonzero(y[row, :width] != IGNORE_INDEX)
            truth.append(y[row, positions].tolist())
            pred.append(np.asarray(proba[row, positions]).argmax(axis=-1).tolist())
        return truth, pred

    def truth(self, y: np.ndarray, labels: Any) -> list:
        from .tagging import IGNORE_INDEX

        rows = [[int(v) for v in row if v != IGNORE_INDEX] for row in np.asarray(y)]
        return labels.inverse_transform(rows)

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:
        from .errors import ConfigError
        from .tagging import entities_with_offsets, word_predictions

        unknown = sorted(set(context) - {"texts", "inputs", *self.decode_options})
        if unknown:
            raise ConfigError(f"Unexpected option(s) for token classification: {unknown}.")
        inputs = context.get("inputs")
        if inputs is None or not hasattr(inputs, "word_ids"):
            texts = context.get("texts")
            if texts is None or self.preproc is None:
                raise ConfigError("Decoding tags needs the texts and the tagging preprocessor.")
            inputs = self.preproc.encode_for_prediction(list(texts))
        return_tokens = bool(context.get("return_tokens", False)) or labels.scheme_ == "none"
        out = []
        for row, (words, word_ids) in enumerate(zip(inputs.words, inputs.word_ids)):
            ids, scores, _ = word_predictions(proba[row], word_ids, len(words))
            tags = labels.inverse_transform([ids])[0]  # in the training data's scheme
            if return_tokens:
                out.append(list(zip(words, tags)))
                continue
            iob2 = [labels.classes_[i] for i in ids]
            if inputs.spans is not None:
                text, spans = inputs.raw[row], inputs.spans[row]
            else:  # pre-split words: offsets into the words joined by spaces
                text = " ".join(words)
                ends = np.cumsum([len(w) + 1 for w in words]) - 1
                spans = [(int(e) - len(w), int(e)) for w, e in zip(words, ends)]
            out.append(entities_with_offsets(text, spans, iob2, scores))
        return out

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
        from .tagging import IGNORE_INDEX

        y = np.asarray(y)
        width = min(y.shape[1], logits.shape[1])
        y, logits = y[:, :width], np.asarray(logits)[:, :width]
        mask = y != IGNORE_INDEX
        logp = np.log(np.clip(softmax(logits), 1e-12, 1.0))
        picked = np.take_along_axis(logp, np.where(mask, y, 0)[..., None], axis=-1)[..., 0]
        return -(picked * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)

    # ------------------------------------------------------------------ evaluation
    def _tags(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[list, list]:
        truth, pred = self._word_rows(y, proba)
        names = labels.classes_
        return [[names[i] for i in r] for r in truth], [[names[i] for i in r] for r in pred]

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, dict]:
        from .tagging import entity_report, entity_scores

        true_tags, pred_tags = self._tags(y, proba, labels)
        if labels.scheme_ == "none":
            from sklearn.metrics import classification_report

            flat_t = [t for r in true_tags for t in r]
            flat_p = [t for r in pred_tags for t in r]
            names = list(labels.classes_)
            text = classification_report(flat_t, flat_p, labels=names, digits=4, zero_division=0)
            return text, self.scores(y, proba, labels)
        scores = entity_scores(true_tags, pred_tags)
        return entity_report(scores), scores

    def scores(self, y: np.ndarray, proba: np.ndarray, labels: Any = None) -> dict:
        from .tagging import entity_scores

        true_ids, pred_ids = self._word_rows(y, proba)
        flat_t = np.concatenate([np.asarray(r, dtype=int) for r in true_ids]) if true_ids else np.zeros(0)
        flat_p = np.concatenate([np.asarray(r, dtype=int) for r in pred_ids]) if pred_ids else np.zeros(0)
        out = {"token_accuracy": float((flat_t == flat_p).mean()) if len(flat_t) else 0.0}
        if labels is not None and labels.scheme_ != "none":
            true_tags, pred_tags = self._tags(y, proba, labels)
            micro = entity_scores(true_tags, pred_tags)["micro"]
            out.update(
                {
                    "entity_precision": micro["precision"],
                    "entity_recall": micro["recall"],
                    "entity_f1": micro["f1"],
                }
            )
        return out


_TASKS[TokenClassification.name] = TokenClassification
