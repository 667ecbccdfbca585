"""Embeddings: ``Predictor.embed`` (a fine-tuned model's encoder) and ``text.TransformerEmbedding``
(a base model), both on the prediction path of easytx.inference (length-sorted batches)."""

from __future__ import annotations

import numpy as np
import pytest

import easytx
from easytx import backend, text
from easytx.embeddings import chance_agreement, neighbour_agreement
from easytx.errors import ConfigError, DataTypeError

# texts of very different lengths, so that length sorting reorders them and pads the short ones
TEXTS = [
    "a wonderful cast and a superb plot that kept me watching until the very last scene",
    "awful",
    "the film was superb",
    "",
    "an awful plot, a dull cast and far too long",
    "great",
    "boring and awful and dull",
]


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, preproc=t)


@pytest.fixture(scope="module")
def embedder(tiny_bert):
    return text.TransformerEmbedding(tiny_bert)


def _manual_mean(model, preproc, one_text: str) -> np.ndarray:
    """The mean of the last hidden state over every token of one unpadded text."""
    data = preproc.encode_unlabelled([one_text])
    hidden = backend.last_hidden_state(model, data.pad([0]))
    return np.asarray(hidden)[0].mean(axis=0)


def test_predictor_embed_shapes_and_dtype(predictor):
    hidden = backend.hidden_size(predictor.model)
    vectors = predictor.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), hidden) and vectors.dtype == np.float32
    one = predictor.embed("the film was superb")
    assert one.shape == (hidden,) and one.dtype == np.float32
    np.testing.assert_allclose(one, vectors[2], atol=1e-5)
    empty = predictor.embed([])
    assert empty.shape == (0, hidden) and empty.dtype == np.float32


def test_same_vectors_whatever_the_batch_size_and_order(predictor):
    reference = predictor.embed(TEXTS, batch_size=64)
    for batch_size in (1, 2, 3):
        np.testing.assert_allclose(predictor.embed(TEXTS, batch_size=batch_size), reference, atol=1e-5)
    order = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = predictor.embed([TEXTS[i] for i in order], batch_size=3)
    np.testing.assert_allclose(shuffled, reference[order], atol=1e-5)


def test_mean_pooling_ignores_padding(predictor):
    # "great" is padded to the longest text's width in a batch with it; alone it has no padding
    expected = _manual_mean(predictor.model, predictor.preproc, "great")
    batched = predictor.embed(["great", TEXTS[0]], batch_size=2)
    np.testing.assert_allclose(batched[0], expected, atol=1e-5)


def test_normalize_and_pooling(predictor):
    raw = predictor.embed(TEXTS)
    unit = predictor.embed(TEXTS, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)
    cls = predictor.embed(TEXTS, pooling="cls")
    assert cls.shape == raw.shape
    assert not np.allclose(cls, raw, atol=1e-3)
    # "cls" is the first token's vector of the last hidden state
    data = predictor.preproc.encode_unlabelled(["great"])
    first = np.asarray(backend.last_hidden_state(predictor.model, data.pad([0])))[0, 0]
    np.testing.assert_allclose(predictor.embed("great", pooling="cls"), first, atol=1e-5)


def test_bad_options_are_refused(predictor, tiny_bert):
    with pytest.raises(
        ConfigError, match=r"`pooling` must be one of \['mean', 'cls'\]. Received: pooling='max'"
    ):
        predictor.embed(TEXTS, pooling="max")
    with pytest.raises(ConfigError, match="normalize"):
        predictor.embed(TEXTS, normalize="yes")
    with pytest.raises(ConfigError, match="batch_size"):
        predictor.embed(TEXTS, batch_size=0)
    with pytest.raises(DataTypeError):
        predictor.embed(None)
    with pytest.raises(ConfigError, match="pooling"):
        text.TransformerEmbedding(tiny_bert, pooling="CLS")
    with pytest.raises(ConfigError, match="maxlen"):
        text.TransformerEmbedding(tiny_bert, maxlen=0)
    with pytest.raises(DataTypeError, match="model_name_or_path"):
        text.TransformerEmbedding(None)


def test_fine_tuned_vectors_have_neighbours_of_the_same_label(predictor, keyword_data):
    """The trained classifier's encoder separates the labels: a text's nearest neighbour (cosine,
    leave-one-out) shares its label far more often than chance (0.5 on the balanced keyword task)."""
    _, test = keyword_data
    vectors = predictor.embed(test.texts)
    chance = chance_agreement(test.labels)
    assert 0.45 <= chance <= 0.55
    assert neighbour_agreement(vectors, test.labels, k=1) >= chance + 0.3
    assert neighbour_agreement(vectors, test.labels, k=5) >= chance + 0.3


def test_neighbour_agreement_helpers():
    vectors = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]
    assert neighbour_agreement(vectors, ["a", "a", "b", "b"]) == 1.0
    assert neighbour_agreement(vectors, ["a", "b", "a", "b"]) == 0.0
    assert chance_agreement(["a", "a", "a", "b"]) == pytest.approx(0.625)
    with pytest.raises(ConfigError, match="k"):
        neighbour_agreement(vectors, ["a", "a", "b", "b"], k=4)
    with pytest.raises(ConfigError, match="one label per row"):
        neighbour_agreement(vectors, ["a", "b"])


def test_transformer_embedding_of_a_base_model(embedder, tiny_bert):
    assert embedder.embsize == backend.hidden_size(embedder.model)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.embsize) and vectors.dtype == np.float32
    np.testing.assert_allclose(embedder.embed(TEXTS, batch_size=2), vectors, atol=1e-5)
    expected = _manual_mean(embedder.model, embedder.preproc, TEXTS[2])
    np.testing.assert_allclose(embedder.embed(TEXTS[2]), expected, atol=1e-5)
    unit = text.TransformerEmbedding(tiny_bert, normalize=True, pooling="cls").embed(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, embedder.embsize)


def test_transformer_embedding_options(embedder, tiny_bert):
    with pytest.raises(ConfigError, match="word_level=True"):
        embedder.embed(TEXTS, word_level=True)
    with pytest.raises(ConfigError, match="pooling"):
        embedder.embed(TEXTS, pooling="sum")
    limit = embedder.preproc.model_limit_
    with pytest.raises(ConfigError, match="exceeds this model's limit"):
        text.TransformerEmbedding(tiny_bert, maxlen=limit + 1).embed(TEXTS)
    short = text.TransformerEmbedding(tiny_bert, maxlen=4)
    data = short.preproc.encode_unlabelled([TEXTS[0]], maxlen=4)
    assert len(data.x["input_ids"][0]) == 4  # truncated to maxlen tokens
    hidden = np.asarray(backend.last_hidden_state(short.model, data.pad([0])))[0]
    np.testing.assert_allclose(short.embed(TEXTS[0]), hidden.mean(axis=0), atol=1e-5)
