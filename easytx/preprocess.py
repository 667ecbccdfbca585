"""The ``Transformer`` preprocessor: tokenizer loading, batched fast tokenization, automatic
maximum length, label encoding, and ``tf.data`` pipelines with dynamic padding and length bucketing.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import (
    _env,  # noqa: F401
    backend,
)
from .bindings import bind
from .data import TextData, check_labels_length, check_positive_int, check_texts, iter_table_chunks
from .errors import ArtifactError, ConfigError, DataError, NotFittedError
from .labels import ClassLabels, infer_task, label_encoder_from_dict
from .tasks import Classification, Task, make_task, task_from_name
from .windows import check_stride, check_windows, resolve_stride

logger = logging.getLogger(__name__)

__all__ = ["Transformer", "TransformerDataset", "StreamingDataset"]

_TOKENIZE_CHUNK = 2048
_BUCKET_WINDOW = 50  # batches per sorting window when bucketing by length


def _valid_unicode(text: Any) -> Any:
    """Replace lone surrogates (not encodable as UTF-8) with U+FFFD; pairs are handled per part."""
    if isinstance(text, tuple):
        return tuple(_valid_unicode(t) for t in text)
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


class TransformerDataset:
    """Tokenized texts (unpadded), their labels and the original texts.

    Batches are padded to their own longest sequence (dynamic padding). For training, rows are
    shuffled, then sorted by length inside windows of ``50 * batch_size`` rows, cut into batches,
    and the batches shuffled again: batches hold similar lengths (little padding) while their order
    stays random.

    Attributes
    ----------
    x : dict of list of numpy arrays
        Token ids per input name (``input_ids``, ``token_type_ids`` where the model uses them).
    y : numpy array or None
        Encoded labels.
    texts : list
        The original text of each row (for :meth:`Learner.view_top_losses`).
    text_index : numpy array of int or None
        With sliding windows (see ``docs/long-texts.md``): the text each row is a window of, in
        ``range(n_texts)``; ``None`` when every row is a whole (or truncated) text.
    stride : int or None
        Tokens shared by consecutive windows of a text (``None`` without windows).
    """

    def __init__(
        self,
        x: dict[str, list[np.ndarray]],
        y: np.ndarray | None,
        texts: Sequence,
        *,
        pad_token_id: int,
        batch_size: int | None = None,
        pad_to_multiple_of: int = 1,
        text_index: np.ndarray | None = None,
        stride: int | None = None,
    ):
        self.x = x
        self.y = y
        self.texts = texts
        self.pad_token_id = int(pad_token_id)
        self.batch_size = batch_size
        self.pad_to_multiple_of = check_positive_int(pad_to_multiple_of, "pad_to_multiple_of")
        self.lengths = np.fromiter((len(ids) for ids in x["input_ids"]), dtype=np.int64)
        self.text_index = None if text_index is None else np.asarray(text_index, dtype=np.int64)
        self.stride = stride
        self._epoch = 0
        self.reset_padding_stats()

    def reset_padding_stats(self) -> None:
        """Zero the counters of :meth:`padding_stats`."""
        self._stats = {"rows": 0, "computed_tokens": 0, "useful_tokens": 0}

    def padding_stats(self) -> dict:
        """Rows, computed and useful (non-padding) token positions of the batches padded so far.

        ``padding_fraction`` is the share of computed positions that are padding: what the model
        really spent on padding, counted as the batches are made.
        """
        stats = dict(self._stats)
        computed = stats["computed_tokens"]
        stats["padding_fraction"] = 1.0 - stats["useful_tokens"] / computed if computed else 0.0
        return stats

    def __len__(self) -> int:
        return len(self.lengths)

    def __repr__(self) -> str:
        windows = f", {self.n_texts} texts in windows" if self.text_index is not None else ""
        return f"TransformerDataset({len(self)} rows{windows}, labelled={self.y is not None})"

    @property
    def input_names(self) -> list[str]:
        return [*self.x, "attention_mask"]

    @property
    def n_texts(self) -> int:
        """Texts the rows come from (rows are windows of them when :attr:`text_index` is set)."""
        if self.text_index is None:
            return len(self)
        return int(self.text_index.max()) + 1 if len(self.text_index) else 0

    def _subset_text_index(self, index: np.ndarray) -> np.ndarray | None:
        if self.text_index is None:
            return None
        return np.unique(self.text_index[index], return_inverse=True)[1].reshape(-1)

    def subset(self, index: Sequence[int]) -> TransformerDataset:
        """Rows ``index`` as a new dataset (shares the token arrays)."""
        index = np.asarray(index, dtype=np.int64)
        x = {name: [seqs[i] for i in index] for name, seqs in self.x.items()}
        y = None if self.y is None else self.y[index]
        texts = [self.texts[i] for i in index]
        return TransformerDataset(
            x,
            y,
            texts,
            pad_token_id=self.pad_token_id,
            batch_size=self.batch_size,
            pad_to_multiple_of=self.pad_to_multiple_of,
            text_index=self._subset_text_index(index),
            stride=self.stride,
        )

    def per_text(self) -> TransformerDataset:
        """One row per text: each text's first window (the dataset itself without windows).

        Its labels are the texts' labels, to score answers pooled over the windows
        (:func:`easytx.inference.merge_windows`).
        """
        if self.text_index is None:
            return self
        first = np.unique(self.text_index, return_index=True)[1]
        data = self.subset(first)
        data.text_index, data.stride = None, None
        return data

    # ------------------------------------------------------------------ batching
    def pad(self, index: Sequence[int]) -> dict[str, np.ndarray]:
        """Pad rows ``index`` to their longest length (rounded up to ``pad_to_multiple_of``);
        returns int32 arrays incl. attention_mask."""
        lengths = self.lengths[index]
        width = int(lengths.max()) if len(index) else 0
        step = self.pad_to_multiple_of
        width = -(-width // step) * step
        self._stats["rows"] += len(index)
        self._stats["computed_tokens"] += width * len(index)
        self._stats["useful_tokens"] += int(lengths.sum())
        out = {}
        for name, seqs in self.x.items():
            fill = self.pad_token_id if name == "input_ids" else 0
            array = np.full((len(index), width), fill, dtype=np.int32)
            for row, i in enumerate(index):
                array[row, : len(seqs[i])] = seqs[i]
            out[name] = array
        mask = np.zeros((len(index), width), dtype=np.int32)
        for row, i in enumerate(index):
            mask[row, : self.lengths[i]] = 1
        out["attention_mask"] = mask
        return out

    def batch_indices(
        self, batch_size: int, *, shuffle: bool, seed: int | None = None, bucket: bool = True
    ) -> list[np.ndarray]:
        """Row indices of each batch for one pass (see the class docstring for the order)."""
        n = len(self)
        if not shuffle:
            order = np.argsort(self.lengths, kind="stable") if bucket else np.arange(n)
            return [order[i : i + batch_size] for i in range(0, n, batch_size)]
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        if bucket:
            window = batch_size * _BUCKET_WINDOW
            chunks = []
            for start in range(0, n, window):
                part = order[start : start + window]
                chunks.append(part[np.argsort(self.lengths[part], kind="stable")])
            order = np.concatenate(chunks)
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
        if bucket:
            perm = rng.permutation(len(batches))
            batches = [batches[i] for i in perm]
        return batches

    def padding_fraction(self, batch_size: int, *, bucket: bool = True, seed: int = 0) -> float:
        """Fraction of computed token positions that are padding for one shuffled epoch."""
        total = useful = 0
        step = self.pad_to_multiple_of
        for index in self.batch_indices(batch_size, shuffle=True, seed=seed, bucket=bucket):
            total += -(-int(self.lengths[index].max()) // step) * step * len(index)
            useful += int(self.lengths[index].sum())
        return 1.0 - useful / total if total else 0.0

    def batch_labels(self, index: Sequence[int], width: int) -> np.ndarray:
        """Labels of rows ``index`` for a batch padded to ``width`` tokens (token-level datasets
        cut theirs to the width)."""
        return self.y[index]

    def label_spec(self) -> Any:
        """``tf.TensorSpec`` of a batch of labels."""
        import tensorflow as tf

        return tf.TensorSpec((None, *self.y.shape[1:]), tf.as_dtype(self.y.dtype))

    def to_tfdataset(
        self,
        batch_size: int | None = None,
        *,
        shuffle: bool = True,
        seed: int | None = None,
        bucket: bool = True,
    ) -> Any:
        """A ``tf.data.Dataset`` of ``(inputs, labels)`` batches with dynamic padding.

        With ``shuffle=True`` each pass over the dataset (each epoch) draws a new order from
        ``seed + epoch`` so training is repeatable under a seed.
        """
        import tensorflow as tf

        batch_size = check_positive_int(batch_size or self.batch_size or 32, "batch_size")
        n_batches = math.ceil(len(self) / batch_size)
        base_seed = seed

        def generate() -> Iterator:
            epoch_seed = None if base_seed is None else base_seed + self._epoch
            self._epoch += 1
            for index in self.batch_indices(batch_size, shuffle=shuffle, seed=epoch_seed, bucket=bucket):
                inputs = self.pad(index)
                if self.y is None:
                    yield (inputs,)
                else:
                    yield inputs, self.batch_labels(index, inputs["input_ids"].shape[1])

        spec = {name: tf.TensorSpec((None, None), tf.int32) for name in self.input_names}
        if self.y is not None:
            signature: tuple = (spec, self.label_spec())
        else:
            signature = (spec,)
        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches))
        # A generator can only be sharded by element: under multi-worker training every worker
        # generates the same batches (same seed) and keeps its share of each global batch.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


#: preprocessor kinds by the name ``to_dict`` writes under ``"preprocessor"``; each module that
#: defines one registers it (:mod:`easytx.tagger` registers ``"tagging"``)
_PREPROCESSORS: dict[str, type] = {}

#: easytx's own kinds defined outside this module, by the module that registers them: loaded on
#: first use, as plug-ins are (entry-point style), so that this module never imports them
_BUILTIN_KINDS = {"tagging": "easytx.tagger"}


def register_preprocessor(name: str, cls: type) -> None:
    """Let :meth:`Transformer.from_dict` rebuild preprocessors saved as ``name``."""
    _PREPROCESSORS[name] = cls


def preprocessor_class(name: str) -> type:
    """The preprocessor class saved under ``name``.

    Raises
    ------
    ArtifactError
        No class is registered under that name.
    """
    if name not in _PREPROCESSORS and name in _BUILTIN_KINDS:
        import importlib

        importlib.import_module(_BUILTIN_KINDS[name])  # registers the kind
    try:
        return _PREPROCESSORS[name]
    except KeyError:
        known = ", ".join(sorted(set(_PREPROCESSORS) | set(_BUILTIN_KINDS)))
        raise ArtifactError(
            f"The preprocessing entry names the preprocessor {name!r}, which nothing has "
            f"registered (known: {known}): the folder was saved by another version of easytx or "
            "its easytx.json was edited; register_preprocessor(name, cls) adds a kind."
        ) from None


def _sample_mapping(enc: Any) -> Any:
    """The text of each row of a tokenization with ``return_overflowing_tokens=True``."""
    try:
        return enc["overflow_to_sample_mapping"]
    except KeyError:
        raise ConfigError(
            "Sliding windows need a fast tokenizer (one with tokenizer.json), whose overflow gives "
            "each window's text; this tokenizer gives none. Pass windows=False to truncate long texts."
        ) from None


def _file_label(value: Any) -> Any:
    """A label read from a file: integer-looking strings become ints (CSV has only strings)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        return stripped
    return value


