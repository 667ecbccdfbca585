"""BERT-family encoders written for Keras 3 (the ``keras`` package, TensorFlow backend).

One implementation covers BERT (and MiniLM), RoBERTa / XLM-RoBERTa / CamemBERT (and CodeBERT),
DistilBERT and ELECTRA; the families differ only in their embeddings (position ids, token types,
ELECTRA's projection), in where the dropout sits and in their classification heads. Layers follow
``keras.mixed_precision``'s global policy; softmax runs in float32 and logits come out as float32.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _env  # noqa: F401  (must run before TensorFlow is imported)
from ..errors import ConfigError
from .config import HEADS, EncoderConfig

try:
    import keras
    from keras import ops
except ImportError as err:  # pragma: no cover - keras 3 ships with TensorFlow >= 2.16
    raise ConfigError(
        "easytx's own encoders need Keras 3 (the `keras` package). Received: no `keras` installed. "
        "Install it with `pip install 'keras>=3'`."
    ) from err

if int(keras.__version__.split(".")[0]) < 3:  # pragma: no cover - depends on the environment
    raise ConfigError(
        "easytx's own encoders need Keras 3 (the `keras` package, version >= 3). Received: "
        f"keras=={keras.__version__}. Upgrade with `pip install -U 'keras>=3'`, or use the transformers "
        "backend on tf-keras."
    )

__all__ = ["EncoderModel", "build_model"]

_NEG_INF = -1e9  # the score of a padded key (scores are float32)


def _activation(name: str):
    if name == "gelu":
        return lambda x: ops.gelu(x, approximate=False)
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: ops.gelu(x, approximate=True)
    if name == "relu":
        return ops.relu
    if name in ("silu", "swish"):
        return ops.silu
    if name == "tanh":
        return ops.tanh
    raise ConfigError(f"Unsupported activation. Received: {name!r}. Expected gelu, gelu_new, relu or silu.")


def _init(config: EncoderConfig):
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def _dense(config: EncoderConfig, units: int, name: str, **kwargs: Any) -> keras.layers.Dense:
    return keras.layers.Dense(
        units, kernel_initializer=_init(config), bias_initializer="zeros", name=name, **kwargs
    )


def _layer_norm(config: EncoderConfig, name: str) -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name=name)


def _masked_mean(x: Any, attention_mask: Any) -> Any:
    """The mean of ``x`` ``[batch, seq, hidden]`` over the positions ``attention_mask`` keeps
    (every position without a mask); a row with no kept position gives zeros. Summed in float32
    (a float16 sum over 512 positions can overflow), returned in ``x``'s dtype."""
    x32 = ops.cast(x, "float32")
    if attention_mask is None:
        return ops.cast(ops.mean(x32, axis=1), x.dtype)
    keep = ops.cast(ops.expand_dims(ops.not_equal(attention_mask, 0), -1), "float32")
    mean = ops.sum(x32 * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)
    return ops.cast(mean, x.dtype)


