"""Text embeddings from a base (not fine-tuned) model: :class:`TransformerEmbedding`.

ktrain's ``text.TransformerEmbedding(model_name).embed(texts)``, on easytx's prediction path:
texts are tokenized in batches, sorted by length, each batch padded to its own longest text, and
the encoder's last hidden state is pooled per text (:func:`easytx.inference.predict_embeddings`,
the code :meth:`easytx.Predictor.embed` runs for a fine-tuned model). The model loads on the
first call, on either backend (no task head is built). Importing this module imports no TensorFlow.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from .data import check_positive_int, check_texts
from .errors import ConfigError, DataTypeError
from .inference import check_pooling

logger = logging.getLogger(__name__)

__all__ = ["TransformerEmbedding", "chance_agreement", "neighbour_agreement"]

_AGGREGATIONS = ("first", "average")


def _check_maxlen(maxlen: Any) -> int | None:
    if maxlen is None:
        return None
    if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
        raise ConfigError(
            f"`maxlen` must be a positive int, or None for the model's limit. Received: maxlen={maxlen!r}"
        )
    return maxlen


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


class TransformerEmbedding:
    """Vectors for texts from a pretrained encoder used as it is (ktrain's ``TransformerEmbedding``).

    Parameters
    ----------
    model_name_or_path : str or path
        A hub name or a local model folder (e.g. a sentence-transformers checkpoint such as
        all-MiniLM-L6-v2, whose vectors are meant to be mean-pooled and normalized).
    maxlen : int, optional
        Tokens kept per text (longer texts are truncated); default: the model's limit.
    pooling : {"mean", "cls"}
        ``"mean"`` averages the last hidden state over the text's tokens (padding excluded);
        ``"cls"`` takes the first token's vector.
    normalize : bool
        Scale every vector to unit length (dot products are then cosine similarities).
    batch_size : int
        Texts per forward pass.
    backend : {"auto", "keras3", "transformers"}, optional
        Model backend (``None``: ``EASYTX_BACKEND``); see :func:`easytx.backend.choose_backend`.
    verbose : int
        ``1`` shows a progress bar for many texts (more than 20 batches).

    Attributes
    ----------
    model : TF model
        The encoder without a head (loaded on first use).
    embsize : int
        Length of the vectors (ktrain's name; loads the model).

    Examples
    --------
    >>> from easytx import text
    >>> te = text.TransformerEmbedding("sentence-transformers/all-MiniLM-L6-v2",
    ...                                normalize=True)  # doctest: +SKIP
    >>> te.embed(["a great film", "a dull plot"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike,
        *,
        maxlen: int | None = None,
        pooling: str = "mean",
        normalize: bool = False,
        batch_size: int = 32,
        backend: str | None = None,
        verbose: int = 0,
    ):
        if not isinstance(model_name_or_path, (str, os.PathLike)):
            raise DataTypeError(
                "`model_name_or_path` must be a hub name or a local model folder. Received an object "
                f"of type {type(model_name_or_path).__name__}."
            )
        self.model_name_or_path = model_name_or_path
        self.maxlen = _check_maxlen(maxlen)
        self.pooling = check_pooling(pooling)
        self.normalize = _check_bool(normalize, "normalize")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.backend = backend
        self.verbose = verbose
        self._preproc: Any = None
        self._model: Any = None

    def __repr__(self) -> str:
        return (
            f"TransformerEmbedding({str(self.model_name_or_path)!r}, pooling={self.pooling!r}, "
            f"normalize={self.normalize})"
        )

    # ------------------------------------------------------------------ lazy resources
    @property
    def preproc(self) -> Any:
        """The :class:`~easytx.preprocess.Transformer` that tokenizes for the model (no fitting)."""
        if self._preproc is None:
            from .preprocess import Transformer

            self._preproc = Transformer(self.model_name_or_path, verbose=0)
        return self._preproc

    @property
    def model(self) -> Any:
        """The encoder (no task head), loaded on first use."""
        if self._model is None:
            from . import backend

            self._model = backend.build_model(
                self.preproc.source, head="feature_extraction", num_labels=1, backend=self.backend
            )
        return self._model

    @property
    def embsize(self) -> int:
        """Length of the vectors :meth:`embed` returns (the model's hidden size)."""
        from .backend import hidden_size

        return hidden_size(self.model)

    # ------------------------------------------------------------------ embeddings
    def embed(
        self,
        texts: Any,
        *,
        word_level: bool = False,
        pooling: str | None = None,
        normalize: bool | None = None,
        batch_size: int | None = None,
        verbose: int | None = None,
    ) -> np.ndarray:
        """One float32 vector per text: shape ``(n, embsize)`` (``(embsize,)`` for one string).

        Parameters
        ----------
        texts : str or list of str
            Texts, or ``(text_a, text_b)`` pairs (encoded together).
        word_level : bool
            ``False`` (easytx's default): one vector per text. ``True`` is ktrain's default, a vector
            per word; easytx does not offer it (see ``docs/embeddings.md``) and raises.
        pooling, normalize, batch_size, verbose : optional
            Override the values given to the constructor for this call.

        Returns
        -------
        numpy.ndarray
        """
        from .inference import predict_embeddings

        if _check_bool(word_level, "word_level"):
            raise ConfigError(
                "word_level=True (one vector per word, ktrain's default) is not offered: easytx "
                "embeds whole texts. Pass word_level=False, or split the text into words and embed "
                "each word."
            )
        pooling = self.pooling if pooling is None else check_pooling(pooling)
        normalize = self.normalize if normalize is None else _check_bool(normalize, "normalize")
        batch_size = self.batch_size if batch_size is None else check_positive_int(batch_size, "batch_size")
        verbose = self.verbose if verbose is None else verbose
        single = isinstance(texts, str) or (
            isinstance(texts, tuple) and len(texts) == 2 and all(isinstance(t, str) for t in texts)
        )
        if single:
            items = [texts]
        elif hasattr(texts, "__len__") and not isinstance(texts, (str, bytes)) and len(texts) == 0:
            items = []
        else:
            items = check_texts(texts, allow_empty_strings=True, allow_pairs=True)
        data = self.preproc.encode_unlabelled(items, maxlen=self.maxlen)
        vectors = predict_embeddings(
            self.model,
            data,
            pooling=pooling,
            normalize=normalize,
            batch_size=batch_size,
            progress=bool(verbose) and len(items) > 20 * batch_size,
        )
        return vectors[0] if single else vectors


def neighbour_agreement(vectors: Any, labels: Any, *, k: int = 1) -> float:
    """Share of the ``k`` nearest neighbours of each vector that carry its label (leave-one-out).

    Neighbours are ranked by cosine similarity, each vector's own row excluded. Compare the result
    with :func:`chance_agreement`, the share expected from vectors that know nothing of the labels.

    Parameters
    ----------
    vectors : array, shape (n, d)
    labels : sequence of n hashable labels
    k : int
        Neighbours per vector (fewer than ``n``).

    Examples
    --------
    >>> neighbour_agreement([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], ["a", "a", "b", "b"])
    1.0
    """
    x = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ConfigError(
            f"`vectors` must be an (n, d) array with one label per row. Received shapes {x.shape} "
            f"and {y.shape}."
        )
    k = check_positive_int(k, "k")
    if k >= len(x):
        raise ConfigError(f"`k` must be smaller than the number of vectors ({len(x)}). Received: k={k}")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    return float(np.mean(y[nearest] == y[:, None]))


def chance_agreement(labels: Any) -> float:
    """The agreement :func:`neighbour_agreement` expects by chance: the sum of squared class shares."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    shares = counts / counts.sum()
    return float(np.sum(shares**2))
