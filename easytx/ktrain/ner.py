"""ktrain's sequence tagging (``ktrain.text.entities_from_*`` and ``sequence_tagger``).

In ktrain the loaders take no model: ``entities_from_txt(path)`` returns ``(trn, val, preproc)``
holding words and tags, and ``sequence_tagger('bilstm-transformer', preproc,
transformer_model=...)`` picks the transformer. Here too: :class:`NERPreprocessor` keeps the
sentences until :func:`easytx.ktrain.text.sequence_tagger` binds it to an easytx
:class:`~easytx.tagger.TaggingTransformer`, which then tokenizes the ``trn``/``val`` objects
(:class:`NERSequence`) it made. Training and prediction run on easytx's tagger.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..learner import _console
from .dataset import Dataset

logger = logging.getLogger(__name__)

__all__ = ["NERPreprocessor", "NERSequence", "WORD_COL", "TAG_COL", "SENT_COL"]

WORD_COL, TAG_COL, SENT_COL = "Word", "Tag", "SentenceID"  # ktrain's column names
DEFAULT_BS = 32


class NERSequence(Dataset):
    """ktrain's NER data object: ``.x`` word lists, ``.y`` tag lists, ``len()`` in batches.

    ``trn[i]`` is batch ``i`` (a dict of padded sub-token ids and the sub-token labels) once
    :func:`~easytx.ktrain.text.sequence_tagger` has chosen the transformer; the learner trains
    on :attr:`dataset`.
    """

    def __init__(self, x: Sequence, y: Sequence | None, batch_size: int = DEFAULT_BS, p: Any = None):
        self.x = [list(words) for words in x]
        self.y = None if y is None else [list(tags) for tags in y]
        self.batch_size = batch_size
        self.p = p  # the NERPreprocessor that tokenizes these sentences
        self._dataset: Any = None

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def nsamples(self) -> int:
        return len(self.x)

    def get_y(self) -> list | None:
        return self.y

    @property
    def dataset(self) -> Any:
        """The easytx :class:`~easytx.tagger.TaggedDataset` (after ``sequence_tagger``)."""
        if self._dataset is None:
            raise DataError(
                "These sentences are not tokenized yet: ktrain's taggers pick their transformer in "
                "text.sequence_tagger('bilstm-transformer', preproc, transformer_model=...). Call it "
                "before get_learner()."
            )
        return self._dataset

    def __getitem__(self, idx: int) -> tuple:
        if not 0 <= idx < len(self):
            raise IndexError(f"batch {idx} out of range (len {len(self)})")
        data = self.dataset
        index = list(range(idx * self.batch_size, min((idx + 1) * self.batch_size, len(self.x))))
        inputs = data.pad(index)
        width = inputs["input_ids"].shape[1]
        return inputs, None if data.y is None else data.batch_labels(index, width)


class NERPreprocessor:
    """ktrain's NER preprocessor: the training tags until a transformer is bound to it.

    Attributes
    ----------
    transformer : TaggingTransformer or None
        Set by :func:`easytx.ktrain.text.sequence_tagger`.
    """

    def __init__(self, x_train: list, y_train: list, *, verbose: int = 1):
        self._x_train, self._y_train = x_train, y_train
        self.transformer: Any = None
        self.verbose = verbose
        self._sequences: list[NERSequence] = []
        self._train: NERSequence | None = None

    def _track(self, train: NERSequence, *others: NERSequence) -> None:
        self._train = train
        self._sequences.extend([train, *others])

    def get_classes(self) -> list[str]:
        """The tags (easytx's, once bound; before that the training tags, sorted)."""
        if self.transformer is not None:
            return list(self.transformer.get_classes())
        return sorted({tag for tags in self._y_train for tag in tags})

    def bind(self, model_name: str | os.PathLike, *, maxlen: int = 512) -> Any:
        """Tokenize the training sentences (and every ``NERSequence`` made with this
        preprocessor) with ``model_name``'s tokenizer; return the fitted TaggingTransformer.

        Sentences keep up to ``maxlen`` sub-tokens (at most the model's limit), as ktrain's
        transformer embeddings do; longer ones are read in windows at prediction.
        """
        from ..tagger import TaggingTransformer

        t = TaggingTransformer(model_name, verbose=self.verbose)
        t.maxlen = min(int(maxlen), t.tokenizer and t.model_limit_)
        train = t.preprocess_train(self._x_train, self._y_train, verbose=self.verbose)
        for seq in self._sequences:
            if seq is self._train:
                seq._dataset = train
            elif seq.y is None:
                seq._dataset = t.preprocess_test(seq.x, verbose=0)
            else:
                seq._dataset = t.preprocess_test(seq.x, seq.y, verbose=0)
        self.transformer = t
        return t

    def _bound(self) -> Any:
        if self.transformer is None:
            raise DataError(
                "This NER preprocessor has no transformer yet: call text.sequence_tagger(name, preproc, "
                "transformer_model=...) first."
            )
        return self.transformer

    def preprocess(
        self, sentences: Sequence[str], lang: str | None = None, custom_tokenizer: Any = None
    ) -> NERSequence:
        """Split raw sentences into words (or with ``custom_tokenizer``) -> a tokenized NERSequence."""
        del lang
        from ..tagging import split_words

        words = [custom_tokenizer(s) if custom_tokenizer else split_words(s)[0] for s in sentences]
        seq = NERSequence(words, None, batch_size=max(len(words), 1), p=self)
        seq._dataset = self._bound().preprocess_test(words, verbose=0)
        return seq

    def get_preprocessor(self) -> Any:
        """easytx's TaggingTransformer behind this preprocessor."""
        return self._bound()

    def get_wv_model(self, wv_path_or_url: Any, verbose: int = 1) -> Any:
        raise ConfigError(
            "fastText word vectors are not supported: easytx's taggers read transformer features. "
            "Use sequence_tagger('bilstm-transformer', preproc, transformer_model=...)."
        )


def _split(x: list, y: list, val_pct: float, random_state: Any = None) -> tuple:
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_pct < 1.0:
        raise ConfigError(f"`val_pct` must lie in (0, 1). Received: val_pct={val_pct!r}")
    return train_test_split(x, y, test_size=val_pct, random_state=random_state)


def make_sequences(
    x: list,
    y: list,
    x_val: list | None,
    y_val: list | None,
    *,
    val_pct: float,
    use_char: bool,
    verbose: int,
) -> tuple:
    """ktrain's ``entities_from_df`` core: split when there is no validation set, then
    ``(trn, val, preproc)``."""
    from ..tagging import check_tagged

    if use_char:
        raise ConfigError(
            "use_char=True (character embeddings) is not supported: the transformer's sub-words "
            "read the characters. Drop use_char."
        )
    x, y = check_tagged(x, y, where="training data")
    if x_val is None:
        x, x_val, y, y_val = _split(x, y, val_pct)
    else:
        x_val, y_val = check_tagged(x_val, y_val, where="validation data")
    if verbose:
        words = {w for sent in x for w in sent}
        tags = sorted({t for sent in y for t in sent})
        _console(f"Number of sentences:  {len(x) + len(x_val)}")
        _console(f"Number of words in the dataset:  {len(words)}")
        _console(f"Tags: {tags}")
        _console(f"Number of Labels:  {len(tags)}")
    preproc = NERPreprocessor(x, y, verbose=verbose)
    trn = NERSequence(x, y, batch_size=DEFAULT_BS, p=preproc)
    val = NERSequence(x_val, y_val, batch_size=DEFAULT_BS, p=preproc)
    preproc._track(trn, val)
    return trn, val, preproc


def merge_tokens(rows: list, text: str | None, *, return_proba: bool, return_offsets: bool) -> list[tuple]:
    """ktrain's ``merge_tokens``: one ``(entity text, type[, probability][, (start, end)])`` per
    entity, from ``(word, tag[, probability], (start, end))`` rows (the words' spans)."""
    from ..tagging import convert_scheme, get_entities

    words = [row[0] for row in rows]
    tags = convert_scheme([row[1] for row in rows], to="IOB2")
    out = []
    for kind, first, last in get_entities(tags):
        spans = [row[-1] for row in rows[first:last]]
        known = text is not None and all(span is not None for span in spans)
        start, end = (spans[0][0], spans[-1][1]) if known else (None, None)
        entity = text[start:end] if known else " ".join(words[first:last])
        item: tuple = (entity, kind)
        if return_proba:
            scores = [row[2] for row in rows[first:last] if row[2] == row[2]]
            item += (float(np.mean(scores)) if scores else float("nan"),)
        if return_offsets:
            item += ((int(start), int(end)) if known else None,)
        out.append(item)
    return out
