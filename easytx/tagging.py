"""Token tagging (NER, chunking, POS) without TensorFlow: loaders, tag schemes, sub-word
alignment, entity extraction with character offsets, and entity-level precision/recall/F1.

Everything here works on plain Python lists of words and tags; the model side lives in
:mod:`easytx.tagger` (preprocessor) and :class:`easytx.tasks.TokenClassification`.

Tag schemes
-----------
* ``IOB1`` (original CoNLL-2003): ``I-X`` inside an entity, ``B-X`` only where an entity follows
  another of the same type.
* ``IOB2`` (``BIO``): every entity starts with ``B-X``.
* ``BIOES`` (``IOBES``): ``B``egin, ``I``nside, ``E``nd, ``S``ingle.
* ``none``: plain tags without prefixes (part-of-speech tags...); no entities.

Models are trained on IOB2 tags (every scheme converts to it without loss); the scheme of the
training data is recorded and :meth:`Predictor.predict(..., return_tokens=True)` answers in it.

Entity-level scores follow ``conlleval`` (and ``seqeval``'s default mode): a predicted entity
counts only when its type and its exact word span match a true entity.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError

logger = logging.getLogger(__name__)

__all__ = [
    "SCHEMES",
    "IGNORE_INDEX",
    "read_conll",
    "read_tagged_df",
    "split_words",
    "detect_scheme",
    "convert_scheme",
    "TagLabels",
    "align_labels",
    "word_predictions",
    "get_entities",
    "entities_with_offsets",
    "entity_scores",
    "WordVocabulary",
    "read_tagged_frames",
    "entity_report",
]

#: tag schemes easytx reads, converts and writes
SCHEMES = ("IOB1", "IOB2", "BIOES", "none")
#: label id of sub-tokens that carry no label (later sub-tokens of a word, special tokens,
#: padding); the loss and the metrics skip them (the value PyTorch and Hugging Face use)
IGNORE_INDEX = -100

_PREFIXES = ("B", "I", "E", "S")
_SCHEME_ALIASES = {
    "iob1": "IOB1",
    "iob2": "IOB2",
    "bio": "IOB2",
    "bioes": "BIOES",
    "iobes": "BIOES",
    "none": "none",
    "auto": "auto",
}


# ---------------------------------------------------------------------------------------- loading
def read_conll(
    path: str | os.PathLike,
    *,
    word_column: int = 0,
    tag_column: int = -1,
    sep: str | None = None,
    encoding: str = "utf-8",
) -> tuple[list[list[str]], list[list[str]]]:
    """Read a CoNLL-style file: one ``word ... TAG`` line per token, a blank line between sentences.

    ``-DOCSTART-`` lines (document boundaries) are skipped. Every token line must have as many
    columns as the file's first token line.

    Parameters
    ----------
    path : path
        The file.
    word_column, tag_column : int
        Column positions of the word and the tag (``-1``: the last column).
    sep : str, optional
        Column separator (default: any run of whitespace; pass ``"\\t"`` for words with spaces).
    encoding : str
        File encoding.

    Returns
    -------
    (sentences, tags) : list of list of str
        Words and tags per sentence.

    Raises
    ------
    DataError
        The file is missing or empty, or a line lacks the tag column or has a different number of
        columns than the others (the error names the file and the line number).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_text("-DOCSTART- O\\n\\nEU B-ORG\\nrejects O\\n\\nPeter B-PER\\n")
    >>> read_conll(p)
    ([['EU', 'rejects'], ['Peter']], [['B-ORG', 'O'], ['B-PER']])
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CoNLL file {path} does not exist.")
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    n_columns: int | None = None
    first_line = 0
    try:
        handle = path.open(encoding=encoding)
    except OSError as exc:
        raise DataError(f"Cannot read CoNLL file {path}: {exc}") from None
    with handle:
        try:
            for number, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    if words:
                        sentences.append(words)
                        tags.append(labels)
                        words, labels = [], []
                    continue
                columns = line.split(sep) if sep is not None else line.split()
                if columns[0] == "-DOCSTART-":
                    continue
                if n_columns is None:
                    n_columns, first_line = len(columns), number
                    if n_columns < 2:
                        raise DataError(
                            f"{path}, line {number}: found 1 column ({line.strip()!r}); a CoNLL "
                            "file needs a word and a tag on every token line, separated by "
                            "whitespace (or by `sep`)."
                        )
                    for name, col in (("word_column", word_column), ("tag_column", tag_column)):
                        if not -n_columns <= col < n_columns:
                            raise ConfigError(
                                f"`{name}`={col} does not exist: {path} has {n_columns} columns "
                                f"(line {number}: {line.strip()!r})."
                            )
                if len(columns) != n_columns:
                    raise DataError(
                        f"{path}, line {number}: found {len(columns)} column(s) "
                        f"({line.strip()!r}) but line {first_line} has {n_columns}. Every token "
                        "line needs the same columns (word ... tag); a missing tag or a word "
                        "containing the separator causes this."
                    )
                word, tag = columns[word_column], columns[tag_column]
                if not word or not tag:
                    raise DataError(f"{path}, line {number}: empty word or tag in {line!r}.")
                words.append(word)
                labels.append(tag)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} is not valid {encoding} text ({exc.reason}); pass encoding=..."
            ) from None
    if words:
        sentences.append(words)
        tags.append(labels)
    if not sentences:
        raise DataError(f"CoNLL file {path} holds no sentences.")
    return sentences, tags


