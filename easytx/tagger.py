"""Token classification (NER, chunking, POS): the tagging preprocessor and its datasets.

:class:`TaggingTransformer` is the :class:`~easytx.preprocess.Transformer` for sentences given as
word lists with one tag per word. It tokenizes the words with the fast tokenizer
(``is_split_into_words=True``), puts each word's tag on its first sub-token and
:data:`~easytx.tagging.IGNORE_INDEX` on the others, and at prediction time splits raw text into
words whose character spans give the entities' offsets. The task itself (loss, metrics,
decoding, entity-level report) is :class:`easytx.tasks.TokenClassification`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from .errors import ConfigError, DataError
from .preprocess import Transformer, TransformerDataset
from .tagging import IGNORE_INDEX, TagLabels, align_labels, check_scheme_name, check_tagged, split_words

logger = logging.getLogger(__name__)

__all__ = ["TaggingTransformer", "TaggedDataset"]

_PREFIX_SPACE_MODELS = ("roberta", "xlm-roberta", "camembert", "longformer", "bart", "gpt2", "deberta")


class TaggedDataset(TransformerDataset):
    """Tokenized sentences for token classification.

    Attributes (besides :class:`~easytx.preprocess.TransformerDataset`'s)
    -------------------------------------------------------------------
    y : numpy array of int32, shape (n, maxlen) or None
        Label id of each sub-token, :data:`~easytx.tagging.IGNORE_INDEX` where there is none
        (later sub-tokens of a word, special tokens, padding). Batches are cut to their width.
    words : list of list of str
        The words of each sentence.
    word_ids : list of list of (int or None)
        For each sub-token, the index of its word (``None`` for special tokens).
    spans : list of list of (int, int) or None
        Character span of each word in :attr:`raw` (prediction on raw text only).
    raw : list of str or None
        The raw texts the words were split from.
    """

    def __init__(
        self,
        x: dict[str, list[np.ndarray]],
        y: np.ndarray | None,
        words: list[list[str]],
        word_ids: list[list[int | None]],
        *,
        pad_token_id: int,
        batch_size: int | None = None,
        spans: list | None = None,
        raw: list | None = None,
    ):
        super().__init__(x, y, words, pad_token_id=pad_token_id, batch_size=batch_size)
        self.words = words
        self.word_ids = word_ids
        self.spans = spans
        self.raw = raw

    def __repr__(self) -> str:
        return f"TaggedDataset({len(self)} sentences, labelled={self.y is not None})"

    def subset(self, index: Sequence[int]) -> TaggedDataset:
        index = np.asarray(index, dtype=np.int64)
        pick = lambda seq: None if seq is None else [seq[i] for i in index]  # noqa: E731
        return TaggedDataset(
            {name: pick(seqs) for name, seqs in self.x.items()},
            None if self.y is None else self.y[index],
            pick(self.words),
            pick(self.word_ids),
            pad_token_id=self.pad_token_id,
            batch_size=self.batch_size,
            spans=pick(self.spans),
            raw=pick(self.raw),
        )

    # batches carry labels cut to their own (dynamic) width
    def batch_labels(self, index: Sequence[int], width: int) -> np.ndarray:
        return self.y[index, :width]

    def label_spec(self) -> Any:
        import tensorflow as tf

        return tf.TensorSpec((None, None), tf.int32)


class TaggingTransformer(Transformer):
    """Preprocessor for token classification (NER and other tagging) with a pretrained transformer.

    Parameters
    ----------
    model_name : str or path
        A Hugging Face hub name or a local model folder (a fast tokenizer is required).
    maxlen : int or "auto"
        Maximum sub-tokens per sentence (``"auto"``: the 99th percentile of the training
        sentences). Words cut off by truncation are predicted as ``O`` (a warning says so).
    batch_size : int, optional
        Default batch size carried by the datasets.
    tag_scheme : {"auto", "IOB1", "IOB2", "BIOES", "none"}
        Scheme of the training tags (detected by default). The model learns IOB2 tags; word
        tags returned by ``predict(..., return_tokens=True)`` are in this scheme. ``"none"``
        is plain tagging (e.g. part of speech): no entities.
    verbose : int
        ``0`` silences progress bars.

    Examples
    --------
    >>> t = TaggingTransformer("distilbert-base-cased", maxlen=64)  # doctest: +SKIP
    >>> trn = t.preprocess_train([["EU", "rejects", "German", "call"]], [["B-ORG", "O", "B-MISC", "O"]])
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        model_name: str | os.PathLike,
        maxlen: int | str = "auto",
        batch_size: int | None = None,
        *,
        tag_scheme: str = "auto",
        auto_percentile: float = 99.0,
        verbose: int = 1,
    ):
        super().__init__(
            model_name, maxlen=maxlen, batch_size=batch_size, auto_percentile=auto_percentile, verbose=verbose
        )
        check_scheme_name(tag_scheme)
        self.tag_scheme = tag_scheme
        from .tasks import TokenClassification

        self.task = TokenClassification()
        self.task.preproc = self  # decode() re-tokenizes texts when it is given no inputs
        self.task_option = self.task
        self.pairs_ = False

    # ------------------------------------------------------------------ tokenizer
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from . import backend

            config = backend.load_config(self.source)
            self.add_prefix_space_ = getattr(config, "model_type", "") in _PREFIX_SPACE_MODELS
            self._tokenizer = self._load_tokenizer(self.source)
            if not getattr(self._tokenizer, "is_fast", False):
                raise ConfigError(
                    f"Token classification needs a fast (Rust) tokenizer to map sub-tokens to words; "
                    f"the tokenizer in {self.source} has none. Use a model with tokenizer.json."
                )
            self._check_vocab()
        return self._tokenizer

    def _load_tokenizer(self, folder: Path, *, loader: Callable[..., Any] | None = None) -> Any:
        from . import backend

        # byte-level BPE tokenizers (RoBERTa...) need add_prefix_space to take pre-split words
        options = {"add_prefix_space": True} if getattr(self, "add_prefix_space_", False) else {}
        return (loader or backend.load_tokenizer)(folder, **options)

    def _tokenize_words(
        self, sentences: list[list[str]], max_length: int
    ) -> tuple[dict[str, list[np.ndarray]], list[list[int | None]], list[int]]:
        """Tokenize word lists; return (ids per input, word_ids per sentence, truncated rows)."""
        names = self.input_names
        out: dict[str, list[np.ndarray]] = {name: [] for name in names}
        word_ids: list[list[int | None]] = []
        truncated: list[int] = []
        chunk = 2048
        for start in range(0, len(sentences), chunk):
            part = sentences[start : start + chunk]
            enc = self.tokenizer(
                part,
                is_split_into_words=True,
                truncation=True,
                max_length=max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids="token_type_ids" in names,
            )
            for name in names:
                out[name].extend(np.asarray(ids, dtype=np.int32) for ids in enc[name])
            for i in range(len(part)):
                ids = enc.word_ids(i)
                word_ids.append(ids)
                last = max((w for w in ids if w is not None), default=-1)
                if last < len(part[i]) - 1 and any(_has_tokens(w) for w in part[i][last + 1 :]):
                    truncated.append(start + i)
        return out, word_ids, truncated

    def _labels_array(self, word_ids: list, label_ids: list[list[int]], width: int) -> np.ndarray:
        y = np.full((len(word_ids), max(width, 1)), IGNORE_INDEX, dtype=np.int32)
        for row, (ids, labels) in enumerate(zip(word_ids, label_ids)):
            aligned = align_labels(ids, labels)
            y[row, : len(aligned)] = aligned
        return y

    def _warn_truncated(self, truncated: list[int], total: int, where: str, level: int) -> None:
        if truncated:
            logger.log(
                level,
                "%d of %d %s sentence(s) are longer than maxlen=%d sub-tokens; their last words "
                "are predicted as 'O' (first at position %d). Pass a larger maxlen to keep them.",
                len(truncated),
                total,
                where,
                self.maxlen_,
                truncated[0],
            )

    # ------------------------------------------------------------------ public API
    def preprocess_train(self, sentences: Any, tags: Any = None, verbose: int | None = None) -> TaggedDataset:
        """Learn the tags and the maximum length from training sentences and tokenize them.

        Parameters
        ----------
        sentences : list of list of str
            Words of each sentence.
        tags : list of list of str
            One tag per word.

        Returns
        -------
        TaggedDataset
        """
        if verbose is not None:
            self.verbose = verbose
        if tags is None:
            raise DataError("preprocess_train() needs tags: one list of tags per sentence.")
        sentences, tags = check_tagged(sentences, tags, where="training data")
        encoder = TagLabels(self.tag_scheme).fit(tags)
        label_ids = encoder.transform(tags, where="training data")
        self.tokenizer  # noqa: B018 - load before choosing the length
        if self.maxlen == "auto":
            encoded, word_ids, _ = self._tokenize_words(sentences, self.model_limit_)
            lengths = np.fromiter((len(s) for s in encoded["input_ids"]), dtype=np.int64)
            self.maxlen_ = self._choose_maxlen(lengths)
            if (lengths > self.maxlen_).any():
                encoded, word_ids, truncated = self._tokenize_words(sentences, self.maxlen_)
            else:
                truncated = []
        else:
            if self.maxlen > self.model_limit_:
                raise ConfigError(
                    f"`maxlen`={self.maxlen} exceeds this model's limit of {self.model_limit_} "
                    "tokens. Pass a smaller maxlen or 'auto'."
                )
            self.maxlen_ = int(self.maxlen)
            encoded, word_ids, truncated = self._tokenize_words(sentences, self.maxlen_)
        self._warn_truncated(truncated, len(sentences), "training", logging.INFO)
        self.labels_ = encoder
        y = self._labels_array(word_ids, label_ids, self.maxlen_)
        return TaggedDataset(
            encoded, y, sentences, word_ids, pad_token_id=self._pad_id(), batch_size=self.batch_size
        )

    def preprocess_test(self, sentences: Any, tags: Any = None, verbose: int | None = None) -> TaggedDataset:
        """Tokenize validation/test sentences; tags (optional) of unknown types raise DataError."""
        self._check_fitted()
        sentences, tags = check_tagged(sentences, tags, where="test data")
        encoded, word_ids, truncated = self._tokenize_words(sentences, self.maxlen_)
        self._warn_truncated(truncated, len(sentences), "test", logging.INFO)
        y = None
        if tags is not None:
            label_ids = self.labels_.transform(tags, where="test data")
            y = self._labels_array(word_ids, label_ids, self.maxlen_)
        return TaggedDataset(
            encoded, y, sentences, word_ids, pad_token_id=self._pad_id(), batch_size=self.batch_size
        )

    preprocess_valid = preprocess_test

    def encode_for_prediction(self, texts: list) -> TaggedDataset:
        """Split raw texts into words (with character spans) and tokenize them."""
        self._check_fitted()
        words, spans = [], []
        for text in texts:
            if not isinstance(text, str):
                raise DataError(
                    f"A tagger predicts on raw texts (strings); received {type(text).__name__}. Join "
                    "pre-split words with spaces."
                )
            w, s = split_words(text)
            words.append(w)
            spans.append(s)
        encoded, word_ids, truncated = self._tokenize_words(words, self.maxlen_)
        warned = getattr(self, "_warned_truncation", False)
        self._warn_truncated(
            truncated, len(texts), "prediction", logging.DEBUG if warned else logging.WARNING
        )
        self._warned_truncation = warned or bool(truncated)
        return TaggedDataset(
            encoded, None, words, word_ids, pad_token_id=self._pad_id(), spans=spans, raw=list(texts)
        )

    def get_classifier(self, **kwargs: Any) -> Any:
        """Build the TF model with a token-classification head (one output per IOB2 tag)."""
        return super().get_classifier(**kwargs)

    get_tagger = get_classifier

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        data = super().to_dict()
        data["preprocessor"] = "tagging"
        data["tag_scheme"] = self.labels_.scheme_
        data["add_prefix_space"] = bool(getattr(self, "add_prefix_space_", False))
        return data

    @classmethod
    def from_dict(
        cls, data: dict, tokenizer_folder: Path, *, tokenizer_loader: Callable[..., Any] | None = None
    ) -> TaggingTransformer:
        """Rebuild a fitted tagging preprocessor (see :meth:`Transformer.from_dict`)."""
        from .labels import label_encoder_from_dict

        t = cls(
            data["model_name"],
            maxlen=int(data["maxlen"]),
            tag_scheme=data.get("tag_scheme", "auto"),
            verbose=0,
        )
        t._source = Path(tokenizer_folder)
        t.add_prefix_space_ = bool(data.get("add_prefix_space", False))
        t._tokenizer = t._load_tokenizer(Path(tokenizer_folder), loader=tokenizer_loader)
        t.model_limit_ = int(data.get("model_limit", data["maxlen"]))
        t.maxlen_ = int(data["maxlen"])
        t.labels_ = label_encoder_from_dict(data["labels"])
        names = t.input_names
        if names != data["input_names"]:
            raise DataError(
                f"The saved tokenizer produces inputs {names}, but the predictor was trained on "
                f"{data['input_names']}."
            )
        return t


