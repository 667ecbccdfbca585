"""ktrain's ``ktrain.text`` for transformer models: same names, argument order and return values.

``from easytx.ktrain import text`` gives ktrain's loaders (``texts_from_array/df/csv/folder``
with ktrain's positional order), its model factories (``text_classifier``,
``text_regression_model``, ``print_text_classifiers``...), its ``Transformer`` preprocessor and
its data objects (``val.x``, one-hot ``val.y``, ``len(trn)`` in batches, ``trn[i]`` a batch).
Everything runs on easytx's :class:`~easytx.preprocess.Transformer` and datasets.

Where ktrain and easytx's own API differ on purpose, this module follows ktrain:

- numeric targets (ints or floats, one per text) without ``class_names`` mean **regression**,
  with a warning (easytx never guesses regression);
- ``get_classes()`` is ``[]`` for regression;
- ``preprocess_mode`` is required: its default ``'standard'`` (and ``fasttext``, ``nbsvm``,
  ``logreg``, ``bigru``, ``linreg``, ``standard_gru``) are bag-of-words models, which easytx
  does not have; ``'bert'`` and ``'distilbert'`` map to a transformer (see
  :data:`PREPROCESS_MODE_MODELS`).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.config import TOKEN_HEAD_KEY
from ..errors import ConfigError, DataError
from ..learner import _console
from .dataset import BertData, TransformerDataset

logger = logging.getLogger(__name__)

__all__ = [  # noqa: F822 - Transformer comes from __getattr__ (it loads TensorFlow)
    "Transformer",
    "TransformerDataset",
    "texts_from_array",
    "texts_from_df",
    "texts_from_csv",
    "texts_from_folder",
    "text_classifier",
    "text_regression_model",
    "print_text_classifiers",
    "print_text_regression_models",
    "print_sequence_taggers",
    "sequence_tagger",
    "entities_from_array",
    "entities_from_df",
    "entities_from_txt",
    "entities_from_conll2003",
    "entities_from_gmb",
    "PREPROCESS_MODE_MODELS",
]

MAX_FEATURES = 20000  # ktrain's defaults (max_features is a bag-of-words option, ignored here)
MAXLEN = 400

#: The hub model behind ktrain's ``preprocess_mode`` (and model names in ``text_classifier``),
#: per language as ktrain picks them. ``EASYTX_KTRAIN_BERT_MODEL`` /
#: ``EASYTX_KTRAIN_DISTILBERT_MODEL`` (a hub name or a local folder) override the entry for every
#: language, e.g. to run ktrain scripts offline on a local model; so does ``model=`` per call.
PREPROCESS_MODE_MODELS = {
    "bert": {"en": "bert-base-uncased", "zh": "bert-base-chinese", "*": "bert-base-multilingual-cased"},
    "distilbert": {"en": "distilbert-base-uncased", "*": "distilbert-base-multilingual-cased"},
}

_TEXT_CLASSIFIERS = {
    "fasttext": "a fastText-like model [http://arxiv.org/pdf/1607.01759.pdf]",
    "logreg": "logistic regression using a trainable Embedding layer",
    "nbsvm": "NBSVM model [http://www.aclweb.org/anthology/P12-2018]",
    "bigru": "Bidirectional GRU with pretrained fasttext word vectors [https://fasttext.cc/docs/en/crawl-vectors.html]",
    "standard_gru": "simple 2-layer GRU with randomly initialized embeddings",
    "bert": "Bidirectional Encoder Representations from Transformers (BERT) [https://arxiv.org/abs/1810.04805]",
    "distilbert": "distilled, smaller, and faster BERT from Hugging Face transformers [https://arxiv.org/abs/1910.01108]",
}
_TEXT_REGRESSION_MODELS = {
    "fasttext": "a fastText-like model [http://arxiv.org/pdf/1607.01759.pdf]",
    "linreg": "linear text regression using a trainable Embedding layer",
    "bigru": "Bidirectional GRU with pretrained English word vectors [https://arxiv.org/abs/1712.09405]",
    "standard_gru": "simple 2-layer GRU with randomly initialized embeddings",
    "bert": "Bidirectional Encoder Representations from Transformers (BERT) [https://arxiv.org/abs/1810.04805]",
    "distilbert": "distilled, smaller, and faster BERT from Hugging Face transformers [https://arxiv.org/abs/1910.01108]",
}
_SEQUENCE_TAGGERS = {
    "bilstm": "Bidirectional LSTM (https://arxiv.org/abs/1603.01360)",
    "bilstm-crf": "Bidirectional LSTM-CRF (https://arxiv.org/abs/1603.01360)",
    "bilstm-transformer": "Bidirectional LSTM w/ transformer embeddings (multilingual BERT is default)",
    "bilstm-crf-elmo": "Bidirectional LSTM-CRF w/ Elmo embeddings [English only]",
    "bilstm-elmo": "Bidirectional LSTM w/ Elmo embeddings [English only]",
}
_TRANSFORMER_NAMES = ("bert", "distilbert")
_BAG_OF_WORDS = ("standard", "fasttext", "nbsvm", "logreg", "bigru", "linreg", "standard_gru")
_NOT_HERE = "  [not in easytx: bag-of-words model]"


def _out_of_scope(what: str) -> ConfigError:
    return ConfigError(
        f"{what} is a ktrain bag-of-words model, which easytx does not have: easytx fine-tunes "
        "transformers only. Use preprocess_mode='distilbert' (or 'bert') with "
        "text_classifier('distilbert', ...), or text.Transformer(model_name) directly; for a "
        "bag-of-words baseline use ktrain itself or scikit-learn."
    )


def print_text_classifiers() -> None:
    """Print ktrain's text classifier names (those easytx does not have are marked)."""
    for name, description in _TEXT_CLASSIFIERS.items():
        _console(f"{name}: {description}" + ("" if name in _TRANSFORMER_NAMES else _NOT_HERE))