def _sinusoidal(n_pos: int, dim: int):
    import numpy as np

    pos = np.arange(n_pos)[:, None]
    j = np.arange(dim)[None, :]
    angles = pos / np.power(10000, 2 * (j // 2) / dim)
    out = np.zeros((n_pos, dim), dtype="float32")
    out[:, 0::2] = np.sin(angles[:, 0::2])
    out[:, 1::2] = np.cos(angles[:, 1::2])
    return out


class Embeddings(keras.layers.Layer):
    """Word + position (+ token type) embeddings, LayerNorm and dropout."""

    def __init__(self, config: EncoderConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.roberta_positions = config.model_type in ("roberta", "xlm-roberta", "camembert")
        self.has_token_types = config.model_type != "distilbert" and config.type_vocab_size > 0
        self.layer_norm = _layer_norm(config, "LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape: Any = None) -> None:
        c = self.config
        self.word_embeddings = self.add_weight(
            shape=(c.vocab_size, c.embedding_size), initializer=_init(c), name="word_embeddings"
        )
        if c.sinusoidal_pos_embds:
            init = keras.initializers.Constant(_sinusoidal(c.max_position_embeddings, c.embedding_size))
            self.position_embeddings = self.add_weight(
                shape=(c.max_position_embeddings, c.embedding_size),
                initializer=init,
                name="position_embeddings",
                trainable=False,
            )
        else:
            self.position_embeddings = self.add_weight(
                shape=(c.max_position_embeddings, c.embedding_size),
                initializer=_init(c),
                name="position_embeddings",
            )
        self.token_type_embeddings = None
        if self.has_token_types:
            self.token_type_embeddings = self.add_weight(
                shape=(c.type_vocab_size, c.embedding_size),
                initializer=_init(c),
                name="token_type_embeddings",
            )
        self.layer_norm.build((None, None, c.embedding_size))
        self.built = True

    def lookup(self, input_ids: Any) -> Any:
        """The word embeddings of ``input_ids`` (no positions, no LayerNorm)."""
        return ops.cast(
            ops.take(self.word_embeddings, ops.cast(input_ids, "int32"), axis=0), self.compute_dtype
        )

    def call(
        self,
        input_ids: Any = None,
        inputs_embeds: Any = None,
        token_type_ids: Any = None,
        training: bool = False,
    ) -> Any:
        pad = self.config.pad_token_id
        if inputs_embeds is None:
            input_ids = ops.cast(input_ids, "int32")
            x = self.lookup(input_ids)
            seq_len = ops.shape(input_ids)[1]
            if self.roberta_positions:
                not_pad = ops.cast(ops.not_equal(input_ids, pad), "int32")
                positions = ops.cumsum(not_pad, axis=1) * not_pad + pad
            else:
                positions = ops.expand_dims(ops.arange(seq_len, dtype="int32"), 0)
        else:
            x = ops.cast(inputs_embeds, self.compute_dtype)
            seq_len = ops.shape(x)[1]
            start = pad + 1 if self.roberta_positions else 0
            positions = ops.expand_dims(ops.arange(start, seq_len + start, dtype="int32"), 0)
        x = x + ops.cast(ops.take(self.position_embeddings, positions, axis=0), self.compute_dtype)
        if self.token_type_embeddings is not None:
            if token_type_ids is None or self.config.type_vocab_size == 1:
                types = ops.take(self.token_type_embeddings, ops.zeros((1, 1), dtype="int32"), axis=0)
            else:
                types = ops.take(self.token_type_embeddings, ops.cast(token_type_ids, "int32"), axis=0)
            x = x + ops.cast(types, self.compute_dtype)
        x = self.layer_norm(x)
        return self.dropout(x, training=training)


class TransformerBlock(keras.layers.Layer):
    """A post-LayerNorm transformer block (self-attention, then feed-forward)."""

    def __init__(self, config: EncoderConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        h = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = h // config.num_attention_heads
        self.query = _dense(config, h, "query")
        self.key = _dense(config, h, "key")
        self.value = _dense(config, h, "value")
        self.attention_output = _dense(config, h, "attention_output")
        self.attention_norm = _layer_norm(config, "attention_norm")
        self.intermediate = _dense(config, config.intermediate_size, "intermediate")
        self.ffn_output = _dense(config, h, "ffn_output")
        self.output_norm = _layer_norm(config, "output_norm")
        self.attention_dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)
        # DistilBERT has no dropout after the attention output projection.
        self.attention_output_dropout = keras.layers.Dropout(
            0.0 if config.model_type == "distilbert" else config.hidden_dropout_prob
        )
        self.ffn_dropout = keras.layers.Dropout(config.hidden_dropout_prob)
        self.act = _activation(config.hidden_act)

    def build(self, input_shape: Any) -> None:
        h = self.config.hidden_size
        for dense in (self.query, self.key, self.value, self.attention_output):
            dense.build((None, None, h))
        self.attention_norm.build((None, None, h))
        self.intermediate.build((None, None, h))
        self.ffn_output.build((None, None, self.config.intermediate_size))
        self.output_norm.build((None, None, h))
        self.built = True

    def _split(self, x: Any, b: Any, s: Any) -> Any:
        # b, s are the block input's dimensions, not read from the projection's output: tf2onnx
        # fuses the Dense layer's reshapes and then reads that shape from its 2-D MatMul, which
        # made the exported ONNX graph fail (Reshape {b*s, h} -> {b*s, h, heads, head_dim})
        return ops.reshape(x, (b, s, self.num_heads, self.head_dim))

    def call(self, x: Any, key_mask: Any = None, training: bool = False) -> Any:
        """``key_mask``: bool ``[batch, 1, 1, seq]``, False at padded keys (None: attend everywhere)."""
        b, s = ops.shape(x)[0], ops.shape(x)[1]
        q = self._split(self.query(x), b, s) * ops.cast(1.0 / math.sqrt(self.head_dim), self.compute_dtype)
        k = self._split(self.key(x), b, s)
        v = self._split(self.value(x), b, s)
        scores = ops.cast(ops.einsum("bqhd,bkhd->bhqk", q, k), "float32")
        if key_mask is not None:  # float32 even under mixed precision, so -1e9 stays finite
            scores = ops.where(key_mask, scores, _NEG_INF)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.attention_dropout(probs, training=training)
        context = ops.reshape(ops.einsum("bhqk,bkhd->bqhd", probs, v), (b, s, self.num_heads * self.head_dim))
        attn = self.attention_output_dropout(self.attention_output(context), training=training)
        x = self.attention_norm(x + attn)
        ffn = self.ffn_output(self.act(self.intermediate(x)))
        ffn = self.ffn_dropout(ffn, training=training)
        return self.output_norm(x + ffn)


class Backbone(keras.layers.Layer):
    """Embeddings (+ ELECTRA's projection), the transformer blocks and, where used, the pooler."""

    def __init__(self, config: EncoderConfig, with_pooler: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = Embeddings(config, name="embeddings")
        self.embeddings_project = None
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = _dense(config, config.hidden_size, "embeddings_project")
        self.blocks = [TransformerBlock(config, name=f"block_{i}") for i in range(config.num_hidden_layers)]
        self.pooler = _dense(config, config.hidden_size, "pooler", activation="tanh") if with_pooler else None

    def build(self, input_shape: Any = None) -> None:
        c = self.config
        self.embeddings.build(None)
        if self.embeddings_project is not None:
            self.embeddings_project.build((None, None, c.embedding_size))
        for block in self.blocks:
            block.build((None, None, c.hidden_size))
        if self.pooler is not None:
            self.pooler.build((None, c.hidden_size))
        self.built = True

    def call(
        self,
        input_ids: Any = None,
        attention_mask: Any = None,
        token_type_ids: Any = None,
        inputs_embeds: Any = None,
        training: bool = False,
        output_hidden_states: bool = False,
        n_blocks: int | None = None,
    ) -> tuple[Any, tuple]:
        """``(last, hidden)``: the output of the last block run (all, or the first ``n_blocks``)
        and, with ``output_hidden_states``, the embeddings' and each block's output."""
        x = self.embeddings(
            input_ids=input_ids, inputs_embeds=inputs_embeds, token_type_ids=token_type_ids, training=training
        )
        if self.embeddings_project is not None:
            x = self.embeddings_project(x)
        key_mask = None
        if attention_mask is not None:  # bool, so that Keras' autocasting leaves it alone
            # (batch, 1, 1, keys). Written with expand_dims, TFLite would need no TF (Flex) op for
            # it, but the tiny-model windows fixture then trains to another result (see
            # docs/migrating-from-ktrain.md): kept as it was until that fixture is robust
            key_mask = ops.not_equal(attention_mask, 0)[:, None, None, :]
        hidden = [x] if output_hidden_states else []
        for block in self.blocks[:n_blocks]:
            x = block(x, key_mask=key_mask, training=training)
            if output_hidden_states:
                hidden.append(x)
        return x, tuple(hidden)


def _symbolic_batch(iterator: Any) -> Any:
    """Symbolic tensors shaped like the batches ``iterator`` (a Keras 3 epoch iterator) will give.

    Read from the dataset's ``element_spec``, without drawing any data; ``None`` when the data
    is not a ``tf.data`` pipeline of plain tensors (then Keras reads a batch, as it does by default).
    """
    import tensorflow as tf

    get_dataset = getattr(getattr(iterator, "data_adapter", None), "get_tf_dataset", None)
    if get_dataset is None:
        return None
    try:
        spec = get_dataset().element_spec
    except Exception:  # noqa: BLE001 - any adapter trouble: leave it to Keras' own path
        return None
    leaves = tf.nest.flatten(spec)
    if not leaves or not all(type(leaf) is tf.TensorSpec for leaf in leaves):
        return None
    return tf.nest.map_structure(lambda s: keras.KerasTensor(tuple(s.shape), s.dtype.name), spec)


def _for_multi_worker_mean(model: Any, logs: Any) -> Any:
    """A training or test step's logs, shaped for Keras 3's reduction over several workers.

    Under ``MultiWorkerMirroredStrategy`` Keras 3 averages each value a step returns with
    ``strategy.reduce("MEAN", value, axis=0)`` (``reduce_per_replica``), which fails on the scalar
    metric results (``ValueError: Invalid reduction dimension 0 for input with 0 dimensions``;
    tensorflow/tensorflow#72388). Given as one-element vectors, the same reduction returns their
    mean over all replicas, a scalar again. Elsewhere the logs are returned unchanged.
    """
    import tensorflow as tf

    strategy = model.distribute_strategy
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    if not (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and callable(in_multi_worker_mode)
        and in_multi_worker_mode()
    ):
        return logs
    return tf.nest.map_structure(
        lambda v: tf.reshape(v, [1]) if isinstance(v, tf.Tensor) and v.shape.rank == 0 else v, logs
    )


def _uses_pooler(config: EncoderConfig, head: str | None) -> bool:
    if config.model_type == "bert":
        return head in (None, "sequence_classification")
    return config.model_type in ("roberta", "xlm-roberta", "camembert") and head is None


@keras.saving.register_keras_serializable(package="easytx")
class EncoderModel(keras.Model):
    """A BERT-family encoder with an optional classification head, in Keras 3.

    Use :func:`build_model` (random weights) or :func:`easytx.encoders.from_pretrained`.
    ``call(inputs)`` takes a dict with ``input_ids`` (or ``inputs_embeds``), optional
    ``attention_mask`` and ``token_type_ids``, and returns float32 logits (the last hidden state when
    there is no head).

    Attributes
    ----------
    config : EncoderConfig
    head_name : str or None
    base_model_prefix : str
        ``"bert"``, ``"roberta"``, ``"distilbert"`` or ``"electra"``, as in transformers.
    backbone : keras.layers.Layer
        With ``.embeddings`` and ``.blocks``; set ``.trainable = False`` on them to freeze.
    output_layer : keras.layers.Dense or None
        The head's last Dense (``num_labels`` units).
    """

    def __init__(self, config: EncoderConfig, head: str | None = None, **kwargs: Any) -> None:
        if head not in HEADS:
            raise ConfigError(
                f"`head` must be one of {HEADS}. Received: head={head!r}. Use 'sequence_classification' "
                "for text classification or 'token_classification' for tagging."
            )
        kwargs.setdefault("name", f"{config.base_model_prefix}_encoder")
        super().__init__(**kwargs)
        self.config = config
        self.head_name = head
        self.base_model_prefix = config.base_model_prefix
        self.backbone = Backbone(config, _uses_pooler(config, head), name=config.base_model_prefix)
        c = config
        family = c.model_type
        rate = c.classifier_dropout if c.classifier_dropout is not None else c.hidden_dropout_prob
        self.head_dense = None  # roberta/electra classifier.dense, distilbert pre_classifier
        self.head_activation = None
        self.output_layer = None
        self.head_dropout = None
        self.head_dropout_2 = None
        self.tagger_lstm = self.tagger_fc = self.tagger_words = None  # ktrain's BiLSTM tagger
        if head is None:
            return
        out = dict(units=c.num_labels, name="classifier", dtype="float32")
        if head == "token_classification" and c.token_head.kind == "bilstm":
            # ktrain's BiLSTM tagger on frozen transformer features (Keras' default initialisers,
            # as ktrain's Keras layers have); `unfreeze()` would fine-tune the encoder as well
            t = c.token_head
            self.backbone.trainable = False
            self.tagger_words = None
            if t.word_embedding_dim:
                self.tagger_words = keras.layers.Embedding(
                    t.word_vocab_size, t.word_embedding_dim, name="tagger_word_embeddings"
                )
            self.head_dropout = keras.layers.Dropout(t.dropout, name="tagger_dropout")
            self.tagger_lstm = keras.layers.Bidirectional(
                keras.layers.LSTM(t.lstm_units, return_sequences=True), name="tagger_bilstm"
            )
            self.tagger_fc = keras.layers.Dense(t.fc_dim, activation="tanh", name="tagger_fc")
            self.output_layer = keras.layers.Dense(**out)
            return
        if head == "token_classification":
            self.head_dropout = keras.layers.Dropout(
                c.hidden_dropout_prob if family == "distilbert" else rate
            )
        elif family == "bert":
            self.head_dropout = keras.layers.Dropout(rate)
        elif family == "distilbert":
            self.head_dense = _dense(c, c.hidden_size, "pre_classifier")
            self.head_activation = ops.relu
            self.head_dropout_2 = keras.layers.Dropout(c.seq_classif_dropout)
        else:  # roberta family and electra: dropout, dense, act, dropout, out_proj
            self.head_dense = _dense(c, c.hidden_size, "classifier_dense")
            self.head_activation = ops.tanh if family != "electra" else _activation("gelu")
            self.head_dropout = keras.layers.Dropout(rate)
            self.head_dropout_2 = keras.layers.Dropout(rate)
            out["name"] = "out_proj"
        self.output_layer = _dense(c, **out)

    def build(self, input_shape: Any = None) -> None:
        h = self.config.hidden_size
        self.backbone.build(None)
        if self.head_dense is not None:
            self.head_dense.build((None, h))
        if self.tagger_lstm is not None:
            t = self.config.token_head
            if self.tagger_words is not None:
                self.tagger_words.build((None, None))
            self.tagger_lstm.build((None, None, h * len(t.layers) + t.word_embedding_dim))
            self.tagger_fc.build((None, None, 2 * t.lstm_units))
            self.output_layer.build((None, None, t.fc_dim))
        elif self.output_layer is not None:
            self.output_layer.build((None, None, h))
        self.built = True

    def train_step(self, data: Any) -> Any:
        # (the accumulating step of easytx.steps replaces this one; it runs on one replica only)
        return _for_multi_worker_mean(self, super().train_step(data))

    def test_step(self, data: Any) -> Any:
        return _for_multi_worker_mean(self, super().test_step(data))

    def _maybe_symbolic_build(self, iterator: Any = None, data_batch: Any = None) -> Any:
        """Build metrics and loss from the data's shapes instead of a batch read from the data.

        Keras 3's TensorFlow trainer, for a model made in a ``tf.distribute`` strategy's scope,
        starts every ``fit``/``evaluate`` by opening a new pass over the data, reading one batch
        and averaging it over the replicas with ``strategy.reduce``, only to learn its shapes
        (``keras/src/backend/tensorflow/trainer.py``, ``_maybe_symbolic_build``). Two harms: the
        extra pass counts as an epoch of an easytx dataset, whose shuffle seed is ``seed`` plus
        the passes so far, so training under a strategy saw other batches than on one device;
        and ``MultiWorkerMirroredStrategy`` cannot reduce a dict of per-replica batches
        (``ValueError: Attempt to convert a value ({'input_ids': PerReplica:...``;
        keras-team/keras#20329). The dataset's ``element_spec`` gives the same shapes (batch and
        length unknown) without reading any data.
        """
        strategy = getattr(self, "_distribute_strategy", None)  # None: Keras builds nothing here
        if strategy is not None and data_batch is None and iterator is not None:
            batch = _symbolic_batch(iterator)
            if batch is not None:
                iterator, data_batch = None, batch
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def word_embeddings(self) -> Any:
        """The word-embedding matrix variable, ``[vocab_size, embedding_size]``."""
        return self.backbone.embeddings.word_embeddings

    def embed_tokens(self, input_ids: Any) -> Any:
        """Look up ``input_ids`` in the word embeddings (for ``inputs_embeds``)."""
        return self.backbone.embeddings.lookup(input_ids)

    def _backbone(
        self, inputs: dict, training: bool, output_hidden_states: bool, n_blocks: int | None = None
    ) -> tuple[Any, tuple]:
        if not isinstance(inputs, dict):
            raise ConfigError(
                "An EncoderModel takes a dict with 'input_ids' (or 'inputs_embeds') and optionally "
                f"'attention_mask' and 'token_type_ids'. Received: {type(inputs).__name__}."
            )
        if inputs.get("input_ids") is None and inputs.get("inputs_embeds") is None:
            raise ConfigError(
                f"The inputs need 'input_ids' or 'inputs_embeds'. Received keys: {sorted(inputs)}."
            )
        return self.backbone(
            input_ids=inputs.get("input_ids"),
            attention_mask=inputs.get("attention_mask"),
            token_type_ids=inputs.get("token_type_ids"),
            inputs_embeds=inputs.get("inputs_embeds") if inputs.get("input_ids") is None else None,
            training=training,
            output_hidden_states=output_hidden_states,
            n_blocks=n_blocks,
        )

    def _bilstm_tags(self, inputs: dict, training: bool) -> Any:
        """ktrain's BiLSTM tagger: [frozen hidden states; word embedding] -> dropout -> BiLSTM
        over the words -> tanh -> tags.

        ``inputs["word_index"]`` marks each word's first sub-token with the word's id: the LSTM
        reads those positions only (as ktrain's reads one vector per word); the outputs at the
        other positions are not used. A frozen encoder runs in inference mode (no dropout), as
        ktrain computes its features, and only up to the deepest block read.
        """
        word_index = inputs.get("word_index") if isinstance(inputs, dict) else None
        if word_index is None:
            raise ConfigError(
                "The BiLSTM tagger needs a 'word_index' input (each word's id on its first "
                "sub-token), which easytx's TaggingTransformer adds to the data it makes. "
                f"Received keys: {sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__}."
            )
        c = self.config
        index = c.token_head.hidden_index(c.num_hidden_layers)
        frozen = not self.backbone.trainable
        _, hidden = self._backbone(inputs, training and not frozen, True, n_blocks=max(index))
        parts = [hidden[i] for i in index]
        x = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        if frozen:
            x = ops.stop_gradient(x)
        if self.tagger_words is not None:
            words = ops.cast(self.tagger_words(word_index), x.dtype)
            x = ops.concatenate([x, words], axis=-1)
        mask = ops.not_equal(word_index, 0)
        x = self.tagger_lstm(self.head_dropout(x, training=training), mask=mask, training=training)
        return self.output_layer(self.tagger_fc(x))

    def encode(self, inputs: dict, training: bool = False, output_hidden_states: bool = False) -> Any:
        """The last hidden state ``[batch, seq, hidden]``; with ``output_hidden_states=True`` a pair
        ``(last, all)`` where ``all`` holds the embedding output and every block's output."""
        last, hidden = self._backbone(inputs, training, output_hidden_states)
        return (last, hidden) if output_hidden_states else last

    def call(self, inputs: dict, training: bool = False) -> Any:
        if self.tagger_lstm is not None:
            return self._bilstm_tags(inputs, training)
        x, _ = self._backbone(inputs, training, False)
        if self.head_name is None:
            return ops.cast(x, "float32")
        if self.head_name == "token_classification":
            return self.output_layer(self.head_dropout(x, training=training))
        first = _masked_mean(x, inputs.get("attention_mask")) if self.config.pooling == "mean" else x[:, 0, :]
        family = self.config.model_type
        if family == "bert":
            pooled = self.backbone.pooler(first)
            return self.output_layer(self.head_dropout(pooled, training=training))
        if family == "distilbert":
            h = self.head_activation(self.head_dense(first))
            return self.output_layer(self.head_dropout_2(h, training=training))
        h = self.head_dense(self.head_dropout(first, training=training))
        h = self.head_dropout_2(self.head_activation(h), training=training)
        return self.output_layer(h)

    def save_pretrained(self, folder: Any) -> Any:
        """Write ``config.json`` and a PyTorch-layout ``model.safetensors`` (see :mod:`.weights`);
        return the folder as a :class:`pathlib.Path`."""
        from .weights import save_pretrained

        return save_pretrained(self, folder)

    def get_config(self) -> dict:
        return {"config": self.config.to_dict(self.head_name), "head": self.head_name, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> EncoderModel:
        return cls(EncoderConfig.from_dict(config["config"]), config["head"], name=config.get("name"))


def build_model(config: EncoderConfig, head: str | None = None) -> EncoderModel:
    """Build an :class:`EncoderModel` with freshly initialised weights (all variables created).

    Parameters
    ----------
    config : EncoderConfig
    head : {None, "sequence_classification", "token_classification"}

    Examples
    --------
    >>> from easytx.encoders import EncoderConfig
    >>> cfg = EncoderConfig.from_dict({"model_type": "bert", "vocab_size": 50, "hidden_size": 8,
    ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16})
    >>> model = build_model(cfg, "sequence_classification")
    >>> tuple(model({"input_ids": [[2, 5, 3]]}).shape)
    (1, 2)
    """
    if not isinstance(config, EncoderConfig):
        raise ConfigError(
            f"`config` must be an EncoderConfig (see easytx.encoders.read_config). Received: "
            f"{type(config).__name__}."
        )
    model = EncoderModel(config, head)
    model.build(None)
    return model