def read_tagged_df(
    frame: Any,
    *,
    sentence_column: str = "SentenceID",
    word_column: str = "Word",
    tag_column: str = "Tag",
    where: str = "the DataFrame",
) -> tuple[list[list[str]], list[list[str]]]:
    """Group a DataFrame of ``(sentence id, word, tag)`` rows into sentences.

    Rows of one sentence must be contiguous and in word order (as in the Kaggle NER dataset,
    where the sentence id is given on the first word only: missing ids are forward-filled).

    Returns
    -------
    (sentences, tags) : list of list of str
    """
    from .data import check_columns

    check_columns(frame, [sentence_column, word_column, tag_column], where=where)
    ids = frame[sentence_column].ffill()
    if ids.isna().any():
        raise DataError(
            f"{where}: column {sentence_column!r} is empty before its first sentence id (row "
            f"{int(ids.isna().to_numpy().nonzero()[0][0])})."
        )
    for column in (word_column, tag_column):
        missing = frame[column].isna().to_numpy().nonzero()[0]
        if len(missing):
            raise DataError(
                f"{where}: column {column!r} has {len(missing)} missing value(s), first at row "
                f"{int(missing[0])}. Every row needs a word and a tag."
            )
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    seen: set = set()
    previous = object()
    for row, (sid, word, tag) in enumerate(zip(ids, frame[word_column], frame[tag_column])):
        if sid != previous:
            if sid in seen:
                raise DataError(
                    f"{where}: sentence {sid!r} continues at row {row} after other sentences; the "
                    f"rows of a sentence must be contiguous (sort by {sentence_column!r} with a "
                    "stable sort first)."
                )
            seen.add(sid)
            sentences.append([])
            tags.append([])
            previous = sid
        sentences[-1].append(str(word))
        tags[-1].append(str(tag))
    if not sentences:
        raise DataError(f"{where} has no rows.")
    return sentences, tags


_WORD_RE = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


def read_tagged_frames(
    train_df: Any,
    val_df: Any = None,
    *,
    sentence_column: str = "SentenceID",
    word_column: str = "Word",
    tag_column: str = "Tag",
) -> tuple[list, list, list | None, list | None]:
    """:func:`read_tagged_df` on a training frame and, when given, a validation frame
    (``train_df`` / ``val_df`` in error messages): ``(x, y, x_val, y_val)``."""
    columns = {"sentence_column": sentence_column, "word_column": word_column, "tag_column": tag_column}
    x, y = read_tagged_df(train_df, where="train_df", **columns)
    x_val = y_val = None
    if val_df is not None:
        x_val, y_val = read_tagged_df(val_df, where="val_df", **columns)
    return x, y, x_val, y_val