def print_text_regression_models() -> None:
    """Print ktrain's text regression model names (those easytx does not have are marked)."""
    for name, description in _TEXT_REGRESSION_MODELS.items():
        _console(f"{name}: {description}" + ("" if name in _TRANSFORMER_NAMES else _NOT_HERE))


def print_sequence_taggers() -> None:
    """Print ktrain's sequence tagger names and what easytx builds for them."""
    for name, description in _SEQUENCE_TAGGERS.items():
        _console(f"{name}: {description}")
    _console(
        "(easytx builds 'bilstm-transformer'; the word-vector and ELMo taggers are not offered: "
        "use 'bilstm-transformer', or 'transformer' to fine-tune)"
    )


def mode_model(preprocess_mode: str, lang: str | None = None) -> str:
    """The model (hub name or folder) behind ktrain's ``preprocess_mode`` for ``lang``."""
    if preprocess_mode in _BAG_OF_WORDS:
        raise _out_of_scope(f"preprocess_mode={preprocess_mode!r}")
    if preprocess_mode not in PREPROCESS_MODE_MODELS:
        raise ConfigError(
            f"`preprocess_mode` must be 'distilbert' or 'bert'. Received: preprocess_mode={preprocess_mode!r}"
        )
    override = os.environ.get(f"EASYTX_KTRAIN_{preprocess_mode.upper()}_MODEL")
    if override:
        return override
    table = PREPROCESS_MODE_MODELS[preprocess_mode]
    return table.get(lang or "en", table["*"])


def _is_numeric_targets(y: Any) -> bool:
    """ktrain's regression test: one numeric (not string) target per text."""
    if y is None or isinstance(y, str):
        return False
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    return array.ndim == 1 and len(array) > 0 and array.dtype.kind in "iuf"


