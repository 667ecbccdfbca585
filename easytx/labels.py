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

__all__ = ["ClassLabels", "MultiLabels", "RegressionTargets", "infer_task", "label_encoder_from_dict"]


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
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        example = next(v for v in values if not float(v).is_integer())
        raise DataError(
            f"Labels look continuous (e.g. {example!r}), which a classifier cannot take. For "
            "regression pass task='regression' to the Transformer; for classes use ints or strings."
        )
    if any(isinstance(v, (list, tuple, set, np.ndarray)) for v in values):
        raise DataError(
            "Some labels are lists (several labels per text) and others are not. For multi-label "
            "data give a list per text (an empty list for none) and pass multilabel=True."
        )
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
            except (ValueError, TypeError):
                raise DataError(
                    f"Labels are lists (e.g. {list(labels[0])!r:.60}), but single-label "
                    "classification takes one label per text. For several labels per text pass "
                    "multilabel=True (or task='multilabel') to the Transformer."
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


def _is_list_like(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, np.ndarray))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def infer_task(labels: Sequence) -> str:
    """Name of the task that unambiguous ``labels`` imply: ``"multilabel"`` or ``"classification"``.

    Lists of label names per text, and 0/1 rows where some row holds zero or several ones, are
    multi-label. Everything else is single-label classification (one-hot rows included); float
    targets are never taken for regression without ``task="regression"``.

    Examples
    --------
    >>> infer_task([["joy", "surprise"], []]), infer_task(["pos", "neg"])
    ('multilabel', 'classification')
    >>> infer_task(np.array([[1, 0, 1], [0, 0, 0]]))
    'multilabel'
    """
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        rows = labels
    elif len(labels) and all(_is_list_like(v) for v in labels):
        flat = [x for v in labels for x in v]
        if any(isinstance(x, str) for x in flat) or any(len(v) != len(labels[0]) for v in labels):
            return "multilabel"
        try:
            rows = np.asarray([list(v) for v in labels], dtype=float)
        except (TypeError, ValueError):
            return "multilabel"
        if rows.ndim != 2:
            return "multilabel"
    else:
        return "classification"
    try:
        rows = np.asarray(rows, dtype=float)
    except (TypeError, ValueError):
        return "classification"
    if np.isin(rows, (0.0, 1.0)).all() and not np.allclose(rows.sum(axis=1), 1.0):
        return "multilabel"
    return "classification"