def split_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Split raw text into CoNLL-like words (punctuation apart) with their character spans.

    >>> split_words("Angela Merkel visited Paris.")
    (['Angela', 'Merkel', 'visited', 'Paris', '.'], [(0, 6), (7, 13), (14, 21), (22, 27), (27, 28)])
    """
    words, spans = [], []
    for match in _WORD_RE.finditer(text):
        words.append(match.group())
        spans.append(match.span())
    return words, spans


class WordVocabulary:
    """ktrain's word vocabulary (its NER ``IndexTransformer``): the words lowercased, most
    frequent first (ties in order of appearance); id ``0`` is padding, ``1..n`` the words and
    ``n + 1`` any word not in it.

    >>> v = WordVocabulary.from_sentences([["The", "cat"], ["the", "dog"]])
    >>> v.words, v.ids(["THE", "dog", "emu"]), len(v)
    (['the', 'cat', 'dog'], [1, 3, 4], 5)
    """

    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        self._index = {w: i + 1 for i, w in enumerate(self.words)}

    @classmethod
    def from_sentences(cls, sentences: Sequence[Sequence[str]]) -> WordVocabulary:
        counts = Counter(w.lower() for words in sentences for w in words)
        return cls([w for w, _ in counts.most_common()])

    def __len__(self) -> int:
        return len(self.words) + 2

    @property
    def unknown_id(self) -> int:
        return len(self.words) + 1

    def ids(self, words: Sequence[str]) -> list[int]:
        return [self._index.get(w.lower(), self.unknown_id) for w in words]


# ---------------------------------------------------------------------------------------- schemes
def _split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", None)``."""
    if tag == "O":
        return "O", None
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in _PREFIXES:
        return tag[0], tag[2:]
    return "", tag


def check_scheme_name(scheme: str, *, allow_auto: bool = True) -> str:
    key = str(scheme).lower()
    if key not in _SCHEME_ALIASES or (key == "auto" and not allow_auto):
        allowed = [*SCHEMES, "auto"] if allow_auto else list(SCHEMES)
        raise ConfigError(f"`tag_scheme` must be one of {allowed}. Received: {scheme!r}")
    return _SCHEME_ALIASES[key]


def detect_scheme(tags: Sequence[Sequence[str]]) -> str:
    """Which scheme ``tags`` (one list per sentence) are written in: IOB1, IOB2, BIOES or none.

    ``E-``/``S-`` prefixes mean BIOES; an entity that opens with ``I-`` means IOB1; otherwise IOB2.
    Tags without prefixes (other than ``O``) mean ``none`` (plain tagging such as POS); a mix of
    prefixed and bare tags is an error.

    >>> detect_scheme([["I-PER", "I-PER", "O"]]), detect_scheme([["B-PER", "I-PER"]])
    ('IOB1', 'IOB2')
    """
    bare: set = set()
    prefixed: set = set()
    starts_with_i = bioes = False
    for sentence in tags:
        prev = "O"
        prev_type = None
        for tag in sentence:
            prefix, kind = _split_tag(tag)
            if prefix == "":
                bare.add(tag)
            elif prefix != "O":
                prefixed.add(tag)
                if prefix in "ES":
                    bioes = True
                if prefix == "I" and (prev in ("O", "E", "S") or prev_type != kind):
                    starts_with_i = True
            prev, prev_type = prefix, kind
    if bare and prefixed:
        raise DataError(
            f"Tags mix entity tags with prefixes ({sorted(prefixed)[:3]}) and bare tags "
            f"({sorted(bare)[:3]}). Entity tags need a B-/I-/E-/S- prefix (or 'O'); plain tagging "
            "(e.g. part of speech) must not use prefixes."
        )
    if bare:
        return "none"
    if bioes:
        return "BIOES"
    return "IOB1" if starts_with_i else "IOB2"