def _transformer_class() -> type:
    """Define ktrain's ``Transformer`` on top of easytx's (imports TensorFlow, so lazily)."""
    from ..preprocess import Transformer as EasytxTransformer
    from ..tasks import make_task

    class Transformer(EasytxTransformer):
        """ktrain's ``text.Transformer``: easytx's preprocessor with ktrain's defaults and returns.

        ``Transformer(model_name, maxlen=128, class_names=[], classes=[], batch_size=None,
        use_with_learner=True)``. ``preprocess_train``/``preprocess_test`` return ktrain data
        objects (:class:`~easytx.ktrain.dataset.TransformerDataset`, or for
        ``preprocess_mode='bert'`` the ``([ids, segments], y)`` tuple). Numeric targets without
        ``class_names`` make a regression model, with a warning, as in ktrain.
        """

        def __init__(
            self,
            model_name: str | os.PathLike,
            maxlen: int = 128,
            class_names: Sequence[str] | None = None,
            classes: Sequence[str] | None = None,
            batch_size: int | None = None,
            use_with_learner: bool = True,
            *,
            is_regression: bool = False,
            lang: str = "en",
            mode: str | None = None,
            verbose: int = 1,
            **options: Any,
        ):
            del use_with_learner
            names = _as_list(class_names) or _as_list(classes)
            if is_regression:
                options["task"] = "regression"
            super().__init__(
                model_name,
                maxlen=maxlen,
                class_names=names or None,
                batch_size=batch_size,
                verbose=verbose,
                **options,
            )
            self.lang = lang
            self.mode = mode
            self.preprocess_train_called = False

        @property
        def name(self) -> str:
            """ktrain's model kind: the ``preprocess_mode``, else the model's ``model_type``."""
            if self.mode is not None:
                return self.mode
            from .. import backend

            return str(backend.load_config(self.source).model_type)

        def get_classes(self) -> list:
            """Class names in id order; ``[]`` for regression (ktrain's convention)."""
            if not hasattr(self, "labels_"):
                return list(self.class_names or [])
            return [] if self.task.name == "regression" else super().get_classes()

        def _wrap(self, dataset: Any) -> Any:
            if self.mode == "bert":
                return BertData(dataset, self)
            return TransformerDataset(dataset, self, batch_size=self.batch_size or 32)

        def preprocess_train(self, texts: Any, y: Any = None, mode: str = "train", verbose: int = 1) -> Any:
            """Tokenize training texts and learn the labels (ktrain's ``preprocess_train``)."""
            if mode != "train":
                return self.preprocess_test(texts, y, verbose=verbose)
            if y is None:
                raise DataError("preprocess_train() needs y: one label (or target) per text.")
            if self.task_option is None and not self.class_names and _is_numeric_targets(y):
                warnings.warn(
                    "Task is being treated as REGRESSION because either class_names argument was "
                    "not supplied or is_regression=True. If this is incorrect, change accordingly.",
                    stacklevel=2,
                )
                self.task_option = make_task("regression")
            y = _flat_targets(y)
            data = super().preprocess_train(texts, y, verbose=verbose)
            self.preprocess_train_called = True
            return self._wrap(data)

        def preprocess_test(self, texts: Any, y: Any = None, mode: str = "test", verbose: int = 1) -> Any:
            """Tokenize validation/test texts (ktrain's ``preprocess_test``)."""
            return self._wrap(super().preprocess_test(texts, _flat_targets(y), verbose=verbose))

        def preprocess(self, texts: Any) -> Any:
            """ktrain's model input for ``texts``: ``[ids, segments]`` (bert mode) or a
            ``tf.data.Dataset`` of batches."""
            data = self.preprocess_test(texts, verbose=0)
            return data[0] if self.mode == "bert" else data.to_tfdataset(train=False)

        def undo(self, doc: Any) -> Any:
            """Token ids back to tokens: a space-joined string (bert mode, padding dropped) or
            the list of tokens."""
            ids = [int(i) for i in np.asarray(doc).reshape(-1)]
            if self.mode == "bert":
                vocab = {v: k for k, v in self.tokenizer.get_vocab().items()}
                return " ".join(vocab[i] for i in ids if i != 0 and i in vocab)
            return self.tokenizer.convert_ids_to_tokens(ids)

        def get_preprocessor(self) -> tuple:
            """``(tokenizer, vocabulary)``: ktrain's pair."""
            vocab = self.tokenizer.get_vocab()
            if self.mode == "bert":
                return self.tokenizer, {v: k for k, v in vocab.items()}
            return self.tokenizer, vocab

        def get_tokenizer(self, fpath: str | os.PathLike | None = None) -> Any:
            if fpath is not None:
                from .. import backend

                return backend.load_tokenizer(Path(fpath))
            return self.tokenizer

        def set_tokenizer(self, tokenizer: Any) -> None:
            self._tokenizer = tokenizer

        def save_tokenizer(self, fpath: str | os.PathLike) -> None:
            path = Path(fpath)
            if path.is_file():
                raise ConfigError(f"{path} is a file; save_tokenizer() writes a folder.")
            path.mkdir(parents=True, exist_ok=True)
            super().save_tokenizer(path)

        def get_config(self) -> Any:
            """The model's Hugging Face config."""
            if getattr(self, "_config", None) is None:
                from .. import backend

                self._config = backend.load_config(self.source)
            return self._config

        def set_config(self, config: Any) -> None:
            self._config = config

        def get_classifier(
            self,
            fpath: str | os.PathLike | None = None,
            multilabel: bool | None = None,
            metrics: Any = None,
            **kw: Any,
        ) -> Any:
            """The classification model; with ``fpath``, the one ``learner.save_model(fpath)`` wrote.

            The head reads the first token, as ktrain's (transformers') does, for every model:
            ``pooling="auto"`` (easytx's default) puts it on the mean of the tokens for
            sentence-transformers models such as all-MiniLM-L6-v2.
            """
            _check_metrics(metrics, ("accuracy", "binary_accuracy"))
            if fpath is not None:
                return self.get_model(fpath)
            kw.setdefault("pooling", "cls")
            return super().get_classifier(multilabel=multilabel, **kw)

        def get_regression_model(
            self, fpath: str | os.PathLike | None = None, metrics: Any = ("mae",), **kw: Any
        ) -> Any:
            """The regression model; with ``fpath``, the one ``learner.save_model(fpath)`` wrote."""
            _check_metrics(metrics, ("mae", "mse"))
            if fpath is not None:
                return self.get_model(fpath)
            return super().get_regression_model(**kw)

        def get_model(self, fpath: str | os.PathLike | None = None) -> Any:
            """The model for this task: new, or loaded from a ``learner.save_model()`` folder."""
            self._check_fitted()
            if fpath is None:
                return self.get_classifier()
            from .. import backend
            from ..bindings import bind

            model = backend.load_model(Path(fpath), head=self.task.head)
            bind(model, task=self.task, preproc=self)
            return model

        @classmethod
        def seqlen_stats(cls, list_of_texts: Sequence) -> dict:
            """Mean, 95th and 99th percentile of the texts' word counts (ktrain's helper)."""
            counts = [
                len(t) if isinstance(t, (list, np.ndarray)) else len(str(t).split()) for t in list_of_texts
            ]
            return {
                "mean": sum(counts) / len(counts),
                "95percentile": np.percentile(counts, 95),
                "99percentile": np.percentile(counts, 99),
            }

    Transformer.__module__ = __name__
    return Transformer


def _as_list(names: Any) -> list:
    if names is None:
        return []
    if isinstance(names, str):
        raise ConfigError(f"`class_names` must be a list of names. Received the string {names!r}.")
    return [n.item() if isinstance(n, np.generic) else n for n in list(names)]


def _flat_targets(y: Any) -> Any:
    """A ``(n, 1)`` array of targets as ktrain squeezes it."""
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    return y


