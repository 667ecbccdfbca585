"""The configuration of our Keras 3 BERT-family encoders, read straight from a hub ``config.json``.

This module imports neither TensorFlow, Keras nor transformers: it only normalises the key names of
the families we implement (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, DistilBERT, ELECTRA; MiniLM and
CodeBERT checkpoints are ``bert``/``roberta`` model types) into one :class:`EncoderConfig`, and
writes them back as a ``config.json`` that transformers' ``AutoConfig`` reads.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "HEADS",
    "EncoderConfig",
    "TokenHead",
    "TOKEN_HEAD_KEY",
    "POOLING_KEY",
    "POOLINGS",
    "sentence_transformers_pooling",
    "is_supported",
    "read_config",
]

SUPPORTED_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra")
HEADS = (None, "sequence_classification", "token_classification")

# model_type -> (HF class-name stem, base_model_prefix)
_FAMILY = {
    "bert": ("Bert", "bert"),
    "roberta": ("Roberta", "roberta"),
    "xlm-roberta": ("XLMRoberta", "roberta"),
    "camembert": ("Camembert", "roberta"),
    "distilbert": ("DistilBert", "distilbert"),
    "electra": ("Electra", "electra"),
}
_HEAD_SUFFIX = {
    None: "Model",
    "sequence_classification": "ForSequenceClassification",
    "token_classification": "ForTokenClassification",
}
# Defaults of transformers' config classes for the keys a config.json may leave out.
_BERT_DEFAULTS = dict(
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    pad_token_id=0,
    initializer_range=0.02,
    classifier_dropout=None,
)
_DEFAULTS = {
    "bert": _BERT_DEFAULTS,
    "roberta": {**_BERT_DEFAULTS, "vocab_size": 50265, "pad_token_id": 1},
    "xlm-roberta": {**_BERT_DEFAULTS, "vocab_size": 30522, "pad_token_id": 1},
    "camembert": {**_BERT_DEFAULTS, "vocab_size": 30522, "pad_token_id": 1},
    "electra": {
        **_BERT_DEFAULTS,
        "embedding_size": 128,
        "hidden_size": 256,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
    },
}
# DistilBERT's own key -> our field, and transformers' DistilBertConfig defaults.
_DISTILBERT_KEYS = {
    "dim": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "hidden_dim": "intermediate_size",
    "activation": "hidden_act",
    "dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
}
_DISTILBERT_DEFAULTS = dict(
    vocab_size=30522,
    max_position_embeddings=512,
    sinusoidal_pos_embds=False,
    n_layers=6,
    n_heads=12,
    dim=768,
    hidden_dim=3072,
    dropout=0.1,
    attention_dropout=0.1,
    activation="gelu",
    initializer_range=0.02,
    qa_dropout=0.1,
    seq_classif_dropout=0.2,
    pad_token_id=0,
)
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish", "tanh")


def is_supported(config_dict: dict[str, Any]) -> bool:
    """Whether a ``config.json`` dict describes an architecture our encoders implement.

    >>> is_supported({"model_type": "bert"}), is_supported({"model_type": "gpt2"})
    (True, False)
    """
    return isinstance(config_dict, dict) and config_dict.get("model_type") in SUPPORTED_MODEL_TYPES


def _labels(raw: dict[str, Any]) -> tuple[int, dict[int, str], dict[str, int]]:
    id2label_raw = raw.get("id2label")
    if id2label_raw:
        try:
            id2label = {int(k): str(v) for k, v in id2label_raw.items()}
        except (AttributeError, ValueError) as err:
            raise ConfigError(
                "`id2label` in config.json must map integer ids to label names. "
                f"Received: id2label={id2label_raw!r}. Fix the config or pass id2label explicitly."
            ) from err
        num_labels = len(id2label)
    else:
        num_labels = int(raw.get("num_labels", 2))
        id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
    label2id = raw.get("label2id") or {v: k for k, v in id2label.items()}
    label2id = {str(k): int(v) for k, v in label2id.items()}
    if set(label2id) != set(id2label.values()):
        label2id = {v: k for k, v in id2label.items()}
    return num_labels, id2label, label2id


#: The ``config.json`` key that describes a token-classification head other than the linear one.
TOKEN_HEAD_KEY = "easytx_token_head"
TOKEN_HEAD_KINDS = ("linear", "bilstm")


#: The ``config.json`` key that says how a sequence-classification head pools the encoder's output.
POOLING_KEY = "easytx_pooling"
#: ``"cls"``: each family's own head on the first token (BERT's pooler, RoBERTa's dense layer, ...),
#: as transformers' classes; ``"mean"``: the same head on the mean of the non-padding tokens.
POOLINGS = ("cls", "mean")


def _check_pooling(value: Any) -> str:
    if value not in POOLINGS:
        raise ConfigError(
            f"`{POOLING_KEY}` in config.json must be one of {list(POOLINGS)}. Received: {value!r}. "
            "Fix config.json (or drop the key: 'cls' is the default)."
        )
    return value


def sentence_transformers_pooling(folder: str | os.PathLike) -> str | None:
    """How a sentence-transformers model in ``folder`` pools its tokens, as one of :data:`POOLINGS`.

    Sentence-embedding models (all-MiniLM-L6-v2, all-mpnet-base-v2, ...) are trained so that a
    pooling of the last hidden state, usually the mean, is the sentence's meaning; their folders
    say which in ``modules.json`` and the Pooling module's ``config.json`` (``1_Pooling/``).

    Returns
    -------
    str or None
        ``"mean"`` or ``"cls"`` when the Pooling module uses exactly that mode; ``None`` when the
        folder is not a sentence-transformers model, its files cannot be read, or it pools another
        way (max, weighted mean, several modes at once), which no classification head here repeats.

    Examples
    --------
    >>> sentence_transformers_pooling("/no/such/folder") is None
    True
    """
    root = Path(folder)
    pooling_dir = root / "1_Pooling"
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
        for module in modules if isinstance(modules, list) else []:
            if isinstance(module, dict) and str(module.get("type", "")).endswith("models.Pooling"):
                pooling_dir = root / str(module.get("path", ""))
                break
    except (OSError, ValueError):
        pass  # no modules.json: look for the usual folder name
    try:
        options = json.loads((pooling_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(options, dict):
        return None
    modes = {
        k[len("pooling_mode_") :] for k, v in options.items() if k.startswith("pooling_mode_") and v is True
    }
    if modes == {"mean_tokens"}:
        return "mean"
    if modes == {"cls_token"}:
        return "cls"
    return None


@dataclasses.dataclass(frozen=True)
class TokenHead:
    """The token-classification head: transformers' linear layer, or ktrain's BiLSTM tagger.

    ``kind="bilstm"`` is ktrain's ``'bilstm-transformer'`` tagger. The encoder is frozen and read
    at the hidden ``layers`` (``-2``: the second-to-last block's output; several are
    concatenated), at each word's first sub-token. A trainable embedding of the training words
    (``word_vocab_size`` ids, ``word_embedding_dim`` wide; ``0`` leaves it out) is concatenated,
    then come dropout, a bidirectional LSTM of ``lstm_units`` per direction over the words, a
    ``fc_dim`` tanh layer and the tag layer. The model takes a ``word_index`` input: each
    word's vocabulary id (``1`` unknown) on its first sub-token, ``0`` elsewhere. In
    ``config.json`` it is the :data:`TOKEN_HEAD_KEY` entry (absent for the linear head).

    Examples
    --------
    >>> TokenHead.from_dict({"kind": "bilstm", "layers": [-2]}, num_hidden_layers=6).hidden_index(6)
    [5]
    """

    kind: str = "linear"
    lstm_units: int = 100
    fc_dim: int = 100
    dropout: float = 0.5
    layers: tuple[int, ...] = (-2,)
    word_vocab_size: int = 2
    word_embedding_dim: int = 100

    @classmethod
    def from_dict(cls, d: Any, *, num_hidden_layers: int) -> TokenHead:
        """Read and check a :data:`TOKEN_HEAD_KEY` entry (``None``: the linear head)."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ConfigError(
                f"`{TOKEN_HEAD_KEY}` in config.json must be a dict such as {{'kind': 'bilstm'}}. "
                f"Received: {d!r}."
            )
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(
                f"`{TOKEN_HEAD_KEY}` has unknown key(s) {unknown}; expected kind, lstm_units, fc_dim, "
                "dropout, layers, word_vocab_size, word_embedding_dim."
            )
        head = cls(**{**d, "layers": tuple(d.get("layers", cls.layers))})
        if head.kind not in TOKEN_HEAD_KINDS:
            raise ConfigError(
                f"`{TOKEN_HEAD_KEY}.kind` must be one of {TOKEN_HEAD_KINDS}. Received: {head.kind!r}."
            )
        for name, least in (
            ("lstm_units", 1),
            ("fc_dim", 1),
            ("word_vocab_size", 2),
            ("word_embedding_dim", 0),
        ):
            value = getattr(head, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigError(
                    f"`{TOKEN_HEAD_KEY}.{name}` must be an int >= {least}. Received: {value!r}."
                )
        if not isinstance(head.dropout, (int, float)) or not 0.0 <= head.dropout < 1.0:
            raise ConfigError(f"`{TOKEN_HEAD_KEY}.dropout` must lie in [0, 1). Received: {head.dropout!r}.")
        n = num_hidden_layers
        bad = [
            i for i in head.layers if not isinstance(i, int) or isinstance(i, bool) or not -(n + 1) <= i <= n
        ]
        if not head.layers or bad:
            raise ConfigError(
                f"`{TOKEN_HEAD_KEY}.layers` must be hidden-state indices in [-{n + 1}, {n}] (0: the "
                f"embeddings, -1: the last of the {n} blocks). Received: {list(head.layers)}."
            )
        return head

    def to_dict(self) -> dict[str, Any] | None:
        """The :data:`TOKEN_HEAD_KEY` entry (``None`` for the linear head)."""
        if self.kind == "linear":
            return None
        return {**dataclasses.asdict(self), "layers": list(self.layers)}

    def hidden_index(self, num_hidden_layers: int) -> list[int]:
        """Each of :attr:`layers` as an index into (embeddings, block 1, ..., block n)."""
        return [i if i >= 0 else num_hidden_layers + 1 + i for i in self.layers]


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """The architecture of a BERT-family encoder, with names normalised across families.

    Build it with :func:`read_config` or :meth:`from_dict`; :meth:`to_dict` gives back a
    ``config.json`` dict that transformers' ``AutoConfig`` and model classes load.

    ``pooling`` (:data:`POOLINGS`, the :data:`POOLING_KEY` entry of ``config.json``) is what the
    sequence-classification head reads: the first token (``"cls"``, as transformers' classes) or
    the mean of the non-padding tokens (``"mean"``). transformers ignores the key, so a model
    trained with ``"mean"`` is read correctly by easytx only.

    Examples
    --------
    >>> cfg = EncoderConfig.from_dict({"model_type": "distilbert", "dim": 32, "n_layers": 2, "n_heads": 2})
    >>> cfg.hidden_size, cfg.num_hidden_layers, cfg.layer_norm_eps
    (32, 2, 1e-12)
    """

    model_type: str
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    hidden_act: str
    hidden_dropout_prob: float
    attention_probs_dropout_prob: float
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    pad_token_id: int
    embedding_size: int
    classifier_dropout: float | None
    num_labels: int
    id2label: dict[int, str]
    label2id: dict[str, int]
    initializer_range: float = 0.02
    sinusoidal_pos_embds: bool = False
    seq_classif_dropout: float = 0.2
    qa_dropout: float = 0.1
    token_head: TokenHead = dataclasses.field(default_factory=TokenHead)
    pooling: str = "cls"
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderConfig:
        """Normalise a ``config.json`` dict of any supported family.

        Raises
        ------
        ConfigError
            If ``d`` is not a dict, its ``model_type`` is not supported, or its sizes are inconsistent.
        """
        if not isinstance(d, dict):
            raise ConfigError(
                f"An encoder config must be a dict read from config.json. Received: {type(d).__name__}."
            )
        model_type = d.get("model_type")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise ConfigError(
                f"`model_type` must be one of {SUPPORTED_MODEL_TYPES} for easytx's Keras 3 encoders. "
                f"Received: model_type={model_type!r}. Use the transformers backend for other "
                "architectures, or fix config.json."
            )
        raw = copy.deepcopy(d)
        num_labels, id2label, label2id = _labels(raw)
        if model_type == "distilbert":
            merged = {**_DISTILBERT_DEFAULTS, **raw}
            fields: dict[str, Any] = {ours: merged[theirs] for theirs, ours in _DISTILBERT_KEYS.items()}
            fields.update(
                vocab_size=merged["vocab_size"],
                max_position_embeddings=merged["max_position_embeddings"],
                type_vocab_size=0,
                layer_norm_eps=1e-12,
                pad_token_id=merged.get("pad_token_id") or 0,
                embedding_size=merged["dim"],
                classifier_dropout=None,
                initializer_range=merged["initializer_range"],
                sinusoidal_pos_embds=bool(merged["sinusoidal_pos_embds"]),
                seq_classif_dropout=merged["seq_classif_dropout"],
                qa_dropout=merged["qa_dropout"],
            )
        else:
            merged = {**_DEFAULTS[model_type], **raw}
            names = [f.name for f in dataclasses.fields(cls)]
            fields = {k: merged[k] for k in _DEFAULTS[model_type] if k in names}
            fields["embedding_size"] = merged.get("embedding_size") or merged["hidden_size"]
            if fields["pad_token_id"] is None:
                fields["pad_token_id"] = _DEFAULTS[model_type]["pad_token_id"]
        config = cls(
            model_type=model_type,
            num_labels=num_labels,
            id2label=id2label,
            label2id=label2id,
            token_head=TokenHead.from_dict(
                raw.get(TOKEN_HEAD_KEY), num_hidden_layers=fields["num_hidden_layers"]
            ),
            pooling=_check_pooling(raw.get(POOLING_KEY, "cls")),
            raw=raw,
            **fields,
        )
        config._validate()
        return config

    def _validate(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "embedding_size",
            "max_position_embeddings",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(
                    f"`{name}` must be a positive int. Received: {name}={value!r}. Fix config.json."
                )
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                "`hidden_size` must be a multiple of `num_attention_heads`. Received: "
                f"hidden_size={self.hidden_size}, num_attention_heads={self.num_attention_heads}."
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(
                f"`hidden_act` must be one of {ACTIVATIONS}. Received: hidden_act={self.hidden_act!r}."
            )

    @property
    def base_model_prefix(self) -> str:
        """The name transformers gives the base model inside a model with a head (``"bert"``, ...)."""
        return _FAMILY[self.model_type][1]

    def architecture(self, head: str | None) -> str:
        """transformers' class name for this family and ``head`` (``"BertForSequenceClassification"``)."""
        if head not in _HEAD_SUFFIX:
            raise ConfigError(f"`head` must be one of {HEADS}. Received: head={head!r}.")
        return _FAMILY[self.model_type][0] + _HEAD_SUFFIX[head]

    def with_labels(self, num_labels: int, id2label: dict[int, str] | None = None) -> EncoderConfig:
        """A copy with ``num_labels`` classes named by ``id2label`` (default ``LABEL_i``).

        Raises
        ------
        ConfigError
            If ``num_labels`` is not a positive int or ``id2label`` does not name ids ``0..num_labels-1``.
        """
        if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
            raise ConfigError(
                f"`num_labels` must be a positive int. Received: num_labels={num_labels!r}. "
                "Pass the number of classes (tags for token classification)."
            )
        if id2label is None:
            id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
        else:
            try:
                id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"`id2label` must map ints to label names. Received: id2label={id2label!r}."
                ) from err
            if sorted(id2label) != list(range(num_labels)):
                raise ConfigError(
                    f"`id2label` must name the ids 0..{num_labels - 1} (num_labels={num_labels}). "
                    f"Received ids: {sorted(id2label)}. Pass one name per class."
                )
        label2id = {v: k for k, v in id2label.items()}
        return dataclasses.replace(self, num_labels=num_labels, id2label=id2label, label2id=label2id)

    def to_dict(self, head: str | None = None) -> dict[str, Any]:
        """A ``config.json`` dict: the original keys, with labels and ``architectures`` updated."""
        d = {**copy.deepcopy(self.raw), **_own_keys(self)}
        d["model_type"] = self.model_type
        d["architectures"] = [self.architecture(head)]
        d["id2label"] = {str(k): v for k, v in sorted(self.id2label.items())}
        d["label2id"] = dict(self.label2id)
        d.pop("num_labels", None)  # implied by id2label; transformers reads it from there
        d.pop(TOKEN_HEAD_KEY, None)
        d.pop(POOLING_KEY, None)
        if head == "sequence_classification" and self.pooling != "cls":
            d[POOLING_KEY] = self.pooling
        if head == "token_classification" and self.token_head.to_dict() is not None:
            d[TOKEN_HEAD_KEY] = self.token_head.to_dict()
        return d


def _own_keys(config: EncoderConfig) -> dict[str, Any]:
    if config.model_type == "distilbert":
        d = {theirs: getattr(config, ours) for theirs, ours in _DISTILBERT_KEYS.items()}
        d.update(
            vocab_size=config.vocab_size,
            max_position_embeddings=config.max_position_embeddings,
            sinusoidal_pos_embds=config.sinusoidal_pos_embds,
            initializer_range=config.initializer_range,
            seq_classif_dropout=config.seq_classif_dropout,
            qa_dropout=config.qa_dropout,
            pad_token_id=config.pad_token_id,
        )
        return d
    keys = [k for k in _BERT_DEFAULTS]
    d = {k: getattr(config, k) for k in keys}
    if config.model_type == "electra":
        d["embedding_size"] = config.embedding_size
    return d


def read_config(folder: str | os.PathLike) -> EncoderConfig:
    """Read ``folder/config.json`` into an :class:`EncoderConfig`.

    Raises
    ------
    ConfigError
        If the file is missing, is not JSON, or describes an unsupported architecture.
    """
    path = Path(folder) / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"No readable config.json in {Path(folder)}: {err}. Expected a Hugging Face model folder "
            "(config.json + weights)."
        ) from err
    try:
        d = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err}). Re-download or fix the file.") from err
    return EncoderConfig.from_dict(d)