class MultiLabels:
    """Multi-label classes: each text has any number (zero included) of ``k >= 1`` labels.

    ``transform`` returns float32 multi-hot rows of shape ``(n, k)``; ``inverse_transform`` turns
    rows of 0/1 (or booleans) back into lists of label names.

    Parameters
    ----------
    class_names : list of str, optional
        Label names in column order. Required to name the columns of multi-hot rows (otherwise the
        columns are named by their index); with name lists it fixes the order.
    separator : str, optional
        Splits string labels such as ``"joy;surprise"``. Default: ``";"`` when any label string
        contains one, else ``","``.

    Examples
    --------
    >>> enc = MultiLabels().fit([["joy", "surprise"], [], ["anger"]])
    >>> enc.classes_, enc.transform([["surprise"], []]).tolist()
    (['anger', 'joy', 'surprise'], [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    >>> enc.inverse_transform([[1, 0, 1]])
    [['anger', 'surprise']]
    >>> MultiLabels().fit(["joy;anger", ""]).classes_
    ['anger', 'joy']
    """

    kind = "multi_label"

    def __init__(self, class_names: Sequence[str] | None = None, *, separator: str | None = None):
        self.class_names = class_names
        self.separator = separator

    # ------------------------------------------------------------------ parsing
    def _form(self, labels: Sequence) -> str:
        """``"rows"`` (multi-hot) or ``"names"`` (lists or joined strings)."""
        if isinstance(labels, np.ndarray) and labels.ndim == 2:
            return "rows"
        if isinstance(labels, np.ndarray) and labels.ndim != 1:
            raise DataError(
                f"Multi-label targets must be a 2-D multi-hot array (n_texts, n_labels) or one "
                f"list of names per text; received an array of shape {labels.shape}."
            )
        kinds = set()
        for i, value in enumerate(labels):
            if _is_missing(value):
                raise DataError(
                    f"Label at position {i} is missing (None/NaN). For a text with no labels give "
                    "an empty list [] (or an empty string); otherwise drop the row."
                )
            if isinstance(value, str):
                kinds.add("str")
            elif _is_list_like(value):
                items = list(value)
                kinds.add("numeric" if items and all(_is_number(x) for x in items) else "names")
            else:
                raise DataError(
                    f"Multi-label targets take a list of label names per text, a joined string "
                    f"('joy;surprise') or multi-hot rows; received {type(value).__name__} "
                    f"{_scalar(value)!r} at position {i}."
                )
        if "numeric" in kinds and kinds - {"numeric"}:
            raise DataError(
                "Multi-label targets mix multi-hot rows (lists of 0/1) with label names; use one "
                "form for every text."
            )
        return "rows" if kinds == {"numeric"} else "names"

    def _split(self, labels: Sequence) -> list[list[str]]:
        strings = [v for v in labels if isinstance(v, str)]
        sep = self.separator
        if sep is None:
            sep = self.separator_ = getattr(
                self, "separator_", ";" if any(";" in v for v in strings) else ","
            )
        out = []
        for i, value in enumerate(labels):
            parts = value.split(sep) if isinstance(value, str) else list(value)
            names = []
            for part in parts:
                name = _scalar(part)
                if isinstance(name, str):
                    name = name.strip()
                    if not name:
                        continue
                elif not isinstance(name, numbers.Integral) or isinstance(name, bool):
                    raise DataError(
                        f"Label names must be strings (or ints); received {type(name).__name__} "
                        f"{name!r} in the labels of text {i}."
                    )
                names.append(name)
            if len(set(names)) != len(names):
                names = list(dict.fromkeys(names))
            out.append(names)
        return out

    def _rows(self, labels: Sequence) -> np.ndarray:
        try:
            rows = np.asarray([np.asarray(v, dtype=float) for v in labels], dtype=float)
        except (TypeError, ValueError):
            raise DataError("Multi-hot label rows must all have the same length.") from None
        if rows.ndim != 2:
            raise DataError(f"Multi-hot labels must be rows of equal length; received shape {rows.shape}.")
        if not np.isin(rows, (0.0, 1.0)).all():
            bad = rows[~np.isin(rows, (0.0, 1.0))][:3].tolist()
            raise DataError(
                f"Multi-hot labels must hold only 0 and 1; received values such as {bad}. "
                "Threshold scores first, or use task='regression' for continuous targets."
            )
        return rows

    # ------------------------------------------------------------------ fit
    def fit(self, labels: Sequence) -> MultiLabels:
        """Learn the label names from the training labels."""
        if not len(labels):
            raise DataError("No labels to learn classes from (received an empty list).")
        names = None if self.class_names is None else [str(n) for n in self.class_names]
        if names is not None and len(set(names)) != len(names):
            raise DataError(f"`class_names` has duplicates: {names}.")
        self.form_ = self._form(labels)
        if self.form_ == "rows":
            rows = self._rows(labels)
            k = rows.shape[1]
            if names is not None and len(names) != k:
                raise DataError(
                    f"Multi-hot rows have {k} columns but class_names has {len(names)} names "
                    f"({names}). Pass one name per column."
                )
            classes: list = names if names is not None else list(range(k))
        else:
            lists = self._split(labels)
            seen = sorted({x for row in lists for x in row}, key=lambda x: (type(x).__name__, x))
            if names is not None:
                unknown = [x for x in seen if str(x) not in names]
                if unknown:
                    raise DataError(
                        f"Labels {unknown[:5]} are not in class_names={names}. Add them to "
                        "class_names or fix the labels."
                    )
                classes = names
            else:
                classes = seen
        if not classes:
            raise DataError(
                "No text has any label: multi-label training needs at least one positive label. "
                "Check the label column (and the separator)."
            )
        self.classes_ = list(classes)
        self._ids = {c: j for j, c in enumerate(self.classes_)}
        self._ids.update({str(c): j for j, c in enumerate(self.classes_)})
        self.prior_ = self.transform(labels).mean(axis=0).tolist()  # fraction of texts per label
        return self

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError("These labels are not fitted yet. Call preprocess_train() (or fit()) first.")

    def transform(self, labels: Sequence) -> np.ndarray:
        """Multi-hot float32 rows; names never seen in training raise a :class:`DataError`."""
        self._check_fitted()
        k = len(self.classes_)
        if not len(labels):
            return np.zeros((0, k), dtype=np.float32)
        if self._form(labels) == "rows":
            rows = self._rows(labels)
            if rows.shape[1] != k:
                raise DataError(
                    f"Multi-hot rows have {rows.shape[1]} columns; this model has {k} labels {self.classes_}."
                )
            return rows.astype(np.float32)
        out = np.zeros((len(labels), k), dtype=np.float32)
        for i, names in enumerate(self._split(labels)):
            for name in names:
                j = self._ids.get(name)
                if j is None:
                    raise DataError(
                        f"Label {name!r} of text {i} was never seen in training. Known labels: "
                        f"{self.classes_}. Remove it or retrain with it."
                    )
                out[i, j] = 1.0
        return out

    def inverse_transform(self, rows: Any) -> list[list]:
        """Rows of 0/1 or booleans -> lists of label names (empty lists allowed)."""
        self._check_fitted()
        rows = np.asarray(rows)
        return [[self.classes_[j] for j in np.flatnonzero(row)] for row in rows.astype(bool)]

    @property
    def n_outputs(self) -> int:
        self._check_fitted()
        return len(self.classes_)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        self._check_fitted()
        return {
            "kind": self.kind,
            "classes": self.classes_,
            "class_names": None if self.class_names is None else list(self.class_names),
            "separator": getattr(self, "separator_", self.separator),
        }

    @classmethod
    def from_dict(cls, data: dict) -> MultiLabels:
        enc = cls(class_names=data.get("class_names"), separator=data.get("separator"))
        enc.classes_ = list(data["classes"])
        enc._ids = {c: j for j, c in enumerate(enc.classes_)}
        enc._ids.update({str(c): j for j, c in enumerate(enc.classes_)})
        return enc