def _check_metrics(metrics: Any, defaults: tuple) -> None:
    if metrics is None or isinstance(metrics, str):
        metrics = [] if metrics is None else [metrics]
    unknown = [m for m in metrics if m not in defaults]
    if unknown:
        raise ConfigError(
            f"metrics={list(metrics)}: easytx's models carry their task's metrics (accuracy; "
            f"micro/macro F1 for multi-label; mae and rmse for regression). Drop the metrics argument."
        )


_CLASS: list = []


def __getattr__(name: str) -> Any:  # TensorFlow loads on first use, not on import
    if name == "Transformer":
        return _ktrain_transformer()
    raise AttributeError(f"module 'easytx.ktrain.text' has no attribute {name!r}")


def _ktrain_transformer() -> type:
    if not _CLASS:
        _CLASS.append(_transformer_class())
    return _CLASS[0]


# ------------------------------------------------------------------------------------ loaders
def _make(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    *,
    class_names: Any,
    maxlen: int,
    val_pct: float,
    preprocess_mode: str,
    lang: str | None,
    random_state: int | None,
    verbose: int,
    model: Any,
    is_regression: bool = False,
) -> tuple:
    """ktrain's common path: split if needed, build the preprocessor, tokenize both sets."""
    source = model if model is not None else mode_model(preprocess_mode, lang)
    if x_test is None or y_test is None:
        from sklearn.model_selection import train_test_split

        if not 0.0 < val_pct < 1.0:
            raise ConfigError(f"`val_pct` must lie in (0, 1). Received: val_pct={val_pct!r}")
        x_train, x_test, y_train, y_test = train_test_split(
            list(x_train), y_train, test_size=val_pct, random_state=random_state
        )
    preproc = _ktrain_transformer()(
        source,
        maxlen=maxlen,
        class_names=class_names,
        is_regression=is_regression,
        lang=lang or "en",
        mode=preprocess_mode if preprocess_mode in _TRANSFORMER_NAMES else None,
        verbose=verbose,
    )
    trn = preproc.preprocess_train(_texts(x_train), y_train, verbose=verbose)
    val = preproc.preprocess_test(_texts(x_test), y_test, verbose=verbose)
    if verbose:
        kind = "text regression" if preproc.task.name == "regression" else "text classification"
        _console(f"task: {kind}")
    return trn, val, preproc


def _texts(x: Any) -> Any:
    return x.tolist() if isinstance(x, np.ndarray) else x


def texts_from_array(
    x_train: Sequence,
    y_train: Sequence,
    x_test: Sequence | None = None,
    y_test: Sequence | None = None,
    class_names: Sequence[str] | None = None,
    max_features: int = MAX_FEATURES,
    maxlen: int = MAXLEN,
    val_pct: float = 0.1,
    ngram_range: int = 1,
    preprocess_mode: str = "standard",
    lang: str | None = None,
    random_state: int | None = None,
    verbose: int = 1,
    *,
    model: Any = None,
) -> tuple:
    """ktrain's ``texts_from_array``: lists/arrays of texts and labels -> ``(trn, val, preproc)``.

    Numeric labels without ``class_names`` are regression targets (with a warning); strings, or
    integer ids with ``class_names``, are classes; one-hot/multi-hot rows need ``class_names``.
    ``model`` (easytx's addition) names the transformer instead of ``preprocess_mode``'s.
    """
    del max_features, ngram_range
    return _make(
        x_train,
        y_train,
        x_test,
        y_test,
        class_names=class_names,
        maxlen=maxlen,
        val_pct=val_pct,
        preprocess_mode=preprocess_mode,
        lang=lang,
        random_state=random_state,
        verbose=verbose,
        model=model,
    )


def _frame_labels(frame: Any, label_columns: list, is_regression: bool, where: str) -> tuple:
    """(labels, class_names) from a frame as ktrain reads them."""
    from ..data import check_columns
    from ..text import _labels_from_frame

    check_columns(frame, label_columns, where=where)
    if len(label_columns) > 1:
        if is_regression:
            warnings.warn(
                "is_regression=True was supplied but ignored because multiple label columns imply "
                "classification",
                stacklevel=3,
            )
        return _labels_from_frame(frame, label_columns, where)
    values = frame[label_columns[0]].to_numpy()
    if is_regression:
        return values.astype(np.float64), None
    if len(values) and not isinstance(values[0], str):  # ktrain: number labels name classes
        names = [str(v) for v in sorted(set(values.tolist()))]
        return [str(v) for v in values.tolist()], names
    return values.tolist(), None


