"""A saved tokenizer read from its ``tokenizer.json`` with the ``tokenizers`` package alone.

:class:`JsonTokenizer` answers the calls easytx's preprocessors make on a Hugging Face fast
tokenizer at prediction time (``tokenizer(texts, truncation=True, max_length=...)``, pairs,
pre-split words, sliding windows with ``return_overflowing_tokens=True, stride=...``,
``pad_token_id``, ``model_input_names``), by calling the very Rust tokenizer
that a transformers fast tokenizer wraps. A :class:`~easytx.preprocess.Transformer` rebuilt
around it (see :meth:`Transformer.from_dict`) tokenizes, truncates, batches and decodes exactly
as the TensorFlow engine does, without importing transformers, TensorFlow or Keras: the ONNX
engine (:mod:`easytx.onnx_engine`) uses it.

Only what ``save_pretrained`` writes is read: ``tokenizer.json`` (vocabulary, normalizer,
pre-tokenizer, special-token template) and ``tokenizer_config.json`` /
``special_tokens_map.json`` (the padding token and the truncation side). Nothing is executed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ArtifactError, ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

__all__ = ["JsonTokenizer", "load_json_tokenizer"]

_TOKENIZERS_HINT = "The ONNX engine reads tokenizer.json with the tokenizers package: pip install tokenizers"


class _Encoded(dict):
    """What a transformers ``BatchEncoding`` gives the preprocessors: ``enc[name]`` (lists of
    ids), ``enc.encodings`` (the ``tokenizers.Encoding`` objects) and ``enc.word_ids(i)``."""

    def __init__(self, columns: dict, encodings: list):
        super().__init__(columns)
        self.encodings = encodings

    def word_ids(self, index: int = 0) -> list[int | None]:
        return self.encodings[index].word_ids


def _token_content(value: Any) -> str | None:
    """A special token as written by ``save_pretrained``: a string or an AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}.") from None
    return data if isinstance(data, dict) else {}


def _set_prefix_space(node: Any) -> bool:
    """Turn on ``add_prefix_space`` in a ByteLevel pre-tokenizer (also inside a Sequence)."""
    if not isinstance(node, dict):
        return False
    if node.get("type") == "ByteLevel":
        node["add_prefix_space"] = True
        return True
    found = False
    for child in node.get("pretokenizers") or []:
        found = _set_prefix_space(child) or found
    return found


