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
from collections import Counter
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

    ``trn[i]`` is batch ``i`` as ktrain shows it: ``([word ids], one-hot tags)``, both padded to
    the batch's longest sentence, with the preprocessor's (ktrain's) word and tag vocabularies
    (ktrain adds the transformer features to the inputs; easytx's model computes them). The
    learner trains on :attr:`dataset`, the easytx :class:`~easytx.tagger.TaggedDataset` that
    :func:`~easytx.ktrain.text.sequence_tagger` makes once it has chosen the transformer.
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

    def xshape(self) -> tuple[int, int]:
        """``(sentences, words in the first batch's longest sentence)``, as ktrain's."""
        return (len(self.x), self[0][0][0].shape[1])

    def nclasses(self) -> int:
        return len(self.p.get_classes())

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
        rows = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.p.transform(self.x[rows], None if self.y is None else self.y[rows])


class NERPreprocessor:
    """ktrain's NER preprocessor: the training tags until a transformer is bound to it.

    Attributes
    ----------
    transformer : TaggingTransformer or None
        Set by :func:`easytx.ktrain.text.sequence_tagger`.
    """

    def __init__(self, x_train: list, y_train: list, *, verbose: int = 1):
        from ..tagging import WordVocabulary

        self._x_train, self._y_train = x_train, y_train
        self.transformer: Any = None
        self.verbose = verbose
        self._sequences: list[NERSequence] = []
        self._train: NERSequence | None = None
        # ktrain's vocabularies: the words (as the BiLSTM tagger's), '<pad>' + tags by frequency
        self.words = WordVocabulary.from_sentences(x_train)
        counts = Counter(tag for tags in y_train for tag in tags)
        self._classes = ["<pad>", *(tag for tag, _ in counts.most_common())]

    def _track(self, train: NERSequence, *others: NERSequence) -> None:
        self._train = train
        self._sequences.extend([train, *others])

    def get_classes(self) -> list[str]:
        """ktrain's tag vocabulary: ``'<pad>'``, then the training tags, most frequent first."""
        return list(self._classes)

    def transform(self, x: list, y: list | None = None) -> tuple:
        """ktrain's view of sentences: ``([word ids], one-hot tags or None)``, padded to the
        longest sentence (ids: :class:`~easytx.tagging.WordVocabulary`, tags: :meth:`get_classes`)."""
        width = max((len(words) for words in x), default=0)
        ids = np.zeros((len(x), width), dtype=np.int32)
        for row, words in enumerate(x):
            ids[row, : len(words)] = self.words.ids(words)
        if y is None:
            return [ids], None
        index = {tag: i for i, tag in enumerate(self._classes)}
        onehot = np.zeros((len(x), width, len(self._classes)), dtype=np.int64)
        onehot[:, :, 0] = 1
        for row, tags in enumerate(y):
            for col, tag in enumerate(tags):
                onehot[row, col, 0] = 0
                onehot[row, col, index.get(tag, 0)] = 1
        return [ids], onehot

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

        words = [list(custom_tokenizer(s)) if custom_tokenizer else split_words(s)[0] for s in sentences]
        seq = NERSequence(words, [["O"] * len(w) for w in words], batch_size=max(len(words), 1), p=self)
        if self.transformer is not None:
            seq._dataset = self.transformer.preprocess_test(words, verbose=0)
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