def texts_from_df(
    train_df: Any,
    text_column: str,
    label_columns: Any = None,
    val_df: Any = None,
    max_features: int = MAX_FEATURES,
    maxlen: int = MAXLEN,
    val_pct: float = 0.1,
    ngram_range: int = 1,
    preprocess_mode: str = "standard",
    lang: str | None = None,
    is_regression: bool = False,
    random_state: int | None = None,
    verbose: int = 1,
    *,
    model: Any = None,
) -> tuple:
    """ktrain's ``texts_from_df``: a DataFrame -> ``(trn, val, preproc)``.

    ``label_columns`` is one column (strings or numbers name classes; with ``is_regression=True``
    numbers are targets) or several 0/1 columns, one per class (one-hot or multi-hot rows).
    Missing texts become ``"fillna"`` as in ktrain. Without ``val_df``, ``val_pct`` of the rows
    (at random, ``random_state``) are held out.
    """
    del max_features, ngram_range
    if isinstance(label_columns, str):
        label_columns = [label_columns]
    if not label_columns:
        raise ConfigError("`label_columns` is required: the column(s) holding the labels.")
    label_columns = list(label_columns)
    from ..data import check_columns

    check_columns(train_df, [text_column], where="train_df")
    train_df = train_df.copy()
    train_df[text_column] = train_df[text_column].fillna("fillna")
    if val_df is not None:
        check_columns(val_df, [text_column], where="val_df")
        val_df = val_df.copy()
        val_df[text_column] = val_df[text_column].fillna("fillna")
    else:
        from sklearn.model_selection import train_test_split

        train_df, val_df = train_test_split(train_df, test_size=val_pct, random_state=random_state)
    y_train, names = _frame_labels(train_df, label_columns, is_regression, "train_df")
    y_val, _ = _frame_labels(val_df, label_columns, is_regression, "val_df")
    if isinstance(y_train, np.ndarray) and y_train.ndim == 2 and not isinstance(y_val, np.ndarray):
        y_val = np.eye(len(names), dtype=np.float32)[y_val]
    elif isinstance(y_val, np.ndarray) and y_val.ndim == 2 and not isinstance(y_train, np.ndarray):
        y_val = [int(i) for i in y_val.argmax(axis=1)]
    return _make(
        train_df[text_column].astype(str).tolist(),
        y_train,
        val_df[text_column].astype(str).tolist(),
        y_val,
        class_names=names,
        maxlen=maxlen,
        val_pct=val_pct,
        preprocess_mode=preprocess_mode,
        lang=lang,
        random_state=random_state,
        verbose=verbose,
        model=model,
        is_regression=is_regression,
    )


#: single-byte encodings preferred for Western text (accented letters between ASCII letters)
_LATIN_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")
#: multi-byte encodings preferred, in this order, when a short text fits several equally well
_CJK_ENCODINGS = ("gb18030", "big5", "cp949", "euc_kr", "cp932", "shift_jis", "euc_jp")


def _is_windows_or_iso(encoding: str) -> bool:
    """cp1250-cp1258, latin-1 or an ISO 8859 part: the single-byte encodings files are written in
    today (charset-normalizer may rank a DOS code page such as cp775 first on a short text)."""
    name = encoding.lower().replace("-", "_")
    return (
        name in ("latin_1", "latin1")
        or name.startswith(("iso8859_", "iso_8859_"))
        or (name.startswith("cp125") and len(name) == 6)
    )


def _mostly_lone_high_bytes(raw: bytes) -> bool:
    """Whether most non-ASCII bytes stand alone between ASCII bytes, as accented letters do in
    latin-1 text (a GBK or Shift-JIS character is two bytes, usually both non-ASCII). Looks at
    the first MiB."""
    raw = raw[: 1 << 20]
    high = [i for i, b in enumerate(raw) if b >= 0x80]
    alone = sum(1 for i in high if (i == 0 or raw[i - 1] < 0x80) and (i + 1 == len(raw) or raw[i + 1] < 0x80))
    return bool(high) and 2 * alone >= len(high)


def detect_encoding(raw: bytes) -> str:
    """The text encoding of ``raw``: UTF-8 when it decodes, else a guess.

    The guess is charset-normalizer's when it recognises the language; a short text fits several
    encodings equally well, and then the common ones win: cp1252/latin-1 when the non-ASCII bytes
    stand alone (accented letters), else GB18030, Big5, then the Korean and Japanese encodings.
    """
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with transformers' requests
        raise DataError(
            "The file is not UTF-8 and charset-normalizer is not installed to detect its encoding. "
            "Pass encoding=... (e.g. 'gbk', 'latin-1')."
        ) from None
    latin = _mostly_lone_high_bytes(raw)
    results = list(from_bytes(raw))
    coherent = [r for r in results if r.coherence > 0]
    if coherent:
        if latin:  # accented letters: Windows/ISO code pages, not DOS or Mac ones (cp775, cp850...)
            common = [r for r in coherent if _is_windows_or_iso(r.encoding)]
            coherent = common or coherent
        return max(coherent, key=lambda r: r.coherence - r.chaos).encoding
    prefer = _LATIN_ENCODINGS if latin else _CJK_ENCODINGS

    def rank(item: tuple) -> tuple:
        order, result = item
        known = result.encoding in prefer
        return (result.chaos - (0.1 if known else 0), prefer.index(result.encoding) if known else 99, order)

    if results:
        best = min(enumerate(results), key=rank)[1].encoding
        if not latin or best in _LATIN_ENCODINGS:
            return best
    if latin:
        try:
            raw.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin_1"  # decodes any bytes
    raise DataError("Could not detect the file's text encoding. Pass encoding=... (e.g. 'gbk').")


def _file_encoding(path: str | os.PathLike, encoding: str | None, verbose: int) -> str:
    """``encoding``, or the file's, detected and (with ``verbose``) printed as ktrain prints it."""
    if encoding is not None:
        return encoding
    found = detect_encoding(Path(path).read_bytes())
    if verbose:
        _console(f"detected encoding: {found} (if wrong, set manually)")
    return found


