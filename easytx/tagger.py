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
from .errors import ArtifactError, ConfigError, DataError, NotFittedError
from .preprocess import Transformer, TransformerDataset, _sample_mapping, register_preprocessor
from .tagging import (
    IGNORE_INDEX,
    TagLabels,
    WordVocabulary,
    align_labels,
    check_scheme_name,
    check_tagged,
    first_subtokens,
    split_words,
)
from .windows import check_windows, gather_tokens, token_plan

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

    With sliding windows (``text_index`` set) every row is a window: ``words``, ``spans`` and
    ``raw`` are its sentence's, and ``word_ids`` index the sentence's words.
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
        text_index: np.ndarray | None = None,
        stride: int | None = None,
    ):
        super().__init__(
            x,
            y,
            words,
            pad_token_id=pad_token_id,
            batch_size=batch_size,
            text_index=text_index,
            stride=stride,
        )
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
            text_index=self._subset_text_index(index),
            stride=self.stride,
        )

    def per_text(self) -> TaggedDataset:
        """Windows of a sentence put back together (see :meth:`merge_token_windows`)."""
        return self.merge_token_windows(None)[1]

    def merge_token_windows(self, values: np.ndarray | None) -> tuple[np.ndarray | None, TaggedDataset]:
        """Each sentence's tokens from its windows, each token from the window where it lies
        farthest from a window edge (:func:`easytx.windows.token_plan`).

        Parameters
        ----------
        values : numpy array, shape (n_rows, width, ...), or None
            Token-level outputs of this dataset's rows (probabilities).

        Returns
        -------
        (values, dataset)
            ``values`` per sentence over its whole token sequence, zero-padded (``None`` when
            ``values`` is); the dataset with one row per sentence: the whole sequence's token ids,
            ``word_ids`` and labels (each word's label on its first sub-token), so the rows decode
            and score like sentences that fit in ``maxlen``.
        """
        if self.text_index is None:
            return values, self
        order = np.argsort(self.text_index, kind="stable")
        bounds = np.flatnonzero(np.diff(self.text_index[order])) + 1
        groups = np.split(order, bounds) if len(order) else []
        plans, word_ids = [], []
        for rows in groups:
            plan, ids = token_plan(self.word_ids, rows, int(self.stride), input_ids=self.x["input_ids"])
            plans.append(plan)
            word_ids.append(ids)
        x = {
            name: [np.asarray([seqs[r][p] for r, p in plan], dtype=np.int32) for plan in plans]
            for name, seqs in self.x.items()
        }
        y = None
        if self.y is not None:
            width = max((len(plan) for plan in plans), default=1)
            y = np.full((len(plans), width), IGNORE_INDEX, dtype=self.y.dtype)
            for i, (plan, ids) in enumerate(zip(plans, word_ids)):
                previous = None
                for position, ((r, p), word) in enumerate(zip(plan, ids)):
                    if word is not None and word != previous:  # a word's first sub-token
                        y[i, position] = self.y[r, p]
                    previous = word
        first = [rows[0] for rows in groups]
        pick = lambda seq: None if seq is None else [seq[i] for i in first]  # noqa: E731
        data = TaggedDataset(
            x,
            y,
            pick(self.words),
            word_ids,
            pad_token_id=self.pad_token_id,
            batch_size=self.batch_size,
            spans=pick(self.spans),
            raw=pick(self.raw),
        )
        return (None if values is None else gather_tokens(values, plans)), data

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
        sentences). At prediction a longer text is read in sliding windows and each word is
        predicted by the window where it has the most context (see ``docs/long-texts.md``);
        with ``predict(..., windows=False)`` the words cut off are predicted as ``O`` (a warning
        says so).
    batch_size : int, optional
        Default batch size carried by the datasets.
    tag_scheme : {"auto", "IOB1", "IOB2", "BIOES", "none"}
        Scheme of the training tags (detected by default). The model learns IOB2 tags; word
        tags returned by ``predict(..., return_tokens=True)`` are in this scheme. ``"none"``
        is plain tagging (e.g. part of speech): no entities.
    windows : bool
        Train on every part of sentences longer than ``maxlen``: each window of ``maxlen``
        sub-tokens becomes a training row with its words' tags (default ``False``: truncated).
    stride : int, optional
        Sub-tokens shared by consecutive windows (default ``maxlen // 4``).
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
        windows: bool = False,
        stride: int | None = None,
        verbose: int = 1,
    ):
        super().__init__(
            model_name,
            maxlen=maxlen,
            batch_size=batch_size,
            auto_percentile=auto_percentile,
            windows=windows,
            stride=stride,
            verbose=verbose,
        )
        check_scheme_name(tag_scheme)
        self.tag_scheme = tag_scheme
        from .tasks import TokenClassification

        self.task = TokenClassification()
        self.task.preproc = self  # decode() re-tokenizes texts when it is given no inputs
        self.task_option = self.task
        self.pairs_ = False
        # ktrain's BiLSTM tagger reads the words too: their vocabulary, once a tagger asks for it
        self.word_vocab_: WordVocabulary | None = None
        self._train_vocab: WordVocabulary | None = None

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
        self,
        sentences: list[list[str]],
        max_length: int,
        *,
        stride: int | None = None,
        stats: dict | None = None,
    ) -> tuple[dict[str, list[np.ndarray]], list[list[int | None]], list[int]]:
        """Tokenize word lists; return (ids per input, word_ids per row, truncated sentences).

        With ``stride``, sentences longer than ``max_length`` are cut into windows sharing
        ``stride`` sub-tokens (see :meth:`Transformer._tokenize`): ``stats`` gets ``text_index``
        (the sentence of each row, ``None`` when none was cut) and ``windowed``.
        """
        names = self.input_names
        out: dict[str, list[np.ndarray]] = {name: [] for name in names}
        word_ids: list[list[int | None]] = []
        truncated: list[int] = []
        text_index: list[int] = []
        chunk = 2048
        windows = {} if stride is None else {"return_overflowing_tokens": True, "stride": stride}
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
                **windows,
            )
            for name in names:
                out[name].extend(np.asarray(ids, dtype=np.int32) for ids in enc[name])
            mapping = range(len(part)) if stride is None else _sample_mapping(enc)
            for row, i in enumerate(mapping):
                ids = enc.word_ids(row)
                word_ids.append(ids)
                text_index.append(start + int(i))
                if stride is not None:
                    continue
                last = max((w for w in ids if w is not None), default=-1)
                if last < len(part[i]) - 1 and any(_has_tokens(w) for w in part[i][last + 1 :]):
                    truncated.append(start + i)
        if stats is not None:
            index = np.asarray(text_index, dtype=np.int64)
            counts = np.bincount(index, minlength=len(sentences)) if len(index) else np.zeros(0, dtype=int)
            stats["windowed"] = np.flatnonzero(counts > 1).tolist()
            stats["text_index"] = index if stats["windowed"] else None
        return out, word_ids, truncated

    def _labels_array(self, word_ids: list, label_ids: list[list[int]], width: int) -> np.ndarray:
        y = np.full((len(word_ids), max(width, 1)), IGNORE_INDEX, dtype=np.int32)
        for row, (ids, labels) in enumerate(zip(word_ids, label_ids)):
            aligned = align_labels(ids, labels)
            y[row, : len(aligned)] = aligned
        return y

    def _windowed(self, sentences: list, words: list, stats: dict, where: str, level: int) -> tuple:
        """Rows' sentences (and other per-sentence lists) for a windowed tokenization; logs."""
        text_index = stats["text_index"]
        if text_index is None:
            return sentences, words
        self._report_windows(stats, len(sentences), where, level)
        pick = lambda seq: None if seq is None else [seq[i] for i in text_index]  # noqa: E731
        return pick(sentences), pick(words)

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
        stats: dict = {"text_index": None}
        if self.maxlen == "auto":
            encoded, word_ids, _ = self._tokenize_words(sentences, self.model_limit_)
            lengths = np.fromiter((len(s) for s in encoded["input_ids"]), dtype=np.int64)
            self.maxlen_ = self._choose_maxlen(lengths)
            if (lengths > self.maxlen_).any():
                stride = self.window_stride() if self.windows else None
                encoded, word_ids, truncated = self._tokenize_words(
                    sentences, self.maxlen_, stride=stride, stats=stats
                )
            else:
                truncated = []
        else:
            if self.maxlen > self.model_limit_:
                raise ConfigError(
                    f"`maxlen`={self.maxlen} exceeds this model's limit of {self.model_limit_} "
                    "tokens. Pass a smaller maxlen or 'auto'."
                )
            self.maxlen_ = int(self.maxlen)
            stride = self.window_stride() if self.windows else None
            encoded, word_ids, truncated = self._tokenize_words(
                sentences, self.maxlen_, stride=stride, stats=stats
            )
        if self.stride is not None:
            self.window_stride()  # a stride the windows cannot use is said now, not at prediction
        self._warn_truncated(truncated, len(sentences), "training", logging.INFO)
        self.labels_ = encoder
        rows, label_ids = self._windowed(sentences, label_ids, stats, "training", logging.INFO)
        y = self._labels_array(word_ids, label_ids, self.maxlen_)
        self._train_vocab = WordVocabulary.from_sentences(sentences)
        return self._dataset(encoded, y, rows, word_ids, stats, batch_size=self.batch_size)

    def preprocess_test(
        self, sentences: Any, tags: Any = None, verbose: int | None = None, *, windows: bool | None = None
    ) -> TaggedDataset:
        """Tokenize validation/test sentences; tags (optional) of unknown types raise DataError.

        ``windows`` (default: the preprocessor's ``windows``) cuts sentences longer than
        ``maxlen`` into windows (see :meth:`Transformer.preprocess_test`).
        """
        self._check_fitted()
        windows = self.windows if windows is None else check_windows(windows)
        sentences, tags = check_tagged(sentences, tags, where="test data")
        stats: dict = {}
        stride = self.window_stride() if windows else None
        encoded, word_ids, truncated = self._tokenize_words(
            sentences, self.maxlen_, stride=stride, stats=stats
        )
        self._warn_truncated(truncated, len(sentences), "test", logging.INFO)
        label_ids = None if tags is None else self.labels_.transform(tags, where="test data")
        rows, label_ids = self._windowed(sentences, label_ids, stats, "test", logging.INFO)
        y = None if label_ids is None else self._labels_array(word_ids, label_ids, self.maxlen_)
        return self._dataset(encoded, y, rows, word_ids, stats, batch_size=self.batch_size)

    preprocess_valid = preprocess_test

    def encode_for_prediction(self, texts: list, *, windows: bool = False) -> TaggedDataset:
        """Split raw texts into words (with character spans) and tokenize them.

        With ``windows=True`` a text longer than ``maxlen`` sub-tokens is cut into windows (one
        row each, ``text_index`` says whose; :meth:`TaggedDataset.merge_token_windows` puts the
        predictions back together); otherwise its last words are cut off (predicted ``O``).
        """
        self._check_fitted()
        windows = check_windows(windows)
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
        stats: dict = {}
        stride = self.window_stride() if windows else None
        encoded, word_ids, truncated = self._tokenize_words(words, self.maxlen_, stride=stride, stats=stats)
        warned = getattr(self, "_warned_truncation", False)
        self._warn_truncated(
            truncated, len(texts), "prediction", logging.DEBUG if warned else logging.WARNING
        )
        self._warned_truncation = warned or bool(truncated)
        said = getattr(self, "_said_windows", False)
        rows, spans = self._windowed(
            words, spans, stats, "prediction", logging.DEBUG if said else logging.INFO
        )
        self._said_windows = said or stats["text_index"] is not None
        raw = list(texts) if stats["text_index"] is None else [texts[i] for i in stats["text_index"]]
        return self._dataset(encoded, None, rows, word_ids, stats, spans=spans, raw=raw)

    def get_classifier(self, **kwargs: Any) -> Any:
        """Build the TF model with a token-classification head (one output per IOB2 tag).

        ``easytx_token_head={"kind": "bilstm", ...}`` (see :class:`easytx.encoders.TokenHead`;
        ``text.sequence_tagger('bilstm-transformer', ...)`` passes it) builds ktrain's BiLSTM
        tagger: the training words become its vocabulary (:meth:`use_word_index`).
        """
        from .encoders.config import TOKEN_HEAD_KEY

        spec = kwargs.get(TOKEN_HEAD_KEY)
        if isinstance(spec, dict) and spec.get("kind", "linear") != "linear":
            kwargs[TOKEN_HEAD_KEY] = {**spec, "word_vocab_size": self.use_word_index()}
        return super().get_classifier(**kwargs)

    # ------------------------------------------------------------------ word vocabulary
    def use_word_index(self) -> int:
        """Give every dataset of this preprocessor a ``word_index`` input (ktrain's BiLSTM tagger
        reads the words as well as the transformer); return the vocabulary size.

        The vocabulary is the training words (:class:`~easytx.tagging.WordVocabulary`, ktrain's).
        """
        self._check_fitted()
        if self.word_vocab_ is None:
            if self._train_vocab is None:
                raise NotFittedError(
                    "This tagging preprocessor was restored without its training words; a BiLSTM "
                    "tagger needs them. Build it from the preprocessor that ran preprocess_train()."
                )
            self.word_vocab_ = self._train_vocab
        return len(self.word_vocab_)

    @property
    def model_input_names(self) -> list[str]:
        names = super().model_input_names
        return names if self.word_vocab_ is None else [*names, "word_index"]

    def _word_ids_of(self, words: list, word_ids: list) -> np.ndarray:
        out = np.zeros(len(word_ids), dtype=np.int32)
        starts = first_subtokens(word_ids)
        for w, i in zip(starts, self.word_vocab_.ids([words[w] for w in starts])):
            out[starts[w]] = i
        return out

    def _dataset(
        self, encoded: dict, y: np.ndarray | None, rows: list, word_ids: list, stats: dict, **extra: Any
    ) -> TaggedDataset:
        """The dataset of tokenized rows (windows, when ``stats["text_index"]`` says so), with
        the ``word_index`` input when this preprocessor's model reads words."""
        windowed = stats["text_index"] is not None
        data = TaggedDataset(
            encoded,
            y,
            rows,
            word_ids,
            pad_token_id=self._pad_id(),
            text_index=stats["text_index"],
            stride=self.window_stride() if windowed else None,
            **extra,
        )
        self.prepare_dataset(data)
        return data

    def prepare_dataset(self, data: Any) -> None:
        """Add the ``word_index`` input to ``data`` (made by this preprocessor) when its model
        reads words (:meth:`use_word_index`) and ``data`` was made before."""
        if self.word_vocab_ is None or not isinstance(data, TaggedDataset) or "word_index" in data.x:
            return
        data.x["word_index"] = [self._word_ids_of(w, ids) for w, ids in zip(data.words, data.word_ids)]

    get_tagger = get_classifier

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        data = super().to_dict()
        data["preprocessor"] = "tagging"
        data["tag_scheme"] = self.labels_.scheme_
        data["add_prefix_space"] = bool(getattr(self, "add_prefix_space_", False))
        if self.word_vocab_ is not None:
            data["word_vocab"] = list(self.word_vocab_.words)
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
        t._restore_windows(data)
        vocab = data.get("word_vocab")
        if vocab is not None:
            if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
                raise ArtifactError("`word_vocab` in the predictor's preprocessing must be a list of words.")
            t.word_vocab_ = WordVocabulary(vocab)
        names = t.input_names
        if names != data["input_names"]:
            raise DataError(
                f"The saved tokenizer produces inputs {names}, but the predictor was trained on "
                f"{data['input_names']}."
            )
        return t


register_preprocessor("tagging", TaggingTransformer)


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