class StreamingDataset:
    """Labelled training rows streamed from a CSV/TSV/JSONL file, tokenized on the fly.

    Made by :meth:`Transformer.preprocess_train_file`. The file is read in windows of
    ``window_batches * batch_size`` rows; each window is tokenized, its rows shuffled and sorted by
    length inside the window (length bucketing), cut into batches and the batches shuffled. An
    epoch is ``steps_per_epoch`` batches; the next epoch continues where the last one stopped, and
    the file is read again from the top when it ends. Memory holds one window, whatever the size
    of the file.

    Rows are shuffled only inside a window: shuffle a sorted file beforehand.
    """

    def __init__(
        self,
        preproc: Transformer,
        path: str | os.PathLike,
        *,
        text_column: str,
        label_column: str,
        steps_per_epoch: int,
        batch_size: int,
        rows: int | None = None,
        window_batches: int = _BUCKET_WINDOW,
        format: str | None = None,
        encoding: str = "utf-8",
        pad_to_multiple_of: int = 1,
    ):
        self.preproc = preproc
        self.path = Path(path)
        self.text_column = text_column
        self.label_column = label_column
        self.steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.rows = rows
        self.window_batches = check_positive_int(window_batches, "window_batches")
        self.format = format
        self.encoding = encoding
        self.pad_to_multiple_of = check_positive_int(pad_to_multiple_of, "pad_to_multiple_of")
        self.y = None  # labels are read with the texts, window by window
        self._epoch = 0
        self._windows = 0
        self._pending: list = []
        self._cursor: Iterator | None = None
        self.reset_padding_stats()

    def __len__(self) -> int:
        """Rows per epoch (``steps_per_epoch * batch_size``)."""
        return self.steps_per_epoch * self.batch_size

    def __repr__(self) -> str:
        return (
            f"StreamingDataset({self.path.name}, steps_per_epoch={self.steps_per_epoch}, "
            f"batch_size={self.batch_size})"
        )

    @property
    def input_names(self) -> list[str]:
        return [*self.preproc.input_names, "attention_mask"]

    reset_padding_stats = TransformerDataset.reset_padding_stats
    padding_stats = TransformerDataset.padding_stats

    def _cycle(self, window_rows: int) -> Iterator[list[dict]]:
        while True:
            yield from iter_table_chunks(
                self.path,
                columns=[self.text_column, self.label_column],
                chunk_rows=window_rows,
                format=self.format,
                encoding=self.encoding,
            )

    def _window(self, records: list[dict], batch_size: int, seed: int | None) -> Iterator[tuple]:
        texts = check_texts([r[self.text_column] for r in records], name=f"{self.path} texts")
        labels = [_file_label(r[self.label_column]) for r in records]
        y = self.preproc.labels_.transform(labels)
        encoded = self.preproc._encode(texts)
        window = TransformerDataset(
            encoded,
            y,
            texts,
            pad_token_id=self.preproc._pad_id(),
            pad_to_multiple_of=self.pad_to_multiple_of,
        )
        window._stats = self._stats  # one running count for the whole stream
        window_seed = None if seed is None else seed + self._windows
        self._windows += 1
        for index in window.batch_indices(batch_size, shuffle=True, seed=window_seed, bucket=True):
            yield window.pad(index), y[index]

    def batches(self, batch_size: int | None = None, *, seed: int | None = None) -> Iterator[tuple]:
        """Yield ``steps_per_epoch`` padded ``(inputs, labels)`` batches: one epoch."""
        batch_size = batch_size or self.batch_size
        if self._cursor is None:
            self._cursor = self._cycle(batch_size * self.window_batches)
        produced = 0
        while produced < self.steps_per_epoch:
            if not self._pending:
                self._pending = list(self._window(next(self._cursor), batch_size, seed))
                self._pending.reverse()
            yield self._pending.pop()
            produced += 1
        self._epoch += 1

    def to_tfdataset(self, batch_size: int | None = None, *, seed: int | None = None, **_: Any) -> Any:
        """A ``tf.data.Dataset`` of one epoch's batches (``steps_per_epoch`` of them)."""
        import tensorflow as tf

        batch_size = batch_size or self.batch_size
        spec = {name: tf.TensorSpec((None, None), tf.int32) for name in self.input_names}
        y_spec = tf.TensorSpec((None,), tf.int64)
        dataset = tf.data.Dataset.from_generator(
            lambda: self.batches(batch_size, seed=seed), output_signature=(spec, y_spec)
        )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch))
        return dataset.prefetch(tf.data.AUTOTUNE)