def _is_number(value: Any) -> bool:
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, str)


class RegressionTargets:
    """Float targets, one or several per text, optionally standardised for training.

    ``transform`` returns float32 rows of shape ``(n, k)`` (standardised when ``scale=True``);
    ``unscale`` maps model outputs back to the user's units.

    Parameters
    ----------
    target_names : list of str, optional
        Names of the targets (default ``["target"]`` or ``["target_0", ...]``).
    scale : bool
        Standardise each target to mean 0 and standard deviation 1 (learned by :meth:`fit`,
        saved, and undone at prediction).

    Examples
    --------
    >>> enc = RegressionTargets(scale=True).fit([1.0, 3.0])
    >>> enc.transform([1.0, 3.0]).ravel().tolist(), enc.unscale([[0.0]]).tolist()
    ([-1.0, 1.0], [[2.0]])
    """

    kind = "regression"

    def __init__(self, target_names: Sequence[str] | None = None, *, scale: bool = False):
        self.target_names = target_names
        self.scale = scale

    def _array(self, values: Any) -> np.ndarray:
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            array = values.astype(np.float64)
        else:
            items = list(values)
            for i, v in enumerate(items):
                row = list(v) if _is_list_like(v) else [v]
                for x in row:
                    if isinstance(x, (bool, np.bool_)) or not _is_number(x):
                        raise DataError(
                            f"Regression targets must be numbers; received {type(x).__name__} "
                            f"{_scalar(x)!r} at position {i}. For classes use task='classification'."
                        )
            try:
                array = np.asarray([list(v) if _is_list_like(v) else v for v in items], dtype=np.float64)
            except ValueError:
                raise DataError(
                    "Regression targets must all have the same number of values per text."
                ) from None
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise DataError(
                f"Regression targets must be one number per text or rows of numbers; received "
                f"shape {array.shape}."
            )
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if len(bad):
            raise DataError(
                f"Regression targets hold {len(bad)} missing or infinite value(s), first at "
                f"position {int(bad[0])}. Drop or fill those rows."
            )
        return array

    def fit(self, values: Any) -> RegressionTargets:
        """Learn the number of targets (and their mean and spread when scaling)."""
        if not len(values):
            raise DataError("No targets to learn from (received an empty list).")
        array = self._array(values)
        k = array.shape[1]
        if self.target_names is not None:
            names = [str(n) for n in self.target_names]
            if len(names) != k:
                raise DataError(
                    f"Targets have {k} value(s) per text but {len(names)} target names were given ({names})."
                )
        else:
            names = ["target"] if k == 1 else [f"target_{j}" for j in range(k)]
        self.classes_ = names
        if self.scale:
            std = array.std(axis=0)
            self.mean_ = array.mean(axis=0).tolist()
            self.std_ = np.where(std > 0, std, 1.0).tolist()
        else:
            self.mean_, self.std_ = [0.0] * k, [1.0] * k
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError("These targets are not fitted yet. Call preprocess_train() first.")

    def transform(self, values: Any) -> np.ndarray:
        self._check_fitted()
        array = self._array(values) if len(values) else np.zeros((0, len(self.classes_)))
        if array.shape[1] != len(self.classes_):
            raise DataError(
                f"Targets have {array.shape[1]} value(s) per text; this model predicts "
                f"{len(self.classes_)} ({self.classes_})."
            )
        return ((array - np.asarray(self.mean_)) / np.asarray(self.std_)).astype(np.float32)

    def unscale(self, outputs: Any) -> np.ndarray:
        """Model outputs (standardised space) -> the user's units, shape ``(n, k)``."""
        self._check_fitted()
        array = np.asarray(outputs, dtype=np.float64).reshape(-1, len(self.classes_))
        return array * np.asarray(self.std_) + np.asarray(self.mean_)

    def inverse_transform(self, encoded: Any) -> list:
        """Encoded targets -> floats (one target) or lists of floats."""
        values = self.unscale(encoded)
        if values.shape[1] == 1:
            return [float(v) for v in values[:, 0]]
        return [[float(v) for v in row] for row in values]

    @property
    def n_outputs(self) -> int:
        self._check_fitted()
        return len(self.classes_)

    def to_dict(self) -> dict:
        self._check_fitted()
        return {
            "kind": self.kind,
            "classes": self.classes_,
            "target_names": None if self.target_names is None else list(self.target_names),
            "scale": bool(self.scale),
            "mean": [float(v) for v in self.mean_],
            "std": [float(v) for v in self.std_],
        }

    @classmethod
    def from_dict(cls, data: dict) -> RegressionTargets:
        enc = cls(data.get("target_names"), scale=bool(data.get("scale", False)))
        enc.classes_ = list(data["classes"])
        enc.mean_ = [float(v) for v in data["mean"]]
        enc.std_ = [float(v) for v in data["std"]]
        if not (len(enc.mean_) == len(enc.std_) == len(enc.classes_)) or min(enc.std_) <= 0:
            raise ArtifactError("The saved regression target scaling is inconsistent.")
        return enc


_ENCODERS = {cls.kind: cls for cls in (ClassLabels, MultiLabels, RegressionTargets)}


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
