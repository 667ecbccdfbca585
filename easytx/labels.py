"""Label encoders: user labels <-> integer ids, with a JSON round trip. No TensorFlow here.

Each encoder follows scikit-learn's contract: the constructor stores options, :meth:`fit` learns the
classes (attributes ending in ``_``) and returns ``self``, :meth:`transform` maps labels to ids,
:meth:`inverse_transform` maps ids back to the user's labels. ``to_dict``/``from_dict`` give the
JSON that a saved predictor stores.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ArtifactError, DataError, NotFittedError

__all__ = ["ClassLabels", "label_encoder_from_dict"]


def _scalar(value: Any) -> Any:
    """numpy scalars -> Python scalars (so labels round-trip through JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _label_kind(values: Sequence) -> str:
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return "bool"
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, numbers.Real) and float(v).is_integer() for v in values):
        return "int"  # 0.0/1.0 floats as read from some files
    kinds = sorted({type(v).__name__ for v in values})
    raise DataError(
        f"Labels must all be ints, all be strings or all be booleans; received a mix of {kinds}. "
        "Convert them to one type (e.g. y.astype(str))."
    )


class ClassLabels:
    """Single-label classes: each text has exactly one of ``k >= 2`` classes.

    Parameters
    ----------
    class_names : list of str, optional
        Names in id order. With string labels, every label must be one of these names (their order
        fixes the ids). With integer labels ``0..k-1``, ``class_names[i]`` names id ``i`` and
        predictions return the names.

    Examples
    --------
    >>> enc = ClassLabels().fit(["pos", "neg", "pos"])
    >>> enc.classes_, enc.transform(["neg", "pos"]).tolist(), enc.inverse_transform([1])
    (['neg', 'pos'], [0, 1], ['pos'])
    """

    kind = "single_label"

    def __init__(self, class_names: Sequence[str] | None = None):
        self.class_names = class_names

    # ------------------------------------------------------------------ fit
    def fit(self, labels: Sequence) -> ClassLabels:
        """Learn the classes from the training labels."""
        values = [_scalar(v) for v in self._flatten_one_hot(labels)]
        if not values:
            raise DataError("No labels to learn classes from (received an empty list).")
        missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise DataError(
                f"Labels have {len(missing)} missing value(s) (None/NaN) at position(s) "
                f"{missing[:10]}. Drop or fill those rows."
            )
        kind = _label_kind(values)
        if kind == "int":
            values = [int(v) for v in values]
        unique = sorted(set(values))
        names = None if self.class_names is None else [str(n) for n in self.class_names]
        if names is not None:
            if len(set(names)) != len(names):
                raise DataError(f"`class_names` has duplicates: {names}.")
            if kind == "str":
                unknown = sorted(set(values) - set(names))
                if unknown:
                    raise DataError(
                        f"Labels {unknown[:5]} are not in class_names={names}. Add them to "
                        "class_names or fix the labels."
                    )
                classes: list = names
            else:
                bad = [v for v in unique if not 0 <= int(v) < len(names)]
                if bad:
                    raise DataError(
                        f"Integer labels must be ids 0..{len(names) - 1} into class_names={names}; "
                        f"received {bad[:5]}."
                    )
                classes = names
        else:
            classes = unique
        if len(classes) < 2:
            raise DataError(
                f"Training labels hold a single class ({classes[0]!r}); a classifier needs at least "
                "two. Check the label column, or add examples of the other classes."
            )
        self.classes_ = list(classes)
        self.label_type_ = "str" if names is not None else kind
        self._ids = self._id_map()
        return self

    def _id_map(self) -> dict:
        ids = {value: i for i, value in enumerate(self.classes_)}
        if self.class_names is not None:  # integer ids into class_names are accepted too
            ids.update({i: i for i in range(len(self.classes_))})
        return ids

    @staticmethod
    def _flatten_one_hot(labels: Sequence) -> list:
        array = labels if isinstance(labels, np.ndarray) else None
        if array is None and len(labels) and isinstance(labels[0], (list, tuple, np.ndarray)):
            try:
                array = np.asarray(labels, dtype=float)
            except ValueError:
                raise DataError(
                    "Labels are lists of unequal length. For multi-label data use "
                    "multilabel=True; for single-label data give one label per text."
                ) from None
        if array is not None and array.ndim == 2:
            rows = array.sum(axis=1)
            if not np.allclose(rows, 1.0) or not np.isin(array, (0, 1)).all():
                raise DataError(
                    "2-D labels must be one-hot rows (a single 1 per row) for single-label "
                    "classification. For several labels per text use a multi-label task."
                )
            return [int(i) for i in array.argmax(axis=1)]
        return list(labels)

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError("These labels are not fitted yet. Call preprocess_train() (or fit()) first.")

    def transform(self, labels: Sequence) -> np.ndarray:
        """Map labels to integer ids; labels never seen in training raise a :class:`DataError`."""
        self._check_fitted()
        values = [_scalar(v) for v in self._flatten_one_hot(labels)]
        ids = np.empty(len(values), dtype=np.int32)
        for i, value in enumerate(values):
            key = value
            if (
                isinstance(value, numbers.Real)
                and not isinstance(value, (bool, np.bool_))
                and float(value).is_integer()
            ):
                key = int(value)
            try:
                ids[i] = self._ids[key]
            except (KeyError, TypeError):
                raise DataError(
                    f"Label {value!r} at position {i} was never seen in training. Known classes: "
                    f"{self.classes_}. Remove those rows or retrain with them."
                ) from None
        return ids

    def inverse_transform(self, ids: Sequence[int]) -> list:
        """Map ids back to class values (names, or the original ints/bools)."""
        self._check_fitted()
        return [self.classes_[int(i)] for i in ids]

    @property
    def n_outputs(self) -> int:
        """Number of model outputs (logits) this encoding needs."""
        self._check_fitted()
        return len(self.classes_)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        self._check_fitted()
        return {
            "kind": self.kind,
            "classes": self.classes_,
            "label_type": self.label_type_,
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ClassLabels:
        enc = cls(class_names=data.get("class_names"))
        enc.classes_ = list(data["classes"])
        enc.label_type_ = data["label_type"]
        enc._ids = enc._id_map()
        return enc


_ENCODERS = {ClassLabels.kind: ClassLabels}


def register_label_encoder(cls: type) -> type:
    """Register a label-encoder class under its ``kind`` so saved predictors can restore it."""
    _ENCODERS[cls.kind] = cls
    return cls


def label_encoder_from_dict(data: dict) -> Any:
    """Rebuild a label encoder from the JSON a saved predictor stores."""
    try:
        cls = _ENCODERS[data["kind"]]
    except (KeyError, TypeError):
        raise ArtifactError(
            f"Unknown label encoding {data!r:.80}; this predictor may come from a newer easytx."
        ) from None
    return cls.from_dict(data)
