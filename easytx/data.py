"""Loading, validating and splitting texts and labels. No TensorFlow here.

The loaders return plain Python lists (texts) and lists/arrays (labels); :class:`TextData` wraps a
pair of them with the article-style chaining ``.shuffle(seed).batch(n)`` without copying the texts.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import numbers
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, DataTypeError, closest_match_hint

logger = logging.getLogger(__name__)

__all__ = [
    "TextData",
    "check_texts",
    "check_labels_length",
    "train_test_split",
    "read_table",
    "check_columns",
    "read_folder",
    "table_format",
    "iter_table_chunks",
    "PredictionWriter",
]

_MISSING = object()


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False
    if isinstance(value, float) and math.isnan(value):
        return True
    # pandas NA / NaT can only exist once pandas is imported: never import it here (an app on
    # the ONNX engine does not pay its import, nor need it installed)
    pd = sys.modules.get("pandas")
    return pd is not None and (value is getattr(pd, "NA", _MISSING) or value is getattr(pd, "NaT", _MISSING))


def _as_list(values: Any, name: str, *, part: str = "texts") -> list:
    """Turn a list-like (list, tuple, numpy array, pandas Series, TextData) into a list."""
    if isinstance(values, TextData):
        return values.texts if part == "texts" else list(values.labels or [])
    if isinstance(values, (str, bytes)):
        raise DataTypeError(
            f"`{name}` must be a list of texts, not a single string. Received a {type(values).__name__} "
            f"of length {len(values)}: {str(values)[:40]!r}. Wrap it in a list: [{name[:-1]}]."
        )
    if values is None:
        raise DataTypeError(f"`{name}` must be a list-like of texts. Received: None.")
    if isinstance(values, (dict, set, frozenset)):
        raise DataTypeError(
            f"`{name}` must be an ordered list-like (list, tuple, numpy array, pandas Series). "
            f"Received a {type(values).__name__}, whose order is not the order of your rows. Pass "
            "a list, e.g. list(d.values())."
        )
    if hasattr(values, "tolist") and not isinstance(values, list):  # numpy / pandas
        return list(values.tolist())
    if isinstance(values, (list, tuple)):
        return list(values)
    try:
        return list(values)
    except TypeError:
        raise DataTypeError(
            f"`{name}` must be a list-like (list, tuple, numpy array or pandas Series). "
            f"Received an object of type {type(values).__name__}."
        ) from None


def check_texts(
    texts: Any,
    *,
    name: str = "texts",
    allow_empty_strings: bool = False,
    allow_pairs: bool = False,
) -> list:
    """Validate a list-like of texts and return it as a list of ``str`` (or pairs of ``str``).

    Parameters
    ----------
    texts : list-like of str
        The texts. A bare string is refused (it would be read character by character).
    name : str
        The argument name used in error messages.
    allow_empty_strings : bool
        Training refuses empty or whitespace-only texts (they carry no signal and usually mean a
        broken column); prediction allows them.
    allow_pairs : bool
        Accept ``(text_a, text_b)`` tuples for sentence-pair tasks.

    Raises
    ------
    DataError
        Empty input, missing values (None/NaN) or empty strings where not allowed; the message
        names the positions.
    DataTypeError
        A bare string, or elements that are not strings.

    Examples
    --------
    >>> check_texts(["a film", "a book"])
    ['a film', 'a book']
    """
    items = _as_list(texts, name)
    if not items:
        raise DataError(f"`{name}` is empty. Received 0 texts; expected at least 1.")
    missing, wrong_type, empty = [], [], []
    for i, item in enumerate(items):
        parts = item if (allow_pairs and isinstance(item, (tuple, list))) else (item,)
        if allow_pairs and isinstance(item, (tuple, list)) and len(item) != 2:
            raise DataError(
                f"`{name}[{i}]` is a {type(item).__name__} of length {len(item)}; sentence pairs "
                "must be (text_a, text_b) tuples of length 2."
            )
        for part in parts:
            if _is_missing(part):
                missing.append(i)
            elif not isinstance(part, str):
                wrong_type.append((i, type(part).__name__))
            elif not allow_empty_strings and not part.strip():
                empty.append(i)
    if missing:
        raise DataError(
            f"`{name}` has {len(missing)} missing value(s) (None/NaN) at position(s) "
            f"{_positions(missing)}. Drop those rows (e.g. df.dropna(subset=[...])) or fill them."
        )
    if wrong_type:
        i, type_name = wrong_type[0]
        if type_name in ("bytes", "bytearray"):
            raise DataTypeError(
                f"`{name}` must contain str, not bytes; {len(wrong_type)} element(s) are bytes, the "
                f"first at position {i}: {items[i][:40]!r}. Decode them first, e.g. "
                "b.decode('utf-8')."
            )
        raise DataTypeError(
            f"`{name}` must contain strings; {len(wrong_type)} element(s) are not, the first at "
            f"position {i} is a {type_name}: {items[i]!r}. Convert them with str() if they are "
            "really text."
        )
    if empty:
        raise DataError(
            f"`{name}` has {len(empty)} empty or whitespace-only text(s) at position(s) "
            f"{_positions(empty)}. Training refuses empty texts; drop those rows."
        )
    if allow_pairs:
        pairs = [isinstance(item, (tuple, list)) for item in items]
        if any(pairs) and not all(pairs):
            first_single = pairs.index(False)
            raise DataTypeError(
                f"`{name}` mixes (text_a, text_b) pairs and single texts (position {pairs.index(True)} "
                f"is a pair, position {first_single} a single text). Pass only pairs for a "
                "sentence-pair model, or only texts."
            )
        return [tuple(item) if isinstance(item, (tuple, list)) else item for item in items]
    return items


def _positions(indices: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return f"[{shown}{', ...' if len(indices) > limit else ''}]"


def check_labels_length(texts: Sequence, labels: Any, *, name: str = "labels") -> list:
    """Check that there is one label per text and return the labels as a list."""
    if labels is None:
        raise DataTypeError(
            f"`{name}` is None; training needs one label per text. Pass y=... (ints, strings or a "
            "pandas Series)."
        )
    if isinstance(labels, str):
        raise DataTypeError(f"`{name}` must be a list-like of labels, not a single string ({labels[:40]!r}).")
    if isinstance(labels, np.ndarray) and labels.ndim > 1:
        items = list(labels)
    else:
        items = _as_list(labels, name, part="labels")
    if len(items) != len(texts):
        raise DataError(
            f"texts and {name} have different lengths: {len(texts)} texts but {len(items)} "
            f"{name}. Pass exactly one label per text."
        )
    return items


class TextData:
    """Texts with optional labels, a shuffle order and a batch size, without copying the texts.

    This is what :func:`train_test_split` returns. ``shuffle`` and ``batch`` return new views that
    share the underlying lists, so they chain like ``tf.data``::

        train, test = easytx.train_test_split(texts, labels, random_state=0)
        train = train.shuffle(seed=0).batch(32)

    ``preprocess_train``/``preprocess_test``, ``get_learner`` and ``tune`` accept it; its batch size
    becomes the learner's batch size.

    Parameters
    ----------
    texts : list of str
    labels : list-like or None
    """

    def __init__(self, texts: Sequence, labels: Sequence | None = None):
        self._texts = texts
        self._labels = labels
        self._order: np.ndarray | None = None
        self.batch_size: int | None = None

    def _view(self, order: np.ndarray | None, batch_size: int | None) -> TextData:
        view = TextData(self._texts, self._labels)
        view._order = order
        view.batch_size = batch_size
        return view

    def __len__(self) -> int:
        return len(self._texts) if self._order is None else len(self._order)

    def __repr__(self) -> str:
        labelled = "labelled" if self._labels is not None else "unlabelled"
        batch = f", batch_size={self.batch_size}" if self.batch_size else ""
        return f"TextData({len(self)} {labelled} texts{batch})"

    @property
    def indices(self) -> np.ndarray:
        """Positions of this view's rows in the underlying lists."""
        return np.arange(len(self._texts)) if self._order is None else self._order

    @property
    def texts(self) -> list:
        """The texts in this view's order (a new list of references, not copies of the strings)."""
        if self._order is None:
            return list(self._texts)
        return [self._texts[i] for i in self._order]

    @property
    def labels(self) -> list | None:
        """The labels in this view's order, or ``None`` for unlabelled data."""
        if self._labels is None:
            return None
        if self._order is None:
            return list(self._labels)
        return [self._labels[i] for i in self._order]

    def shuffle(self, seed: int | None = None) -> TextData:
        """Return a view in a random order (repeatable with ``seed``)."""
        rng = np.random.default_rng(seed)
        return self._view(self.indices[rng.permutation(len(self))], self.batch_size)

    def batch(self, batch_size: int) -> TextData:
        """Return a view that carries ``batch_size`` (used as the learner's batch size)."""
        check_positive_int(batch_size, "batch_size")
        return self._view(self._order, int(batch_size))

    batchify = batch

    def take(self, n: int) -> TextData:
        """Return a view of the first ``n`` rows."""
        check_positive_int(n, "n")
        return self._view(self.indices[:n], self.batch_size)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is a positive int, else raise a :class:`ConfigError` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def _stratify_key(labels: list) -> list | None:
    """Labels usable for stratification (hashable, discrete), or None with the reason logged."""
    if not labels:
        return None
    first = labels[0]
    if isinstance(first, (list, tuple, np.ndarray)):
        logger.info("Multi-label or sequence labels: splitting without stratification.")
        return None
    if isinstance(first, float) and not float(first).is_integer():
        logger.info("Float labels look like a regression target: splitting without stratification.")
        return None
    return [str(v) for v in labels]