def texts_from_csv(
    train_filepath: str | os.PathLike,
    text_column: str,
    label_columns: Any = None,
    val_filepath: str | os.PathLike | None = None,
    max_features: int = MAX_FEATURES,
    maxlen: int = MAXLEN,
    val_pct: float = 0.1,
    ngram_range: int = 1,
    preprocess_mode: str = "standard",
    encoding: str | None = None,
    lang: str | None = None,
    sep: str = ",",
    is_regression: bool = False,
    random_state: int | None = None,
    verbose: int = 1,
    *,
    model: Any = None,
) -> tuple:
    """ktrain's ``texts_from_csv``: a CSV file -> ``(trn, val, preproc)`` (see :func:`texts_from_df`).

    Without ``encoding`` the training file's encoding is detected (UTF-8, else a guess such as
    GBK) and printed, as in ktrain.
    """
    import pandas as pd

    encoding = _file_encoding(train_filepath, encoding, verbose)
    train_df = pd.read_csv(train_filepath, encoding=encoding, sep=sep)
    val_df = None if val_filepath is None else pd.read_csv(val_filepath, encoding=encoding, sep=sep)
    return texts_from_df(
        train_df,
        text_column,
        label_columns,
        val_df,
        max_features,
        maxlen,
        val_pct,
        ngram_range,
        preprocess_mode,
        lang,
        is_regression,
        random_state,
        verbose,
        model=model,
    )


def texts_from_folder(
    datadir: str | os.PathLike,
    classes: Sequence[str] | None = None,
    max_features: int = MAX_FEATURES,
    maxlen: int = MAXLEN,
    ngram_range: int = 1,
    train_test_names: Sequence[str] = ("train", "test"),
    preprocess_mode: str = "standard",
    encoding: str | None = None,
    lang: str | None = None,
    val_pct: float = 0.1,
    random_state: int | None = None,
    verbose: int = 1,
    *,
    model: Any = None,
) -> tuple:
    """ktrain's ``texts_from_folder``: ``datadir/<train>/<class>/`` files -> ``(trn, val, preproc)``.

    ``train_test_names`` holds one name (``val_pct`` of it becomes validation data) or two.
    ``classes`` picks class folders (others, such as ``extra/``, are skipped); the classes are
    in sorted order, as in ktrain. Without ``encoding`` each file's encoding is detected (UTF-8,
    else a guess such as GB18030 or cp1252, see :func:`detect_encoding`) and printed.
    """
    from ..data import read_folder

    del max_features, ngram_range
    names = list(train_test_names)
    if not 1 <= len(names) <= 2:
        raise ConfigError(
            f"`train_test_names` must hold one or two folder names. Received: {train_test_names!r}"
        )
    datadir = Path(datadir)
    detected: dict[str, int] = {}

    def detect(raw: bytes) -> str:
        found = detect_encoding(raw)
        detected[found] = detected.get(found, 0) + 1
        return found

    chosen = None if classes is None else sorted(classes)
    x_train, y_train = read_folder(datadir / names[0], classes=chosen, encoding=encoding or detect)
    x_test = y_test = None
    if len(names) == 2:
        x_test, y_test = read_folder(datadir / names[1], classes=chosen, encoding=encoding or detect)
    if detected and verbose:
        if len(detected) == 1:
            _console(f"detected encoding: {next(iter(detected))}")
        else:
            counts = sorted(detected.items(), key=lambda kv: -kv[1])
            found = ", ".join(f"{name} ({n} files)" for name, n in counts)
            _console(f"detected encodings: {found} (if wrong, set encoding=...)")
    return _make(
        x_train,
        y_train,
        x_test,
        y_test,
        class_names=chosen or sorted(set(y_train)),
        maxlen=maxlen,
        val_pct=val_pct,
        preprocess_mode=preprocess_mode,
        lang=lang,
        random_state=random_state,
        verbose=verbose,
        model=model,
    )


# ------------------------------------------------------------------------------ model factories
def _text_model(name: str, train_data: Any, preproc: Any, *, regression: bool, multilabel: Any) -> Any:
    if name in _BAG_OF_WORDS:
        raise _out_of_scope(f"{name!r}")
    if name not in _TRANSFORMER_NAMES:
        kind = "text regression" if regression else "text classification"
        raise ConfigError(f"invalid name for {kind}: {name!r}. easytx has {list(_TRANSFORMER_NAMES)}.")
    if preproc is None or not hasattr(preproc, "preprocess_train_called"):
        raise ConfigError(
            "The preproc argument is required: the third value returned by texts_from_array, "
            "texts_from_df, texts_from_csv or texts_from_folder (or a text.Transformer)."
        )
    is_bert = isinstance(train_data, BertData)
    if is_bert != (name == "bert"):
        raise ConfigError(
            f"if 'bert' is the selected model, then preprocess_mode='bert' should be used and vice "
            f"versa. Received name={name!r} with data from preprocess_mode={preproc.mode!r}."
        )
    if not is_bert and not isinstance(train_data, TransformerDataset):
        raise ConfigError(
            f"train_data must come from a texts_from_* function with preprocess_mode={name!r}. "
            f"Received an object of type {type(train_data).__name__}."
        )
    if regression:
        if preproc.get_classes():
            raise ConfigError(
                "preproc.get_classes() is supposed to be empty for text regression tasks: these "
                f"labels are classes {preproc.get_classes()}. Use text_classifier()."
            )
        return preproc.get_regression_model()
    if not preproc.get_classes():
        raise ConfigError(
            "preproc.get_classes() is empty, but required for text classification: the labels "
            "were numeric targets (regression). Use text_regression_model(), or pass class_names."
        )
    return preproc.get_classifier(multilabel=multilabel)