def _chunks_iob2_like(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities as ``(type, start, end_exclusive)`` read the conlleval way (any scheme)."""
    chunks = []
    start = None
    kind = None
    prev = "O"
    for i, tag in enumerate([*tags, "O"]):
        prefix, t = _split_tag(tag)
        if prefix == "":  # bare tag: treat as a single-word entity of that tag
            prefix = "S"
        # does the running chunk end before position i?
        if kind is not None and (prefix in ("O", "B", "S") or t != kind or prev in ("E", "S")):
            chunks.append((kind, start, i))
            kind = None
        # does a chunk start at position i?
        if prefix != "O" and (prefix in ("B", "S") or kind is None):
            kind, start = t, i
        prev = prefix
    return chunks


def get_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities in one sentence's tags as ``(type, first word, last word + 1)`` tuples.

    Works for IOB1, IOB2 and BIOES alike and, like conlleval, tolerates ill-formed sequences
    (an ``I-X`` after ``O`` or after another type opens a new entity).

    >>> get_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "S-ORG"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
    """
    return _chunks_iob2_like(tags)


def _to_iob2(tags: Sequence[str]) -> list[str]:
    out = ["O"] * len(tags)
    for kind, start, end in get_entities(tags):
        out[start] = f"B-{kind}"
        for i in range(start + 1, end):
            out[i] = f"I-{kind}"
    return out


def convert_scheme(tags: Sequence[str], to: str, *, source: str = "auto") -> list[str]:
    """Rewrite one sentence's tags in scheme ``to`` (``IOB1``, ``IOB2`` or ``BIOES``).

    The entities (type and span) are kept exactly; ``none`` tags are returned unchanged.

    >>> convert_scheme(["I-PER", "I-PER", "O", "I-LOC"], "BIOES")
    ['B-PER', 'E-PER', 'O', 'S-LOC']
    >>> convert_scheme(["B-PER", "B-PER", "I-PER"], "IOB1")
    ['I-PER', 'B-PER', 'I-PER']
    """
    to = check_scheme_name(to, allow_auto=False)
    if source != "auto" and check_scheme_name(source) == "none":
        return list(tags)
    tags = list(tags)
    if any(_split_tag(t)[0] == "" for t in tags):
        if to != "none" and any(_split_tag(t)[0] not in ("", "O") for t in tags):
            raise DataError(f"Cannot convert a mix of bare and prefixed tags: {tags[:10]}.")
        return tags
    if to == "none":
        return tags
    entities = get_entities(tags)
    out = ["O"] * len(tags)
    prev_end, prev_kind = -1, None
    for kind, start, end in entities:
        if to == "IOB2":
            out[start] = f"B-{kind}"
            for i in range(start + 1, end):
                out[i] = f"I-{kind}"
        elif to == "IOB1":
            adjacent = prev_end == start and prev_kind == kind
            out[start] = f"{'B' if adjacent else 'I'}-{kind}"
            for i in range(start + 1, end):
                out[i] = f"I-{kind}"
        else:  # BIOES
            if end - start == 1:
                out[start] = f"S-{kind}"
            else:
                out[start] = f"B-{kind}"
                for i in range(start + 1, end - 1):
                    out[i] = f"I-{kind}"
                out[end - 1] = f"E-{kind}"
        prev_end, prev_kind = end, kind
    return out


# ---------------------------------------------------------------------------------------- labels
def check_tagged(sentences: Any, tags: Any, *, where: str = "data") -> tuple[list, list]:
    """Check sentences (lists of words) and tags (lists of tags) line up; return them as lists."""
    if isinstance(sentences, str) or not hasattr(sentences, "__len__"):
        raise DataError(
            f"{where}: sentences must be a list of word lists (e.g. [['EU', 'rejects']]). "
            f"Received: {type(sentences).__name__}."
        )
    sentences = [list(s) for s in sentences]
    if not sentences:
        raise DataError(f"{where}: no sentences.")
    for i, words in enumerate(sentences):
        if not words:
            raise DataError(f"{where}: sentence {i} has no words.")
        bad = [w for w in words if not isinstance(w, str)]
        if bad or isinstance(sentences[i], str):
            raise DataError(
                f"{where}: sentence {i} must be a list of word strings; received {sentences[i]!r:.80}."
            )
    if tags is None:
        return sentences, None
    tags = [list(t) for t in tags]
    if len(tags) != len(sentences):
        raise DataError(f"{where}: {len(sentences)} sentences but {len(tags)} tag lists.")
    for i, (words, labels) in enumerate(zip(sentences, tags)):
        if len(words) != len(labels):
            raise DataError(
                f"{where}: sentence {i} has {len(words)} words but {len(labels)} tags (words {words[:6]}...)."
            )
        bad = [t for t in labels if not isinstance(t, str) or not t]
        if bad:
            raise DataError(f"{where}: sentence {i} has tags that are not non-empty strings: {bad[:3]}.")
    return sentences, tags


class TagLabels:
    """Tag encoder for token classification: tags <-> ids, with the scheme recorded.

    Training tags are converted to IOB2 (scheme ``none`` keeps them as they are). The classes are
    ``O`` then ``B-X``, ``I-X`` for every entity type ``X`` seen in training, so a test entity
    of a known type is always encodable; an unknown type or tag raises :class:`DataError`.

    Parameters
    ----------
    scheme : {"auto", "IOB1", "IOB2", "BIOES", "none"}
        Scheme of the tags given to :meth:`fit` (``"auto"`` detects it).

    Examples
    --------
    >>> enc = TagLabels().fit([["I-PER", "O"], ["B-LOC"]])
    >>> enc.classes_, enc.scheme_
    (['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER'], 'IOB1')
    >>> enc.transform([["I-PER", "I-PER"]])
    [[3, 4]]
    """

    kind = "token_tags"

    def __init__(self, scheme: str = "auto"):
        self.scheme = scheme

    def fit(self, tags: Sequence[Sequence[str]]) -> TagLabels:
        scheme = check_scheme_name(self.scheme)
        detected = detect_scheme(tags)
        if scheme == "auto":
            scheme = detected
        elif (scheme == "none") != (detected == "none"):
            raise DataError(
                f"tag_scheme={self.scheme!r} but the training tags look like scheme {detected!r}."
            )
        if scheme == "none":
            classes = sorted({t for sentence in tags for t in sentence})
        else:
            types = sorted({_split_tag(t)[1] for s in tags for t in s if t != "O"})
            classes = ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]
        if len(classes) < 2:
            raise DataError(
                f"The training tags hold a single tag ({classes[0]!r}); a tagger needs at least two. "
                "Check the tag column."
            )
        self.scheme_ = scheme
        self.classes_ = classes
        self._ids = {c: i for i, c in enumerate(classes)}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            from .errors import NotFittedError

            raise NotFittedError("These tags are not fitted yet. Call preprocess_train() first.")

    @property
    def train_scheme(self) -> str:
        """Scheme the model predicts in (IOB2, or none)."""
        return "none" if self.scheme_ == "none" else "IOB2"

    @property
    def entity_types(self) -> list[str]:
        return sorted({c[2:] for c in self.classes_ if c != "O"}) if self.scheme_ != "none" else []

    def transform(self, tags: Sequence[Sequence[str]], *, where: str = "the tags") -> list[list[int]]:
        """Tags per sentence -> ids per sentence (after conversion to IOB2)."""
        self._check_fitted()
        out = []
        unknown: dict = {}
        for i, sentence in enumerate(tags):
            if self.scheme_ != "none":
                prefixes = {_split_tag(t)[0] for t in sentence}
                if "" in prefixes:
                    bare = [t for t in sentence if _split_tag(t)[0] == ""]
                    raise DataError(
                        f"{where}: sentence {i} has tag(s) {bare[:3]} without a B-/I-/E-/S- prefix; "
                        f"the training tags were in scheme {self.scheme_}. Known tags: {self.classes_}."
                    )
                sentence = _to_iob2(sentence)
            ids = []
            for tag in sentence:
                idx = self._ids.get(tag)
                if idx is None:
                    unknown.setdefault(tag, i)
                    idx = -1
                ids.append(idx)
            out.append(ids)
        if unknown:
            where_first = ", ".join(f"{t!r} (first in sentence {s})" for t, s in list(unknown.items())[:5])
            raise DataError(
                f"{where}: tag(s) never seen in training: {where_first}. Known tags: {self.classes_}. "
                "Remove those sentences, map the tags to known ones, or retrain with them."
            )
        return out

    def inverse_transform(self, ids: Sequence[Sequence[int]]) -> list[list[str]]:
        """Ids per sentence -> tags per sentence in the training data's scheme."""
        self._check_fitted()
        out = []
        for sentence in ids:
            tags = [self.classes_[int(i)] for i in sentence]
            if self.scheme_ not in ("none", "IOB2"):
                tags = convert_scheme(tags, self.scheme_)
            out.append(tags)
        return out

    @property
    def n_outputs(self) -> int:
        self._check_fitted()
        return len(self.classes_)

    def to_dict(self) -> dict:
        self._check_fitted()
        return {
            "kind": self.kind,
            "classes": self.classes_,
            "scheme": self.scheme_,
            "train_scheme": self.train_scheme,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TagLabels:
        enc = cls(scheme=data["scheme"])
        enc.scheme_ = check_scheme_name(data["scheme"], allow_auto=False)
        enc.classes_ = [str(c) for c in data["classes"]]
        enc._ids = {c: i for i, c in enumerate(enc.classes_)}
        return enc


def _register() -> None:
    from .labels import register_label_encoder

    register_label_encoder(TagLabels)


_register()


# ---------------------------------------------------------------------------------------- alignment
def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Sub-token labels: a word's label on its first sub-token, ``IGNORE_INDEX`` elsewhere.

    ``word_ids`` is a fast tokenizer's ``encoding.word_ids()`` (``None`` for special tokens).

    >>> align_labels([None, 0, 0, 1, None], [3, 0])
    [-100, 3, -100, 0, -100]
    """
    out = []
    previous = None
    for word in word_ids:
        if word is None or word == previous:
            out.append(IGNORE_INDEX)
        else:
            out.append(int(word_labels[word]))
        previous = word
    return out


def first_subtokens(word_ids: Sequence[int | None]) -> dict[int, int]:
    """``{word index: position of its first sub-token}`` (words cut by truncation are absent)."""
    first: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in first:
            first[word] = position
    return first


def word_predictions(
    proba: Any, word_ids: Sequence[int | None], n_words: int
) -> tuple[list[int], list[float], int]:
    """Per-word predicted label ids and probabilities from sub-token probabilities.

    Each word takes its first sub-token's prediction. Words with no sub-token (cut by
    truncation, or made of characters the tokenizer drops) get label ``0`` (``O``) with
    probability ``nan``.

    Returns
    -------
    (ids, scores, n_missing)
    """
    import numpy as np

    first = first_subtokens(word_ids)
    ids, scores = [], []
    for w in range(n_words):
        pos = first.get(w)
        if pos is None:
            ids.append(0)
            scores.append(float("nan"))
        else:
            row = proba[pos]
            k = int(np.argmax(row))
            ids.append(k)
            scores.append(float(row[k]))
    return ids, scores, n_words - len(first)


# ---------------------------------------------------------------------------------------- entities
@dataclass(frozen=True)
class Entity:
    """An entity found in a text: ``text``, ``type``, character ``start``/``end`` and ``score``."""

    text: str
    type: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }


def entities_with_offsets(
    text: str, spans: Sequence[tuple[int, int]], tags: Sequence[str], scores: Sequence[float]
) -> list[dict]:
    """Entities of a text from its words' character spans, tags and tag probabilities.

    The score of an entity is the mean probability of its words' tags.

    >>> entities_with_offsets("Angela Merkel visited Paris", [(0, 6), (7, 13), (14, 21), (22, 27)],
    ...                       ["B-PER", "I-PER", "O", "B-LOC"], [0.9, 0.8, 0.99, 0.7])
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'text': 'Angela Merkel', 'type': 'PER', 'start': 0, 'end': 13, 'score': 0.85},
     {'text': 'Paris', 'type': 'LOC', 'start': 22, 'end': 27, 'score': 0.7}]
    """
    out = []
    for kind, first, last in get_entities(tags):
        start, end = spans[first][0], spans[last - 1][1]
        values = [s for s in scores[first:last] if s == s]
        score = round(sum(values) / len(values), 6) if values else float("nan")
        out.append(Entity(text[start:end], kind, start, end, score).to_dict())
    return out


# ---------------------------------------------------------------------------------------- metrics
def entity_scores(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> dict:
    """Entity-level precision, recall and F1, per type and micro/macro averaged (conlleval).

    Returns
    -------
    dict
        ``{"per_type": {type: {"precision", "recall", "f1", "support"}}, "micro": {...},
        "macro": {...}}``; ``support`` counts true entities.

    >>> s = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
    >>> s["micro"]["precision"], s["micro"]["recall"], round(s["micro"]["f1"], 4)
    (1.0, 0.5, 0.6667)
    """
    if len(y_true) != len(y_pred):
        raise DataError(f"{len(y_true)} true tag sequences but {len(y_pred)} predicted ones.")
    true_by: dict[str, set] = {}
    pred_by: dict[str, set] = {}
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        if len(t) != len(p):
            raise DataError(f"Sentence {i}: {len(t)} true tags but {len(p)} predicted tags.")
        for kind, a, b in get_entities(t):
            true_by.setdefault(kind, set()).add((i, a, b))
        for kind, a, b in get_entities(p):
            pred_by.setdefault(kind, set()).add((i, a, b))

    def prf(tp: int, n_pred: int, n_true: int) -> dict:
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": n_true}

    per_type = {}
    tp_all = pred_all = true_all = 0
    for kind in sorted(set(true_by) | set(pred_by)):
        t, p = true_by.get(kind, set()), pred_by.get(kind, set())
        tp = len(t & p)
        per_type[kind] = prf(tp, len(p), len(t))
        tp_all, pred_all, true_all = tp_all + tp, pred_all + len(p), true_all + len(t)
    macro = {
        key: (sum(v[key] for v in per_type.values()) / len(per_type) if per_type else 0.0)
        for key in ("precision", "recall", "f1")
    }
    macro["support"] = true_all
    return {"per_type": per_type, "micro": prf(tp_all, pred_all, true_all), "macro": macro}


def entity_report(scores: dict, digits: int = 4) -> str:
    """Text table of :func:`entity_scores` (like seqeval's classification_report)."""
    rows = [(k, v) for k, v in scores["per_type"].items()]
    rows += [("micro avg", scores["micro"]), ("macro avg", scores["macro"])]
    width = max(9, *(len(name) for name, _ in rows))
    head = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"
    lines = [head, ""]
    for i, (name, v) in enumerate(rows):
        if i == len(rows) - 2:
            lines.append("")
        lines.append(
            f"{name:>{width}} {v['precision']:>9.{digits}f} {v['recall']:>9.{digits}f} "
            f"{v['f1']:>9.{digits}f} {v['support']:>9d}"
        )
    return "\n".join(lines)