class JsonTokenizer:
    """A ``tokenizers.Tokenizer`` called like a transformers fast tokenizer (the subset easytx uses).

    Parameters
    ----------
    tokenizer : tokenizers.Tokenizer
        The Rust tokenizer (``Tokenizer.from_file("tokenizer.json")``).
    input_names : list of str
        The model's token inputs (``input_ids``, ``token_type_ids`` where used), as recorded in
        the predictor's ``easytx.json``.
    pad_token : str, optional
        The padding token (``None``: the tokenizer has none; easytx then pads with id 0, as with
        a transformers tokenizer).
    truncation_side : {"right", "left"}
        Which end loses tokens when a text is longer than ``max_length``.
    model_max_length : int, optional
        The tokenizer's length limit, as saved.

    Examples
    --------
    >>> tok = load_json_tokenizer("my_predictor/tokenizer", input_names=["input_ids"])  # doctest: +SKIP
    >>> tok(["a text"], truncation=True, max_length=8)["input_ids"]  # doctest: +SKIP
    [[2, 31, 88, 3]]
    """

    is_fast = True

    def __init__(
        self,
        tokenizer: Any,
        *,
        input_names: Sequence[str],
        pad_token: str | None = None,
        truncation_side: str = "right",
        model_max_length: int | None = None,
    ):
        if truncation_side not in ("right", "left"):
            raise ConfigError(
                f"`truncation_side` must be 'right' or 'left'. Received: truncation_side={truncation_side!r}"
            )
        self._tokenizer = tokenizer
        self.model_input_names = [*input_names, "attention_mask"]
        self.pad_token = pad_token
        self.pad_token_id = None if pad_token is None else tokenizer.token_to_id(pad_token)
        self.truncation_side = truncation_side
        self.model_max_length = model_max_length
        # a saved tokenizer.json may carry the padding and truncation of its last use; like
        # transformers, each call sets them (never pad; truncate as asked)
        tokenizer.no_padding()
        self._truncation: Any = ()  # unknown: the first call sets it

    @property
    def backend_tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` (transformers' name for it)."""
        return self._tokenizer

    def __len__(self) -> int:
        return int(self._tokenizer.get_vocab_size(with_added_tokens=True))

    def __repr__(self) -> str:
        return f"JsonTokenizer(vocab={len(self)}, inputs={self.model_input_names[:-1]})"

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """Special tokens the template adds to a text (or a pair): transformers' method."""
        return int(self._tokenizer.num_special_tokens_to_add(bool(pair)))

    def _set_truncation(self, truncation: bool, max_length: int | None, stride: int = 0) -> None:
        wanted = (max_length, self.truncation_side, stride) if truncation and max_length else None
        if wanted == self._truncation:
            return
        if wanted is None:
            self._tokenizer.no_truncation()
        else:
            # what transformers' set_truncation_and_padding asks for with truncation=True
            self._tokenizer.enable_truncation(
                max_length=int(max_length),
                stride=int(stride),
                strategy="longest_first",
                direction=self.truncation_side,
            )
        self._truncation = wanted

    def __call__(
        self,
        text: Sequence[Any],
        text_pair: Sequence[str] | None = None,
        *,
        is_split_into_words: bool = False,
        truncation: bool = False,
        max_length: int | None = None,
        padding: bool = False,
        return_attention_mask: bool = False,
        return_token_type_ids: bool = False,
        return_overflowing_tokens: bool = False,
        stride: int = 0,
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        **unused: Any,
    ) -> _Encoded:
        """Tokenize a batch: ``text`` (strings, or word lists with ``is_split_into_words``) and
        optionally ``text_pair``; special tokens added, no padding, optional truncation.

        With ``return_overflowing_tokens=True`` every text longer than ``max_length`` gives
        several rows (windows sharing ``stride`` tokens), in transformers' order, and
        ``overflow_to_sample_mapping`` gives each row's text. ``add_special_tokens=False`` and
        ``return_offsets_mapping=True`` (character spans of the tokens) as in transformers."""
        if padding:
            raise ConfigError("JsonTokenizer does not pad; easytx pads each batch itself (padding=False).")
        if unused:
            raise ConfigError(f"Unexpected argument(s) for JsonTokenizer: {sorted(unused)}.")
        self._set_truncation(truncation, max_length, stride if return_overflowing_tokens else 0)
        batch = list(zip(text, text_pair)) if text_pair is not None else list(text)
        encodings = self._tokenizer.encode_batch(
            batch, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
        )
        mapping = None
        if return_overflowing_tokens:  # the windows as rows, as transformers flattens them
            mapping = [i for i, e in enumerate(encodings) for _ in range(1 + len(e.overflowing))]
            encodings = [w for e in encodings for w in (e, *e.overflowing)]
        columns: dict[str, list] = {"input_ids": [e.ids for e in encodings]}
        if return_token_type_ids:
            columns["token_type_ids"] = [e.type_ids for e in encodings]
        if return_attention_mask:
            columns["attention_mask"] = [e.attention_mask for e in encodings]
        if return_offsets_mapping:
            columns["offset_mapping"] = [e.offsets for e in encodings]
        if mapping is not None:
            columns["overflow_to_sample_mapping"] = mapping
        return _Encoded(columns, encodings)

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        raise ConfigError(
            "A predictor loaded with an ONNX engine cannot be saved (it holds no TensorFlow model). "
            "Load it with engine='tf' to save or re-export it."
        )


def load_json_tokenizer(
    folder: str | os.PathLike, *, input_names: Sequence[str], add_prefix_space: bool = False
) -> JsonTokenizer:
    """Read ``folder/tokenizer.json`` (and the padding token and truncation side that
    ``save_pretrained`` wrote next to it) into a :class:`JsonTokenizer`.

    Parameters
    ----------
    folder : path
        A tokenizer folder written by ``save_pretrained`` (a predictor's ``tokenizer/``).
    input_names : list of str
        The model's token inputs.
    add_prefix_space : bool
        Byte-level BPE tokenizers (RoBERTa...) given pre-split words need a space before each
        word, as transformers' ``add_prefix_space=True`` gives them.

    Raises
    ------
    ArtifactError
        No ``tokenizer.json`` in ``folder``, or one the ``tokenizers`` package cannot read.
    MissingDependencyError
        ``tokenizers`` is not installed.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError(_TOKENIZERS_HINT) from None
    folder = Path(folder)
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ArtifactError(
            f"{folder} has no tokenizer.json, which the ONNX engine reads (a fast tokenizer saves "
            "one). Load this predictor with engine='tf'."
        )
    config = _read_json(folder / "tokenizer_config.json")
    special = _read_json(folder / "special_tokens_map.json")
    try:
        if add_prefix_space:
            data = json.loads(path.read_text(encoding="utf-8"))
            _set_prefix_space(data.get("pre_tokenizer"))
            tokenizer = Tokenizer.from_str(json.dumps(data))
        else:
            tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises bare Exceptions on bad files
        raise ArtifactError(f"{path} cannot be read by the tokenizers package: {exc}") from None
    pad = _token_content(config.get("pad_token")) or _token_content(special.get("pad_token"))
    if pad is not None and tokenizer.token_to_id(pad) is None:
        raise ArtifactError(f"The padding token {pad!r} named in {folder} is not in {path}'s vocabulary.")
    limit = config.get("model_max_length")
    return JsonTokenizer(
        tokenizer,
        input_names=input_names,
        pad_token=pad,
        truncation_side=str(config.get("truncation_side", "right")),
        model_max_length=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
    )