def text_classifier(
    name: str,
    train_data: Any,
    preproc: Any = None,
    multilabel: bool | None = None,
    metrics: Any = None,
    verbose: int = 1,
) -> Any:
    """ktrain's ``text_classifier``: ``'distilbert'`` or ``'bert'`` (as the data's
    ``preprocess_mode``); multi-label is inferred from the data unless ``multilabel`` is given."""
    _check_metrics(metrics, ("accuracy", "binary_accuracy"))
    model = _text_model(name, train_data, preproc, regression=False, multilabel=multilabel)
    if verbose:
        _console(f"Is Multi-Label? {preproc.task.name == 'multilabel'}")
        _console(f"maxlen is {preproc.maxlen_}")
        _console("done.")
    return model


def text_regression_model(
    name: str, train_data: Any, preproc: Any = None, metrics: Any = ("mae",), verbose: int = 1
) -> Any:
    """ktrain's ``text_regression_model``: ``'distilbert'`` or ``'bert'`` (as the data's
    ``preprocess_mode``), trained with MSE; MAE (and RMSE) are the metrics."""
    _check_metrics(metrics, ("mae", "mse"))
    model = _text_model(name, train_data, preproc, regression=True, multilabel=False)
    if verbose:
        _console(f"maxlen is {preproc.maxlen_}")
        _console("done.")
    return model


# ------------------------------------------------------------------------------- sequence tagging
def entities_from_array(
    x_train: Sequence,
    y_train: Sequence,
    x_test: Sequence | None = None,
    y_test: Sequence | None = None,
    use_char: bool = False,
    val_pct: float = 0.1,
    verbose: int = 1,
) -> tuple:
    """ktrain's ``entities_from_array``: word lists and tag lists -> ``(trn, val, preproc)``.

    No model yet: :func:`sequence_tagger` picks the transformer (as in ktrain).
    """
    from .ner import make_sequences

    have_test = x_test is not None and y_test is not None
    return make_sequences(
        x_train,
        y_train,
        x_test if have_test else None,
        y_test if have_test else None,
        val_pct=val_pct,
        use_char=use_char,
        verbose=verbose,
    )


def entities_from_df(
    train_df: Any,
    val_df: Any = None,
    word_column: str = "Word",
    tag_column: str = "Tag",
    sentence_column: str = "SentenceID",
    use_char: bool = False,
    val_pct: float = 0.1,
    verbose: int = 1,
) -> tuple:
    """ktrain's ``entities_from_df``: ``(sentence id, word, tag)`` rows -> ``(trn, val, preproc)``."""
    from ..tagging import read_tagged_frames
    from .ner import make_sequences

    x, y, x_val, y_val = read_tagged_frames(
        train_df, val_df, sentence_column=sentence_column, word_column=word_column, tag_column=tag_column
    )
    return make_sequences(x, y, x_val, y_val, val_pct=val_pct, use_char=use_char, verbose=verbose)


def _gmb_frame(path: str | os.PathLike, encoding: str, columns: tuple) -> Any:
    import pandas as pd

    frame = pd.read_csv(path, encoding=encoding, sep=None, engine="python")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: no column(s) {missing} (data_format='gmb' reads a CSV with a header). Columns "
            f"found: {list(frame.columns)}. Pass word_column=, tag_column=, sentence_column= with "
            "those names."
        )
    return frame


def entities_from_txt(
    train_filepath: str | os.PathLike,
    val_filepath: str | os.PathLike | None = None,
    use_char: bool = False,
    word_column: Any = "Word",
    tag_column: Any = "Tag",
    sentence_column: Any = "SentenceID",
    data_format: str = "conll2003",
    encoding: str | None = None,
    val_pct: float = 0.1,
    verbose: int = 1,
) -> tuple:
    """ktrain's ``entities_from_txt``: a CoNLL-2003 file (word first, tag last on each line,
    a blank line between sentences) or, with ``data_format='gmb'``, a CSV of
    ``sentence_column, word_column, tag_column`` -> ``(trn, val, preproc)``. The encoding is
    detected (and printed) when not given; column names only apply to ``'gmb'``, as in ktrain.
    """
    from ..tagging import read_conll
    from .ner import make_sequences

    if data_format not in ("conll2003", "gmb"):
        raise ConfigError(f"`data_format` must be 'conll2003' or 'gmb'. Received: {data_format!r}.")
    encoding = _file_encoding(train_filepath, encoding, verbose)
    files = [train_filepath] + ([val_filepath] if val_filepath is not None else [])
    if data_format == "gmb":
        from ..tagging import read_tagged_df

        columns = (sentence_column, word_column, tag_column)
        names = {"sentence_column": sentence_column, "word_column": word_column, "tag_column": tag_column}
        read = [read_tagged_df(_gmb_frame(f, encoding, columns), where=str(f), **names) for f in files]
    else:
        read = [read_conll(f, word_column=0, tag_column=-1, encoding=encoding) for f in files]
    (x, y), (x_val, y_val) = read[0], (read[1] if len(read) > 1 else (None, None))
    return make_sequences(x, y, x_val, y_val, val_pct=val_pct, use_char=use_char, verbose=verbose)