def train_test_split(
    texts: Any,
    labels: Any = None,
    test_size: float | int = 0.2,
    random_state: int | None = None,
    stratify: bool = True,
) -> tuple[TextData, TextData]:
    """Split texts (and labels) into a training and a test :class:`TextData`.

    Parameters
    ----------
    texts : list-like of str, or TextData
    labels : list-like, optional
        One label per text. Taken from ``texts`` when it is a labelled :class:`TextData`.
    test_size : float or int
        Fraction (0 < f < 1) or number of rows for the test part.
    random_state : int, optional
        Seed; the same seed gives the same split.
    stratify : bool
        Keep class proportions in both parts (single-label classification only; ignored, with a
        log message, for multi-label and float targets).

    Returns
    -------
    (train, test) : tuple of TextData

    Examples
    --------
    >>> train, test = train_test_split(["a", "b", "c", "d"], [0, 1, 0, 1], test_size=0.5,
    ...                                random_state=0)
    >>> len(train), len(test), sorted(test.labels)
    (2, 2, [0, 1])
    """
    from sklearn.model_selection import train_test_split as sk_split

    if isinstance(texts, TextData) and labels is None:
        labels = texts.labels
    items = check_texts(texts, allow_pairs=True)
    label_list = None if labels is None else check_labels_length(items, labels)
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ConfigError(f"`test_size` as a fraction must lie in (0, 1). Received: {test_size}")
    elif isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        if not 0 < test_size < len(items):
            raise ConfigError(
                f"`test_size` as a count must lie in [1, {len(items) - 1}]. Received: {test_size}"
            )
    else:
        raise ConfigError(f"`test_size` must be a float or an int. Received: {test_size!r}")
    key = _stratify_key(label_list) if (stratify and label_list is not None) else None
    if key is not None:
        counts: dict[str, int] = {}
        for k in key:
            counts[k] = counts.get(k, 0) + 1
        rare = sorted(k for k, c in counts.items() if c < 2)
        if rare:
            raise DataError(
                f"Cannot stratify: class(es) {rare[:5]} have a single example. Add examples, drop "
                "them, or pass stratify=False."
            )
    index = np.arange(len(items))
    try:
        train_idx, test_idx = sk_split(index, test_size=test_size, random_state=random_state, stratify=key)
    except ValueError as exc:  # e.g. test part smaller than the number of classes
        raise DataError(f"Cannot split as asked: {exc} Pass a larger test_size or stratify=False.") from None
    train = TextData(items, label_list)._view(np.asarray(train_idx), None)
    test = TextData(items, label_list)._view(np.asarray(test_idx), None)
    return train, test


