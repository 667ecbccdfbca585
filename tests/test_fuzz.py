"""Property-based tests: whatever unicode arrives, predict and the preprocessor neither crash nor
lose or reorder rows.

Texts are drawn from every code point category (lone surrogates, control and format characters
included), emoji, CJK, empty strings and strings of up to 100,000 characters. A small number of
examples keeps the tests fast; ``deadline=None`` because a huge text takes a moment to tokenize.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import easytx
from easytx.errors import DataError

ANY_CHAR = st.characters(blacklist_categories=())  # surrogates (Cs) and controls (Cc) included
CONTROL = st.sampled_from(
    list("\x00\x01\x07\x08\x1b\x7f\t\n\r\x0b\x0c \u00a0\u200b\u200d\u202e\u2028\ufeff\ufffd")
)
EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)

TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=60),
    st.text(CONTROL, max_size=30),
    st.text(st.one_of(EMOJI, st.sampled_from(["\u200d", "\ufe0f", " "])), max_size=30),
    st.text(st.one_of(CJK, st.sampled_from(["。", "，", " "])), max_size=80),
    st.builds(
        lambda piece, n: piece * n, st.text(ANY_CHAR, min_size=1, max_size=5), st.integers(2_000, 20_000)
    ),
    st.builds(lambda n: " ".join(["superb"] * n), st.integers(100, 3_000)),  # many real tokens
    st.just(""),
)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, preproc=t, batch_size=8)


@pytest.mark.integration
@FUZZ
@given(texts=st.lists(TEXT, min_size=1, max_size=12))
def test_predict_never_crashes_and_keeps_one_answer_per_text_in_order(predictor, texts):
    proba = predictor.predict_proba(texts)
    assert proba.shape == (len(texts), 2)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # the same texts in reverse order give the same rows in reverse order
    np.testing.assert_allclose(predictor.predict_proba(texts[::-1]), proba[::-1], atol=1e-5)
    labels = predictor.predict(texts)
    assert len(labels) == len(texts) and set(labels) <= {"neg", "pos"}
    assert labels == [["neg", "pos"][i] for i in proba.argmax(axis=1)]
    one = predictor.predict_proba(texts[0])  # a single string works too
    np.testing.assert_allclose(one, proba[0], atol=1e-5)


@FUZZ
@given(pairs=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=6))
def test_sentence_pairs_never_crash(predictor, pairs):
    """A single-text model given pairs answers (with a one-time warning, see test_tasks.py)."""
    proba = predictor.predict_proba(pairs)
    assert proba.shape == (len(pairs), 2) and np.isfinite(proba).all()


@FUZZ
@given(texts=st.lists(TEXT, min_size=1, max_size=12))
def test_preprocessor_keeps_rows_and_order_within_maxlen(trained, texts):
    _, t, _ = trained
    data = t.preprocess_test(texts)
    assert len(data) == len(texts)
    assert list(data.texts) == texts
    assert all(2 <= len(ids) <= t.maxlen_ for ids in data.x["input_ids"])
    cls, sep = t.tokenizer.cls_token_id, t.tokenizer.sep_token_id
    assert all(ids[0] == cls and ids[-1] == sep for ids in data.x["input_ids"])


@FUZZ
@given(texts=st.lists(TEXT, min_size=2, max_size=10))
def test_training_accepts_any_text_or_refuses_empty_ones_clearly(tiny_bert, texts):
    from easytx import text

    labels = ["pos", "neg"] * (len(texts) // 2) + ["pos"] * (len(texts) % 2)
    t = text.Transformer(tiny_bert, maxlen=32, verbose=0)
    empty = [i for i, x in enumerate(texts) if not x.strip()]
    if empty:
        with pytest.raises(
            DataError, match=r"empty or whitespace-only text\(s\) at position\(s\) \[" + str(empty[0])
        ):
            t.preprocess_train(texts, labels)
        return
    data = t.preprocess_train(texts, labels)
    assert len(data) == len(texts) and list(data.texts) == texts
    assert data.y.tolist() == [t.get_classes().index(label) for label in labels]