def entities_from_conll2003(
    train_filepath: str | os.PathLike,
    val_filepath: str | os.PathLike | None = None,
    use_char: bool = False,
    encoding: str | None = None,
    val_pct: float = 0.1,
    verbose: int = 1,
) -> tuple:
    """ktrain's ``entities_from_conll2003`` (see :func:`entities_from_txt`)."""
    return entities_from_txt(
        train_filepath,
        val_filepath,
        use_char=use_char,
        data_format="conll2003",
        encoding=encoding,
        val_pct=val_pct,
        verbose=verbose,
    )


def entities_from_gmb(
    train_filepath: str | os.PathLike,
    val_filepath: str | os.PathLike | None = None,
    use_char: bool = False,
    word_column: str = "Word",
    tag_column: str = "Tag",
    sentence_column: str = "SentenceID",
    encoding: str | None = None,
    val_pct: float = 0.1,
    verbose: int = 1,
) -> tuple:
    """ktrain's ``entities_from_gmb``: the Groningen Meaning Bank CSV layout (see
    :func:`entities_from_txt` with ``data_format='gmb'``)."""
    return entities_from_txt(
        train_filepath,
        val_filepath,
        use_char=use_char,
        word_column=word_column,
        tag_column=tag_column,
        sentence_column=sentence_column,
        data_format="gmb",
        encoding=encoding,
        val_pct=val_pct,
        verbose=verbose,
    )


#: ktrain's default transformer for its BiLSTM tagger (``EASYTX_KTRAIN_BERT_MODEL`` overrides it)
DEFAULT_TAGGER_MODEL = "bert-base-multilingual-cased"


def sequence_tagger(
    name: str,
    preproc: Any,
    wv_path_or_url: Any = None,
    transformer_model: str | os.PathLike = DEFAULT_TAGGER_MODEL,
    transformer_layers_to_use: Sequence[int] = (-2,),
    bert_model: Any = None,
    word_embedding_dim: int = 100,
    char_embedding_dim: int = 25,
    word_lstm_size: int = 100,
    char_lstm_size: int = 25,
    fc_dim: int = 100,
    dropout: float = 0.5,
    verbose: int = 1,
) -> Any:
    """ktrain's ``sequence_tagger``: ``'bilstm-transformer'`` (alias ``'bilstm-bert'``) builds
    ktrain's BiLSTM on the frozen features of ``transformer_model`` (hidden layers
    ``transformer_layers_to_use``) and tokenizes the ``trn``/``val`` data made with ``preproc``.

    ktrain's recipe trains it: ``learner.fit(0.01, epochs)``. ``'transformer'`` (an easytx name)
    fine-tunes the transformer with a linear tag layer instead. The default model is ktrain's,
    ``bert-base-multilingual-cased`` (``EASYTX_KTRAIN_BERT_MODEL`` replaces it, e.g. with a
    local folder). ktrain's word-vector and ELMo taggers (``'bilstm'``, ``'bilstm-crf'``...) are
    not offered, nor are ``wv_path_or_url`` and character embeddings: the error says what to use.
    ``char_embedding_dim`` and ``char_lstm_size`` size those absent parts and are ignored.
    """
    from ..text import tagger_head
    from .ner import NERPreprocessor

    del char_embedding_dim, char_lstm_size
    if name == "bilstm-bert":
        name = "bilstm-transformer"
    if bert_model is not None:
        warnings.warn(
            "The bert_model argument is deprecated - please use transformer_model instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        transformer_model = bert_model
    spec = tagger_head(
        name,
        transformer_layers_to_use=transformer_layers_to_use,
        word_embedding_dim=word_embedding_dim,
        word_lstm_size=word_lstm_size,
        fc_dim=fc_dim,
        dropout=dropout,
        wv_path_or_url=wv_path_or_url,
    )
    if not isinstance(preproc, NERPreprocessor):
        raise ConfigError(
            "`preproc` must be the third value returned by text.entities_from_txt / _conll2003 / "
            f"_gmb / _df / _array. Received: {type(preproc).__name__}."
        )
    if not transformer_model:
        raise ConfigError(f"transformer_model is required for {name} models")
    if str(transformer_model) == DEFAULT_TAGGER_MODEL:
        transformer_model = mode_model("bert", "xx")
    if verbose:
        _console("Embedding schemes employed (combined with concatenation):" if spec else "Model:")
        _console(f"\ttransformer embeddings with {transformer_model}")
        _console("")
    tagger = preproc.bind(transformer_model)
    options = {} if spec is None else {TOKEN_HEAD_KEY: spec}
    return tagger.get_classifier(**options)