# --------------------------------------------------------------------------- files
def _decode(path: Path, raw: bytes, encoding: str) -> str:
    """Decode a file's bytes; a UTF-8 byte-order mark is dropped, errors name the byte offset."""
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        encoding = "utf-8-sig"  # a BOM would otherwise stick to the first column name
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if encoding == "utf-8-sig" and raw.startswith(b"\xef\xbb\xbf") else 0)
        snippet = raw[max(0, start - 20) : start + 20]
        hint = ""
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = " The file starts with a UTF-16 byte-order mark: pass encoding='utf-16'."
        line = raw[:start].count(b"\n") + 1
        shown = "utf-8" if encoding == "utf-8-sig" else encoding
        raise DataError(
            f"{path} is not valid {shown}: byte offset {start}, line {line} "
            f"({raw[start : start + 1]!r} near {snippet!r}).{hint} Pass encoding='latin-1' "
            "(or the file's real encoding), or re-save the file as UTF-8."
        ) from None


def read_table(
    path: str | os.PathLike,
    *,
    sep: str | None = None,
    encoding: str = "utf-8",
    header: bool = True,
) -> Any:
    """Read a CSV, TSV or JSONL file into a pandas DataFrame with clear errors.

    The format comes from the extension (``.csv``, ``.tsv``/``.tab``, ``.jsonl``/``.ndjson``) or
    ``sep``. Bytes that are not valid ``encoding`` raise a :class:`DataError` that names the file
    and the byte offset.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {path}. Check the path (current folder: {Path.cwd()}).")
    text = _decode(path, path.read_bytes(), encoding)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {line_no}: not valid JSON ({exc.msg}).") from None
            if not isinstance(rows[-1], dict):
                raise DataError(f"{path}, line {line_no}: expected a JSON object per line.")
        frame = pd.DataFrame(rows)
    else:
        if sep is None:
            sep = "\t" if suffix in (".tsv", ".tab") else ","
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                header=0 if header else None,
                quoting=csv.QUOTE_MINIMAL,
                keep_default_na=False,
                na_values=[""],
                dtype=str,
            )
        except pd.errors.ParserError as exc:
            raise DataError(f"{path} could not be parsed with sep={sep!r}: {exc}") from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{path} is empty.") from None
    if frame.empty:
        raise DataError(f"{path} holds no rows.")
    if header:
        check_unique_columns(frame, str(path))
    return frame


_TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """``"csv"``, ``"tsv"`` or ``"jsonl"`` from ``fmt`` or the file's extension."""
    if fmt is not None:
        if fmt not in ("csv", "tsv", "jsonl"):
            raise ConfigError(f"`format` must be 'csv', 'tsv' or 'jsonl'. Received: format={fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise ConfigError(
            f"Cannot tell the format of {path} from its extension {suffix!r}: expected one of "
            f"{sorted(_TABLE_SUFFIXES)}. Rename the file or pass format='csv'/'tsv'/'jsonl'."
        )
    return _TABLE_SUFFIXES[suffix]


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists (JSON-ready)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class PredictionWriter:
    """Writes one row per prediction, the same way for every front end
    (:meth:`Predictor.predict_file <easytx.Predictor.predict_file>` and ``easytx predict``).

    Parameters
    ----------
    handle : text file
        Opened with ``newline=""``.
    fmt : {"csv", "tsv", "jsonl", "labels"}
        ``labels`` writes the prediction alone, one line per text.
    classes : list
        Class names, for the probability columns.
    proba : bool
        Add the class probabilities (``proba_<class>`` columns in CSV/TSV, a ``probabilities``
        object in JSONL) to rows whose probabilities are given per class.
    digits : int, optional
        Round the probabilities (default: full float precision).

    Notes
    -----
    A prediction that is a list (multi-label names, entities) or a dict is written as JSON:
    in a CSV/TSV cell and on a ``labels`` line as a JSON string, in JSONL as JSON itself. Input
    fields that are lists or dicts (JSONL) are kept in JSONL and left out of CSV/TSV.
    """

    def __init__(
        self, handle: Any, fmt: str, classes: Sequence, *, proba: bool = False, digits: int | None = None
    ):
        if fmt not in ("csv", "tsv", "jsonl", "labels"):
            raise ConfigError(f"Unknown output format {fmt!r}: expected 'csv', 'tsv', 'jsonl' or 'labels'.")
        self.handle, self.fmt, self.classes = handle, fmt, [str(c) for c in classes]
        self.proba, self.digits = proba, digits
        self._csv: Any = None

    def _number(self, value: Any) -> float:
        value = float(value)
        return round(value, self.digits) if self.digits is not None else value

    @staticmethod
    def cell(label: Any) -> Any:
        """A prediction as one CSV cell or text line: scalars as they are, the rest as JSON."""
        label = _plain(label)
        if isinstance(label, (list, dict)):
            return json.dumps(label, ensure_ascii=False, default=str)
        return label

    def write(
        self, record: dict, label: Any, probabilities: Any = None, fields: Sequence[str] | None = None
    ) -> None:
        """Write one row: the input ``record`` (its ``fields`` first, in CSV/TSV), the
        prediction and, with ``proba``, ``probabilities`` (one per class; ``None`` when the
        task has no per-class probabilities, e.g. a tagger's per-token rows)."""
        with_proba = self.proba and probabilities is not None
        if self.fmt == "labels":
            self.handle.write(f"{self.cell(label)}\n")
            return
        if self.fmt == "jsonl":
            out = dict(record)
            out["prediction"] = _plain(label)
            if with_proba:
                out["probabilities"] = {c: self._number(v) for c, v in zip(self.classes, probabilities)}
            self.handle.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
            return
        if self._csv is None:
            plain = [k for k, v in record.items() if not isinstance(v, (dict, list))]
            base = list(fields) if fields else plain
            columns = [*(base or ["text"]), "prediction"]
            columns += [f"proba_{c}" for c in self.classes] if with_proba else []
            self._csv = csv.DictWriter(
                self.handle,
                fieldnames=columns,
                delimiter="\t" if self.fmt == "tsv" else ",",
                extrasaction="ignore",
                lineterminator="\n",
            )
            self._csv.writeheader()
        row = {k: v for k, v in record.items() if not isinstance(v, (dict, list))}
        row["prediction"] = self.cell(label)
        if with_proba:
            row.update({f"proba_{c}": self._number(v) for c, v in zip(self.classes, probabilities)})
        self._csv.writerow(row)