def _has_tokens(word: str) -> bool:
    """Whether a word would produce sub-tokens (words of spaces/control characters produce none)."""
    return bool(word.strip())


def build_tagged(
    x_train: list,
    y_train: list,
    x_val: list | None,
    y_val: list | None,
    *,
    model: Any,
    maxlen: Any = "auto",
    val_pct: float = 0.1,
    random_state: int | None = None,
    tag_scheme: str = "auto",
    batch_size: int | None = None,
    verbose: int = 1,
) -> tuple[TaggedDataset, TaggedDataset, TaggingTransformer]:
    """Split (when no validation data is given), fit a :class:`TaggingTransformer`, tokenize."""
    x_train, y_train = check_tagged(x_train, y_train, where="training data")
    if x_val is None:
        if not 0.0 < val_pct < 1.0:
            raise ConfigError(f"`val_pct` must lie in (0, 1). Received: val_pct={val_pct!r}")
        n = len(x_train)
        n_val = int(round(n * val_pct))
        if n_val < 1 or n_val >= n:
            raise DataError(
                f"val_pct={val_pct} of {n} sentences leaves no validation or no training sentences; "
                "pass val_filepath/val_df or more data."
            )
        order = np.random.default_rng(random_state).permutation(n)
        val_idx, trn_idx = sorted(order[:n_val]), sorted(order[n_val:])
        x_val, y_val = [x_train[i] for i in val_idx], [y_train[i] for i in val_idx]
        x_train, y_train = [x_train[i] for i in trn_idx], [y_train[i] for i in trn_idx]
    preproc = TaggingTransformer(
        model, maxlen=maxlen, batch_size=batch_size, tag_scheme=tag_scheme, verbose=verbose
    )
    trn = preproc.preprocess_train(x_train, y_train)
    val = preproc.preprocess_test(x_val, y_val)
    return trn, val, preproc