class Transformer:
    """Preprocessor for a pretrained transformer: tokenizer, labels, maximum length.

    Parameters
    ----------
    model_name : str or path
        A Hugging Face hub name (``"distilbert-base-uncased"``) or a local model folder.
    maxlen : int or "auto"
        Maximum tokens per text. ``"auto"`` takes the ``auto_percentile`` percentile of the
        training texts' token lengths (rounded up to a multiple of 8, capped at the model's limit)
        and logs the choice.
    class_names : list of str, optional
        Class names in id order (see :class:`easytx.labels.ClassLabels`).
    batch_size : int, optional
        Default batch size carried by the datasets this preprocessor makes.
    auto_percentile : float
        Percentile used by ``maxlen="auto"``.
    task : str or easytx.tasks.Task, optional
        ``"classification"``, ``"multilabel"`` or ``"regression"`` (or a task object, e.g.
        ``tasks.MultiLabel(thresholds=0.3)``). Default: inferred from the training labels, but
        only when unambiguous: lists of label names per text or multi-hot rows with zero or
        several ones mean multi-label; anything else is single-label classification. Regression
        is never inferred: pass ``task="regression"``.
    multilabel : bool, optional
        ktrain's switch: ``True`` is ``task="multilabel"``, ``False`` forbids inferring it.
    scale_targets : bool
        Regression only: standardise the targets for training (undone at prediction; saved).
    label_separator : str, optional
        Multi-label only: separator of joined label strings (default ``";"`` if any label
        contains one, else ``","``).
    windows : bool
        Train on every part of long texts: a text longer than ``maxlen`` tokens becomes several
        training rows, windows of ``maxlen`` tokens overlapping by ``stride`` tokens, each with the
        text's label (``preprocess_test`` windows its texts the same way; ``Learner.validate``
        pools them back into one answer per text). Default ``False``: long texts are truncated
        for training. Prediction reads long texts in windows either way (see
        :class:`~easytx.Predictor`'s ``windows``). Single texts only: a preprocessor with
        ``windows=True`` refuses sentence pairs.
    stride : int, optional
        Tokens shared by consecutive windows, for training and prediction (saved with the
        predictor). Default ``maxlen // 4``. See ``docs/long-texts.md``.
    verbose : int
        ``0`` silences progress bars.

    Notes
    -----
    Inputs may be texts or sentence pairs: a list of ``(text_a, text_b)`` tuples is tokenized as
    pairs (with ``token_type_ids`` where the model has them); a preprocessor trained on pairs
    predicts on pairs. Pairs are never cut into windows: a pair longer than ``maxlen`` is
    truncated (the longer text loses tokens first).

    Examples
    --------
    >>> from easytx import text
    >>> t = text.Transformer("distilbert-base-uncased", maxlen="auto")  # doctest: +SKIP
    >>> trn = t.preprocess_train(["good", "bad"], ["pos", "neg"])  # doctest: +SKIP
    """

    def __init__(
        self,
        model_name: str | os.PathLike,
        maxlen: int | str = "auto",
        class_names: Sequence[str] | None = None,
        batch_size: int | None = None,
        *,
        auto_percentile: float = 99.0,
        task: str | Task | None = None,
        multilabel: bool | None = None,
        scale_targets: bool = False,
        label_separator: str | None = None,
        windows: bool = False,
        stride: int | None = None,
        verbose: int = 1,
        **kwargs: Any,
    ):
        if "use_with_learner" in kwargs or "classes" in kwargs:  # ktrain arguments, harmless
            if kwargs.get("classes") and class_names is None:
                class_names = kwargs["classes"]
            kwargs.pop("use_with_learner", None)
            kwargs.pop("classes", None)
        if kwargs:
            raise ConfigError(f"Unexpected argument(s) for Transformer: {sorted(kwargs)}.")
        if not (
            maxlen == "auto" or (isinstance(maxlen, int) and not isinstance(maxlen, bool) and maxlen > 0)
        ):
            raise ConfigError(f"`maxlen` must be a positive int or 'auto'. Received: maxlen={maxlen!r}")
        if class_names is not None and (isinstance(class_names, str) or not len(class_names)):
            raise ConfigError(f"`class_names` must be a non-empty list of names. Received: {class_names!r}")
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        if not 50.0 <= auto_percentile <= 100.0:
            raise ConfigError(f"`auto_percentile` must lie in [50, 100]. Received: {auto_percentile}")
        self.model_name = str(model_name)
        self.maxlen = maxlen
        self.class_names = None if class_names is None else list(class_names)
        self.batch_size = batch_size
        self.auto_percentile = auto_percentile
        if multilabel is not None and not isinstance(multilabel, bool):
            raise ConfigError(f"`multilabel` must be True, False or None. Received: {multilabel!r}")
        if task is not None:
            task = make_task(task)
            if multilabel is not None and (task.name == "multilabel") != multilabel:
                raise ConfigError(
                    f"multilabel={multilabel} contradicts task={task.name!r}; pass one of them."
                )
        elif multilabel:
            task = make_task("multilabel")
        if label_separator is not None and (not isinstance(label_separator, str) or not label_separator):
            raise ConfigError(f"`label_separator` must be a non-empty string. Received: {label_separator!r}")
        self.task_option = task
        self.multilabel = multilabel
        self.scale_targets = bool(scale_targets)
        self.label_separator = label_separator
        self.windows = check_windows(windows)
        self.stride = check_stride(stride)
        self.verbose = verbose
        self._tokenizer = None
        self._source: Path | None = None
        self.task: Task = task if task is not None else Classification()
        self.pairs_: bool | None = None

    # ------------------------------------------------------------------ lazy resources
    @property
    def source(self) -> Path:
        """Local folder of the model (a hub name is fetched to the cache on first use)."""
        if self._source is None:
            self._source = backend.resolve_model_source(self.model_name)
        return self._source

    @property
    def tokenizer(self) -> Any:
        """The fast tokenizer (loaded on first use)."""
        if self._tokenizer is None:
            self._tokenizer = backend.load_tokenizer(self.source)
            self._check_vocab()
        return self._tokenizer

    def get_tokenizer(self) -> Any:
        """Return the tokenizer (ktrain name)."""
        return self.tokenizer

    def _check_vocab(self) -> None:
        config = backend.load_config(self.source)
        vocab = getattr(config, "vocab_size", None)
        if vocab is not None and len(self._tokenizer) > vocab:
            raise ConfigError(
                f"The tokenizer in {self.source} has {len(self._tokenizer)} tokens but the model's "
                f"embedding table has {vocab}: they do not belong together. Use the tokenizer "
                "saved with this model."
            )
        self.model_limit_ = self._model_limit(config)

    def _model_limit(self, config: Any) -> int:
        limits = [512]
        tok_limit = getattr(self._tokenizer, "model_max_length", None)
        if isinstance(tok_limit, int) and 0 < tok_limit < 100_000:
            limits = [tok_limit]
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            offset = 2 if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert") else 0
            limits.append(positions - offset)
        return max(8, min(limits))

    @property
    def input_names(self) -> list[str]:
        names = list(getattr(self.tokenizer, "model_input_names", ["input_ids", "attention_mask"]))
        return [n for n in names if n in ("input_ids", "token_type_ids")]

    @property
    def model_input_names(self) -> list[str]:
        """Every input the model built from this preprocessor takes (the tokenizer's and
        ``attention_mask``), in its datasets' order."""
        return [*self.input_names, "attention_mask"]

    def prepare_dataset(self, data: Any) -> None:
        """Bring ``data`` (made by this preprocessor) up to the model built from it; nothing to
        do here (a tagging preprocessor adds the ``word_index`` input a BiLSTM tagger reads)."""

    # ------------------------------------------------------------------ fitted state
    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(
                "This Transformer has not seen training data. Call preprocess_train() first."
            )

    def get_classes(self) -> list:
        """Class names in id order (ktrain name)."""
        self._check_fitted()
        return list(self.labels_.classes_)

    # ------------------------------------------------------------------ tokenization
    def _tokenize(
        self, texts: list, max_length: int, stats: dict | None = None, *, stride: int | None = None
    ) -> dict[str, list[np.ndarray]]:
        """Tokenize ``texts`` (truncated to ``max_length``); ``stats["truncated"]`` gets the row
        indices that lost tokens to truncation.

        With ``stride``, single texts longer than ``max_length`` are cut into windows by the fast
        tokenizer (``return_overflowing_tokens``), consecutive windows sharing ``stride`` tokens;
        ``stats["text_index"]`` then gets the text of each row (``None`` when no text needed more
        than one window) and ``stats["windowed"]`` the texts cut into windows. Pairs are truncated.
        """
        names = self.input_names
        out: dict[str, list[np.ndarray]] = {name: [] for name in names}
        truncated: list[int] = []
        text_index: list[int] = []
        chunks: Any = range(0, len(texts), _TOKENIZE_CHUNK)
        if self.verbose and len(texts) > 20 * _TOKENIZE_CHUNK:  # tqdm only for a bar (see inference)
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc="tokenizing", unit="chunk")
        for start in chunks:
            chunk = texts[start : start + _TOKENIZE_CHUNK]
            cut = None if not chunk or isinstance(chunk[0], tuple) else stride
            try:
                enc = self._tokenize_chunk(chunk, max_length, names, stride=cut)
            except TypeError:  # lone surrogates (e.g. from JSON "\ud800") are not valid UTF-8
                enc = self._tokenize_chunk([_valid_unicode(t) for t in chunk], max_length, names, stride=cut)
            for name in names:
                out[name].extend(np.asarray(ids, dtype=np.int32) for ids in enc[name])
            if cut is None:
                encodings = getattr(enc, "encodings", None) or []
                truncated.extend(start + i for i, e in enumerate(encodings) if e.overflowing)
                text_index.extend(range(start, start + len(chunk)))
            else:
                text_index.extend(start + int(i) for i in _sample_mapping(enc))
        if stats is not None:
            stats["truncated"] = truncated
            index = np.asarray(text_index, dtype=np.int64)
            counts = np.bincount(index, minlength=len(texts)) if len(index) else np.zeros(0, dtype=np.int64)
            stats["windowed"] = np.flatnonzero(counts > 1).tolist()
            stats["text_index"] = index if stats["windowed"] else None
        return out

    def _tokenize_chunk(
        self, chunk: list, max_length: int, names: list[str], *, stride: int | None = None
    ) -> Any:
        if chunk and isinstance(chunk[0], tuple):
            chunk = [self._shorten_pair(a, b, max_length) for a, b in chunk]
            args: tuple = ([a for a, _ in chunk], [b for _, b in chunk])
        else:
            args = (chunk,)
        windows = {} if stride is None else {"return_overflowing_tokens": True, "stride": stride}
        return self.tokenizer(
            *args,
            truncation=True,
            max_length=max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids="token_type_ids" in names,
            **windows,
        )

    def _shorten_pair(self, a: str, b: str, max_length: int) -> tuple[str, str]:
        """``(a, b)`` cut to the tokens their pair truncation can keep, with the same result.

        The fast tokenizer truncates a pair ``longest_first`` and computes every overflow on the
        way, in memory that grows with the product of the two lengths: two 15,000-character
        texts took 12 GB and 17 s, two longer ones more than this machine has. Which tokens
        survive depends only on which text is longer and on their first ``max_length`` tokens,
        so a text longer than ``max_length + 2`` tokens is cut (at a token's start) to
        ``max_length + 2`` tokens if it is the longer of the two, ``max_length + 1`` otherwise:
        the order of the lengths is kept and both still exceed what truncation keeps.
        """
        if len(a) + len(b) <= 4 * max_length or not getattr(self.tokenizer, "is_fast", False):
            return a, b  # short (the common case), or a slow tokenizer (no offsets)
        enc = self.tokenizer([a, b], add_special_tokens=False, return_offsets_mapping=True, truncation=False)
        n_a, n_b = (len(ids) for ids in enc["input_ids"])

        def cut(text: str, offsets: list, n: int, other: int) -> str:
            keep = max_length + (2 if n > other else 1)
            return text[: offsets[keep][0]] if n > keep else text

        return cut(a, enc["offset_mapping"][0], n_a, n_b), cut(b, enc["offset_mapping"][1], n_b, n_a)

    def window_stride(self) -> int:
        """The stride of this preprocessor's windows: its ``stride``, default ``maxlen_ // 4``
        (checked against the text tokens a window of ``maxlen_`` tokens holds)."""
        if not hasattr(self, "maxlen_"):
            raise NotFittedError("Call preprocess_train() before asking for the window stride.")
        n_special = self.tokenizer.num_special_tokens_to_add(pair=False)
        return resolve_stride(self.stride, self.maxlen_, n_special)

    def _report_windows(self, stats: dict, total: int, where: str, level: int) -> None:
        windowed = stats.get("windowed") or []
        if windowed:
            rows = len(stats["text_index"])
            logger.log(
                level,
                "%d of %d %s text(s) are longer than maxlen=%d tokens: each is read in sliding windows "
                "of %d tokens overlapping by %d (%d windows in all; the first such text is at position "
                "%d). %s",
                len(windowed),
                total,
                where,
                self.maxlen_,
                self.maxlen_,
                self.window_stride(),
                rows - (total - len(windowed)),
                windowed[0],
                "Each window is a row with its text's label."
                if where != "prediction"
                else "Pass windows=False to truncate them instead.",
            )

    def _choose_maxlen(self, lengths: np.ndarray) -> int:
        limit = self.model_limit_
        value = int(math.ceil(np.percentile(lengths, self.auto_percentile)))
        value = min(limit, max(8, int(math.ceil(value / 8) * 8)))
        logger.info(
            "maxlen='auto' chose %d tokens (%.0fth percentile of %d training texts; model limit %d).",
            value,
            self.auto_percentile,
            len(lengths),
            limit,
        )
        return value

    def _encode(
        self, texts: list, stats: dict | None = None, *, windows: bool = False
    ) -> dict[str, list[np.ndarray]]:
        self.tokenizer  # noqa: B018 - load and check
        if not hasattr(self, "maxlen_"):
            raise NotFittedError("Call preprocess_train() before encoding other texts.")
        stride = self.window_stride() if windows else None
        return self._tokenize(texts, self.maxlen_, stats, stride=stride)

    def _report_truncation(self, truncated: Sequence[int], total: int, where: str, level: int) -> None:
        if truncated:
            logger.log(
                level,
                "%d of %d %s text(s) are longer than maxlen=%d tokens and were truncated "
                "(the model's limit is %d tokens); the first is at position %d.",
                len(truncated),
                total,
                where,
                self.maxlen_,
                getattr(self, "model_limit_", self.maxlen_),
                truncated[0],
            )

    # ------------------------------------------------------------------ public API
    def preprocess_train(self, texts: Any, y: Any = None, verbose: int | None = None) -> TransformerDataset:
        """Learn labels and maximum length from the training data and tokenize it.

        Parameters
        ----------
        texts : list of str, pandas Series, numpy array, or TextData
        y : list-like
            One label per text: ints, strings, booleans, or one-hot rows.

        Returns
        -------
        TransformerDataset
        """
        if verbose is not None:
            self.verbose = verbose
        batch_size = self.batch_size
        if isinstance(texts, TextData):
            batch_size = texts.batch_size or batch_size
            if y is None:
                y = texts.labels
        items = check_texts(texts, allow_pairs=True)
        labels = check_labels_length(items, y)
        if isinstance(y, np.ndarray) and y.ndim == 2:
            labels = y  # keep multi-hot/multi-target arrays whole
        task = self._resolve_task(labels)
        encoder = task.label_encoder(
            self.class_names, separator=self.label_separator, scale_targets=self.scale_targets
        ).fit(labels)
        y_ids = encoder.transform(labels)
        pairs = bool(items) and isinstance(items[0], tuple)
        if self.windows and pairs:
            raise ConfigError(
                "windows=True cuts single texts into windows; these training texts are (text_a, "
                "text_b) pairs, which are never cut into windows. Build the Transformer without "
                "windows=True (long pairs are then truncated)."
            )
        self.tokenizer  # noqa: B018 - load before choosing the length
        stats: dict = {}
        if self.maxlen == "auto":
            encoded = self._tokenize(items, self.model_limit_, stats)
            lengths = np.fromiter((len(s) for s in encoded["input_ids"]), dtype=np.int64)
            self.maxlen_ = self._choose_maxlen(lengths)
            long_rows = [i for i, n in enumerate(lengths) if n > self.maxlen_]
            if long_rows and self.windows:
                encoded = self._tokenize(items, self.maxlen_, stats, stride=self.window_stride())
            elif long_rows:
                again = self._tokenize([items[i] for i in long_rows], self.maxlen_)
                for name in encoded:
                    for row, seq in zip(long_rows, again[name]):
                        encoded[name][row] = seq
            stats["truncated"] = sorted(set(stats["truncated"]) | set(long_rows))
        else:
            if self.maxlen > self.model_limit_:
                raise ConfigError(
                    f"`maxlen`={self.maxlen} exceeds this model's limit of {self.model_limit_} "
                    "tokens. Pass a smaller maxlen or 'auto'."
                )
            self.maxlen_ = int(self.maxlen)
            stride = self.window_stride() if self.windows else None
            encoded = self._tokenize(items, self.maxlen_, stats, stride=stride)
        if self.stride is not None:
            self.window_stride()  # a stride the windows cannot use is said now, not at prediction
        text_index = stats.get("text_index") if self.windows else None
        if text_index is not None:
            self._report_windows(stats, len(items), "training", logging.INFO)
            y_ids = y_ids[text_index]
            items = [items[i] for i in text_index]
        else:
            self._report_truncation(stats["truncated"], len(items), "training", logging.INFO)
        self.labels_ = encoder
        self.task = task
        self.pairs_ = pairs
        return TransformerDataset(
            encoded,
            y_ids,
            items,
            pad_token_id=self._pad_id(),
            batch_size=batch_size,
            text_index=text_index,
            stride=None if text_index is None else self.window_stride(),
        )

    def _resolve_task(self, labels: Any) -> Task:
        """The task object: the one asked for, or the one the labels imply (logged)."""
        if self.task_option is not None:
            return self.task_option
        name = infer_task(labels)
        if name == "multilabel" and self.multilabel is False:
            raise DataError(
                "The labels hold several (or zero) labels per text, but multilabel=False was passed. "
                "Give one label per text, or drop multilabel=False."
            )
        if name != "classification":
            logger.info("The labels hold zero or several labels per text: training a %s model.", name)
        return make_task(name)

    def _check_inputs(self, items: list, where: str) -> None:
        """A model trained on pairs refuses single texts; one trained on single texts warns (once)
        when given pairs. Predictors saved before easytx recorded ``pairs`` are not checked."""
        if self.pairs_ is None or not items:
            return
        pairs = [isinstance(t, tuple) for t in items]
        if self.pairs_ and not all(pairs):
            i = pairs.index(False)
            raise DataError(
                f"This model was trained on sentence pairs; {where} item {i} is a single text "
                f"({str(items[i])[:40]!r}). Pass (text_a, text_b) tuples."
            )
        if not self.pairs_ and any(pairs) and not getattr(self, "_warned_pairs", False):
            self._warned_pairs = True  # tokenized as pairs, as before; said once
            logger.warning(
                "This model was trained on single texts; %s item %d is a (text_a, text_b) pair. It "
                "is tokenized as a pair, which the model never saw in training: retrain on pairs "
                "for a sentence-pair task.",
                where,
                pairs.index(True),
            )

    def preprocess_train_file(
        self,
        path: str | os.PathLike,
        *,
        text_column: str = "text",
        label_column: str = "label",
        batch_size: int | None = None,
        steps_per_epoch: int | None = None,
        format: str | None = None,
        encoding: str = "utf-8",
        window_batches: int = _BUCKET_WINDOW,
        sample_rows: int = 10_000,
    ) -> StreamingDataset:
        """Train from a CSV/TSV/JSONL file larger than memory: stream it, tokenize on the fly.

        One streaming pass counts the rows (and collects the classes when ``class_names`` was
        not given); ``maxlen="auto"`` is chosen from the first ``sample_rows`` texts. Nothing is
        held in memory but one window of ``window_batches * batch_size`` rows.

        Parameters
        ----------
        path : path
            ``.csv``, ``.tsv`` or ``.jsonl`` file (or pass ``format``), with a header for CSV/TSV.
        text_column, label_column : str
            Columns (CSV) or fields (JSONL) holding the text and the label.
        batch_size : int, optional
            Default: the preprocessor's ``batch_size``, else 32.
        steps_per_epoch : int, optional
            Batches per epoch; default: all rows once (``ceil(rows / batch_size)``).

        Returns
        -------
        StreamingDataset
            Pass it to :func:`easytx.get_learner` as ``train_data``.

        Examples
        --------
        >>> trn = t.preprocess_train_file("big.csv", text_column="review", label_column="stars",
        ...                               steps_per_epoch=1000)  # doctest: +SKIP
        """
        if self.windows:
            raise ConfigError(
                "preprocess_train_file streams one row per text and cannot cut texts into windows; "
                "this Transformer has windows=True. Build it without windows=True (long texts are "
                "then truncated for training; prediction still reads them in windows), or load the "
                "data in memory and use preprocess_train."
            )
        batch_size = check_positive_int(batch_size or self.batch_size or 32, "batch_size")
        sample_rows = check_positive_int(sample_rows, "sample_rows")
        rows = 0
        sample: list = []
        classes: set = set()
        for chunk in iter_table_chunks(
            path, columns=[text_column, label_column], chunk_rows=8192, format=format, encoding=encoding
        ):
            rows += len(chunk)
            if len(sample) < sample_rows:
                sample.extend(r[text_column] for r in chunk[: sample_rows - len(sample)])
            classes.update(_file_label(r[label_column]) for r in chunk)
            if len(classes) > 10_000:
                raise DataError(
                    f"{path}: column {label_column!r} holds more than 10,000 distinct labels; "
                    "a classifier needs a small set of classes."
                )
        encoder = ClassLabels(self.class_names).fit(sorted(classes, key=str))
        sample = check_texts(sample, name=f"{path} texts")
        self.tokenizer  # noqa: B018 - load before choosing the length
        if self.maxlen == "auto":
            encoded = self._tokenize(sample, self.model_limit_)
            self.maxlen_ = self._choose_maxlen(np.fromiter(map(len, encoded["input_ids"]), dtype=np.int64))
        else:
            if self.maxlen > self.model_limit_:
                raise ConfigError(
                    f"`maxlen`={self.maxlen} exceeds this model's limit of {self.model_limit_} "
                    "tokens. Pass a smaller maxlen or 'auto'."
                )
            self.maxlen_ = int(self.maxlen)
        if self.task_option is not None and self.task_option.name != "classification":
            raise ConfigError(
                f"preprocess_train_file streams single-label classification data; this "
                f"preprocessor was built for {self.task_option.name!r}. Load the data in memory "
                "and use preprocess_train, or build a Transformer without `task=`."
            )
        self.labels_ = encoder
        self.task = Classification()
        self.pairs_ = False
        steps = steps_per_epoch if steps_per_epoch is not None else math.ceil(rows / batch_size)
        return StreamingDataset(
            self,
            path,
            text_column=text_column,
            label_column=label_column,
            steps_per_epoch=steps,
            batch_size=batch_size,
            rows=rows,
            window_batches=window_batches,
            format=format,
            encoding=encoding,
        )

    def preprocess_test(
        self, texts: Any, y: Any = None, verbose: int | None = None, *, windows: bool | None = None
    ) -> TransformerDataset:
        """Tokenize validation/test data with what :meth:`preprocess_train` learned.

        Labels are optional; labels never seen in training raise a :class:`DataError`.
        ``windows`` (default: the preprocessor's ``windows``) cuts texts longer than ``maxlen``
        into windows, each row a window with its text's label (the dataset's ``text_index``
        says which); :func:`easytx.inference.merge_windows` pools answers back per text.
        """
        self._check_fitted()
        windows = self.windows if windows is None else check_windows(windows)
        if isinstance(texts, TextData) and y is None:
            y = texts.labels
        items = check_texts(texts, allow_pairs=True, allow_empty_strings=True)
        self._check_inputs(items, "test")
        y_ids = None
        if y is not None:
            labels = check_labels_length(items, y)
            y_ids = self.labels_.transform(y if isinstance(y, np.ndarray) and y.ndim == 2 else labels)
        stats: dict = {}
        encoded = self._encode(items, stats, windows=windows)
        text_index = stats["text_index"]
        self._report_truncation(stats["truncated"], len(items), "test", logging.INFO)
        if text_index is not None:
            self._report_windows(stats, len(items), "test", logging.INFO)
            y_ids = None if y_ids is None else y_ids[text_index]
            items = [items[i] for i in text_index]
        return TransformerDataset(
            encoded,
            y_ids,
            items,
            pad_token_id=self._pad_id(),
            batch_size=self.batch_size,
            text_index=text_index,
            stride=None if text_index is None else self.window_stride(),
        )

    preprocess_valid = preprocess_test

    def encode_for_prediction(self, texts: list, *, windows: bool = False) -> TransformerDataset:
        """Tokenize unlabelled texts (empty strings allowed) for prediction.

        Texts longer than ``maxlen_`` tokens are truncated; the first time this happens a
        warning says so (later occurrences are logged at DEBUG level, so a server's log is not
        flooded). With ``windows=True`` they are cut into windows instead (sentence pairs are
        still truncated): the dataset then has a row per window and its ``text_index`` says
        whose; the first time, an INFO line says so.
        """
        self._check_fitted()
        self._check_inputs(texts, "input")
        stats: dict = {}
        encoded = self._encode(texts, stats, windows=check_windows(windows))
        warned = getattr(self, "_warned_truncation", False)
        self._report_truncation(
            stats["truncated"], len(texts), "prediction", logging.DEBUG if warned else logging.WARNING
        )
        self._warned_truncation = warned or bool(stats["truncated"])
        text_index = stats["text_index"]
        if text_index is None:
            return TransformerDataset(encoded, None, texts, pad_token_id=self._pad_id())
        said = getattr(self, "_said_windows", False)
        self._report_windows(stats, len(texts), "prediction", logging.DEBUG if said else logging.INFO)
        self._said_windows = True
        rows = [texts[i] for i in text_index]
        return TransformerDataset(
            encoded,
            None,
            rows,
            pad_token_id=self._pad_id(),
            text_index=text_index,
            stride=self.window_stride(),
        )

    def encode_unlabelled(self, texts: list, *, maxlen: int | None = None) -> TransformerDataset:
        """Tokenize texts for a model used as it is, without training (a base model's embeddings).

        Nothing needs fitting: texts (or ``(text_a, text_b)`` pairs) are truncated to ``maxlen``
        tokens (default: the model's limit; a larger value raises :class:`ConfigError`), and the
        number truncated is logged at INFO level.
        """
        self.tokenizer  # noqa: B018 - load and check (sets model_limit_)
        limit = self.model_limit_
        length = limit if maxlen is None else check_positive_int(maxlen, "maxlen")
        if length > limit:
            raise ConfigError(
                f"`maxlen`={length} exceeds this model's limit of {limit} tokens. Pass a smaller "
                "maxlen, or None for the limit."
            )
        stats: dict = {}
        encoded = self._tokenize(texts, length, stats)
        if stats["truncated"]:
            logger.info(
                "%d of %d text(s) are longer than maxlen=%d tokens and were truncated; the first is "
                "at position %d.",
                len(stats["truncated"]),
                len(texts),
                length,
                stats["truncated"][0],
            )
        return TransformerDataset(encoded, None, texts, pad_token_id=self._pad_id())

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return 0 if pad is None else int(pad)

    def get_classifier(
        self,
        *,
        pretrained: bool = True,
        seed: int | None = None,
        strategy: Any = None,
        mixed_precision: str | None = None,
        backend: str | None = None,
        pooling: str = "auto",
        **kwargs: Any,
    ) -> Any:
        """Build the TF model with a classification head sized for the learned classes.

        Parameters
        ----------
        pretrained : bool
            Start from the checkpoint's weights (``False``: random weights, for tests).
        seed : int, optional
            Seeds Python, NumPy and TensorFlow before the model is built, so the new head's
            initial weights and the dropout generators are repeatable (pass the same seed to
            :func:`easytx.get_learner` for a repeatable run).
        strategy : tf.distribute.Strategy or str, optional
            Build the model inside this strategy's scope (see :mod:`easytx.distribute`); pass the
            same to :func:`easytx.get_learner`. Without it, ``get_learner(strategy=...)`` copies
            the model into the scope.
        mixed_precision : str, optional
            Keras dtype policy to build under (``"mixed_float16"``, ``"mixed_bfloat16"``).
        backend : {"auto", "keras3", "transformers"}, optional
            Which model backend builds the model (see :func:`easytx.backend.choose_backend`):
            easytx's Keras 3 encoders for the BERT family, or transformers' TF classes (legacy
            extra). ``None`` takes ``EASYTX_BACKEND``, default ``"auto"``.
        pooling : {"auto", "mean", "cls"}
            What the head reads: ``"cls"`` the first token (transformers' heads), ``"mean"`` the
            mean of the text's tokens (Keras 3 encoders only). ``"auto"`` takes ``"mean"`` for a
            sentence-transformers model that pools by mean (the default model
            all-MiniLM-L6-v2 does), ``"cls"`` otherwise; see ``docs/training-defaults.md``.
            Taggers ignore it.
        **kwargs
            Config overrides, e.g. ``hidden_dropout_prob=0.2``. ktrain's ``fpath``, ``metrics``
            and ``multilabel`` arguments are accepted for compatibility when unused.
        """
        self._check_fitted()
        backend_name = backend
        from . import backend as model_backends  # the module (the argument shadows its name)

        for name in ("fpath", "metrics"):
            if kwargs.pop(name, None) is not None:
                raise ConfigError(f"`{name}` is not supported by easytx's get_classifier().")
        multilabel = kwargs.pop("multilabel", None)
        if multilabel is not None and bool(multilabel) != (self.task.name == "multilabel"):
            raise ConfigError(
                f"get_classifier(multilabel={multilabel}) does not match the task learned from the "
                f"training labels ({self.task.name!r}). Pass multilabel=... (or task=...) to the "
                "Transformer instead, before preprocess_train()."
            )
        id2label = {i: str(c) for i, c in enumerate(self.labels_.classes_)}
        from .encoders.config import POOLING_KEY

        if (
            model_backends.resolve_pooling(self.source, pooling, head=self.task.head, backend=backend_name)
            != "cls"
        ):
            kwargs[POOLING_KEY] = "mean"
        if seed is not None:
            from ._keras import set_random_seed

            set_random_seed(seed)
        from .distribute import build_scope

        with build_scope(strategy, mixed_precision):
            model = model_backends.build_model(
                self.source,
                head=self.task.head,
                num_labels=self.task.n_outputs(self.labels_),
                id2label=id2label,
                pretrained=pretrained,
                config_overrides=kwargs,
                backend=backend_name,
            )
            bias = self.task.initial_bias(self.labels_)
            if bias is not None:
                model_backends.set_output_bias(model, bias)
        # the Learner compiles with this very task object; get_learner and tune tokenize TextData
        # for this model with this preprocessor
        bind(model, task=self.task, preproc=self)
        return model

    def get_regression_model(self, **kwargs: Any) -> Any:
        """Build the TF model for a regression task (ktrain name); see :meth:`get_classifier`."""
        self._check_fitted()
        if self.task.name != "regression":
            raise ConfigError(
                f"get_regression_model() needs a regression preprocessor; this one learned the "
                f"{self.task.name!r} task. Pass task='regression' to the Transformer."
            )
        return self.get_classifier(**kwargs)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-safe description of the fitted preprocessor (without the tokenizer files)."""
        self._check_fitted()
        return {
            "model_name": self.model_name,
            "maxlen": self.maxlen_,
            "maxlen_option": self.maxlen,
            "model_limit": int(getattr(self, "model_limit_", self.maxlen_)),
            "input_names": self.input_names,
            "task": self.task.name,
            "task_config": self.task.get_config(),
            "pairs": bool(self.pairs_),
            "labels": self.labels_.to_dict(),
            "windows": {"train": bool(self.windows), "stride": self.stride},
        }

    @classmethod
    def from_dict(
        cls, data: dict, tokenizer_folder: Path, *, tokenizer_loader: Callable[..., Any] | None = None
    ) -> Transformer:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output and a tokenizer folder.

        ``tokenizer_loader(folder, **options)`` reads the tokenizer (default:
        :func:`easytx.backend.load_tokenizer`, a transformers fast tokenizer); the ONNX engine
        passes one that reads ``tokenizer.json`` with the ``tokenizers`` package alone
        (:func:`easytx.tokenizer_json.load_json_tokenizer`), so that everything else here (the
        tokenization calls, truncation, batching, label decoding) is the same code for both engines.
        """
        kind = preprocessor_class(data.get("preprocessor", "transformer"))
        if kind is not cls and issubclass(kind, cls):
            return kind.from_dict(data, tokenizer_folder, tokenizer_loader=tokenizer_loader)
        labels = label_encoder_from_dict(data["labels"])
        class_names = getattr(labels, "class_names", None)
        t = cls(data["model_name"], maxlen=int(data["maxlen"]), class_names=class_names, verbose=0)
        t._source = Path(tokenizer_folder)
        t._tokenizer = (tokenizer_loader or backend.load_tokenizer)(Path(tokenizer_folder))
        t.model_limit_ = int(data.get("model_limit", data["maxlen"]))
        t.maxlen_ = int(data["maxlen"])
        t.labels_ = labels
        t.task = task_from_name(data["task"], data.get("task_config"))
        t.task_option = t.task
        t.pairs_ = data["pairs"] if isinstance(data.get("pairs"), bool) else None
        t._restore_windows(data)
        names = t.input_names
        if names != data["input_names"]:
            raise DataError(
                f"The saved tokenizer produces inputs {names}, but the predictor was trained on "
                f"{data['input_names']}."
            )
        return t

    def _restore_windows(self, data: dict) -> None:
        """The window options of a saved preprocessor (absent before easytx had windows)."""
        options = data.get("windows")
        if options is None:
            return
        try:
            self.windows = check_windows(options.get("train", False))
            self.stride = check_stride(options.get("stride"))
        except (AttributeError, ConfigError) as exc:
            raise ArtifactError(f"The saved window options {options!r} are invalid: {exc}") from None

    def save_tokenizer(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(str(folder))


register_preprocessor("transformer", Transformer)