def per_class_rows(proba: Any) -> bool:
    """Whether ``proba`` holds one row of per-class values per text (not per-token rows)."""
    return isinstance(proba, np.ndarray) and proba.ndim == 2 and proba.dtype != object


def _iter_records(path: Path, fmt: str, columns: Sequence[str], encoding: str) -> Iterator[dict]:
    """Yield one dict per row, reading the file line by line (constant memory)."""
    if encoding.lower().replace("-", "").replace("_", "") == "utf8":
        encoding = "utf-8-sig"
    with open(path, encoding=encoding, newline="" if fmt != "jsonl" else None) as handle:
        try:
            if fmt in ("csv", "tsv"):
                csv.field_size_limit(2**31 - 1)
                reader = csv.DictReader(handle, delimiter="\t" if fmt == "tsv" else ",")
                fields = reader.fieldnames
                if not fields:
                    raise DataError(f"{path} is empty: expected a header line naming the columns.")
                for column in columns:
                    if column not in fields:
                        raise DataError(
                            f"Column {column!r} not found in {path}. Available columns: "
                            f"{list(fields)}." + closest_match_hint(column, fields)
                        )
                yield from reader
                return
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}, line {line_no}: not valid JSON ({exc.msg}).") from None
                if not isinstance(item, dict):
                    raise DataError(f"{path}, line {line_no}: expected a JSON object per line.")
                for column in columns:
                    if column not in item:
                        raise DataError(
                            f"{path}, line {line_no}: no field {column!r} (fields: {sorted(item)})."
                            + closest_match_hint(column, item)
                        )
                yield item
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} is not valid {encoding} ({exc.reason}). Pass encoding='latin-1' (or the "
                "file's real encoding), or re-save the file as UTF-8."
            ) from None


def iter_table_chunks(
    path: str | os.PathLike,
    *,
    columns: Sequence[str],
    chunk_rows: int = 2048,
    format: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[list[dict]]:
    """Stream a CSV/TSV/JSONL file as lists of at most ``chunk_rows`` row dicts.

    The file is read line by line, so memory stays constant whatever its size. ``columns`` must
    exist (checked on the CSV header, or on every JSONL object); a file without rows raises a
    :class:`DataError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("text,label\\ngood,pos\\nbad,neg\\n")
    >>> [len(c) for c in iter_table_chunks(path, columns=["text"], chunk_rows=1)]
    [1, 1]
    """
    path = Path(path)
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    fmt = table_format(path, format)
    if not path.is_file():
        raise DataError(f"No such file: {path}. Check the path (current folder: {Path.cwd()}).")
    chunk: list[dict] = []
    seen = False
    for record in _iter_records(path, fmt, columns, encoding):
        seen = True
        chunk.append(record)
        if len(chunk) == chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
    if not seen:
        raise DataError(f"{path} holds no rows.")


def check_unique_columns(frame: Any, where: str = "the DataFrame") -> None:
    """Refuse duplicate column names (pandas renames them to ``x.1`` silently when reading)."""
    names = [str(c) for c in frame.columns]
    stems = [n.rsplit(".", 1)[0] if n.rsplit(".", 1)[-1].isdigit() else n for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    mangled = sorted({s for s, n in zip(stems, names) if s != n and s in names})
    if dupes or mangled:
        raise DataError(
            f"{where} has duplicate column names: {dupes or mangled}. Rename them so that each "
            "column is unique."
        )


def check_columns(frame: Any, columns: Sequence[str], *, where: str = "the DataFrame") -> None:
    """Raise a :class:`DataError` naming any missing column and the closest existing one."""
    available = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            raise DataError(
                f"Column {column!r} not found in {where}. Available columns: {available}."
                + closest_match_hint(column, available)
            )


def read_folder(
    folder: str | os.PathLike,
    *,
    classes: Sequence[str] | None = None,
    encoding: str | Callable[[bytes], str] = "utf-8",
) -> tuple[list[str], list[str]]:
    """Read ``folder/<class>/*.txt`` into ``(texts, labels)``; the label is the sub-folder's name.

    ``encoding`` is one encoding for every file, or a function from a file's bytes to its
    encoding (``easytx.ktrain.text`` detects each file's).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"No such folder: {folder}.")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is not None:
        names = {p.name for p in class_dirs}
        for name in classes:
            if name not in names:
                raise DataError(
                    f"Class folder {name!r} not found in {folder}. Found: {sorted(names)}."
                    + closest_match_hint(name, names)
                )
        class_dirs = [folder / name for name in classes]
    if not class_dirs:
        raise DataError(
            f"{folder} has no sub-folders. Expected one sub-folder per class holding text files, "
            "e.g. train/pos/1.txt and train/neg/2.txt."
        )
    texts, labels = [], []
    for class_dir in class_dirs:
        for file in sorted(p for p in class_dir.rglob("*") if p.is_file()):
            if file.name.startswith("."):
                continue
            raw = file.read_bytes()
            texts.append(_decode(file, raw, encoding(raw) if callable(encoding) else encoding))
            labels.append(class_dir.name)
    if not texts:
        raise DataError(f"{folder} holds class folders {[p.name for p in class_dirs]} but no files in them.")
    return texts, labels
