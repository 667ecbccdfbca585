"""Speed levers and large-data paths: sorted prediction, the one-text fast path, streaming files,
gradient accumulation, bounded retracing. Tiny models only; timings live in benchmarks/, not here."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import easytx
from easytx import text
from easytx._keras import train_tracing_count
from easytx.errors import ConfigError, DataError
from easytx.testing import keyword_dataset

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


@pytest.fixture(scope="module")
def untrained(tiny_bert):
    """A fitted preprocessor and a randomly initialised tiny classifier (no training needed)."""
    x, y = keyword_dataset(120, seed=3)
    t = text.Transformer(tiny_bert, maxlen=64, verbose=0)
    trn = t.preprocess_train(x, y)
    model = t.get_classifier(seed=0)
    return t, trn, model, x, y


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, t, batch_size=4)


def _varied_texts(n: int = 23) -> list[str]:
    words = "the film was superb and the plot was awful but the cast was wonderful".split()
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(words, size=int(rng.integers(1, 40)))) for _ in range(n)]


# ---------------------------------------------------------------------------------- prediction
def test_sorted_batches_come_back_in_input_order(predictor):
    texts = _varied_texts()
    lengths = [len(t.split()) for t in texts]
    assert lengths != sorted(lengths)  # the input is not already sorted
    batched = predictor.predict_proba(texts)
    reversed_ = predictor.predict_proba(texts[::-1])
    np.testing.assert_allclose(batched, reversed_[::-1], atol=1e-5)
    one_by_one = np.stack([predictor.predict_proba([t])[0] for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    # texts of different lengths do get different answers (the check above is not vacuous)
    assert np.abs(batched - batched[0]).max() > 0.1


def test_single_text_fast_path_equals_batch_path(predictor):
    texts = _varied_texts(9)
    batch = predictor.predict_proba(texts)
    for i, t in enumerate(texts):
        single = predictor.predict_proba(t)
        assert single.shape == batch[i].shape
        np.testing.assert_allclose(single, batch[i], atol=1e-5)
        assert predictor.predict(t) == predictor.predict(texts)[i]


def test_prediction_traces_once_for_any_length(predictor):
    from easytx.inference import forward_fn

    predictor.predict_proba(_varied_texts(40))
    for t in _varied_texts(12):
        predictor.predict_proba(t)
    forward = forward_fn(predictor.model, predictor.preproc.encode_for_prediction(["x"]).input_names)
    assert forward.experimental_get_tracing_count() == 1


# ---------------------------------------------------------------------------------- predict_file
def _write_csv(path, texts, extra=True):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "review"] if extra else ["review"])
        for i, t in enumerate(texts):
            writer.writerow([i, t] if extra else [t])


def test_predict_file_csv_streams_in_chunks_and_matches_predict(predictor, tmp_path, monkeypatch):
    texts = _varied_texts(50) + ['a text, with "quotes"\nand a newline']
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write_csv(src, texts)
    seen: list[int] = []
    original = type(predictor)._labels_and_proba

    def spy(self, items, **kwargs):
        seen.append(len(items))
        return original(self, items, **kwargs)

    monkeypatch.setattr(type(predictor), "_labels_and_proba", spy)
    monkeypatch.setattr(easytx.data, "read_table", lambda *a, **k: pytest.fail("read the whole file"))
    n = predictor.predict_file(src, out, text_column="review", chunk_rows=8)
    monkeypatch.undo()
    assert n == len(texts)
    assert max(seen) <= 8 and len(seen) == -(-len(texts) // 8)  # never more than a chunk at once
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(texts)
    assert [r["review"] for r in rows] == texts
    assert [r["id"] for r in rows] == [str(i) for i in range(len(texts))]
    assert [r["prediction"] for r in rows] == predictor.predict(texts)
    expected = predictor.predict_proba(texts)
    got = np.array([[float(r[f"proba_{c}"]) for c in predictor.get_classes()] for r in rows])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not (tmp_path / "out.csv.partial").exists()


def test_predict_file_jsonl(predictor, tmp_path):
    texts = _varied_texts(13)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"text": t, "k": i}) + "\n" for i, t in enumerate(texts)))
    assert predictor.predict_file(src, out, batch_size=3) == len(texts)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["k"] for r in rows] == list(range(len(texts)))
    assert [r["prediction"] for r in rows] == predictor.predict(texts)
    assert predictor.batch_size == 4  # the per-call batch size did not stick


def test_predict_file_bad_input_is_explained(predictor, tmp_path):
    src = tmp_path / "in.csv"
    _write_csv(src, ["good", "bad"])
    with pytest.raises(DataError, match=r"'reveiw' not found.*Did you mean 'review'"):
        predictor.predict_file(src, tmp_path / "o.csv", text_column="reveiw")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        predictor.predict_file(empty, tmp_path / "o.csv")
    header_only = tmp_path / "header.csv"
    header_only.write_text("text\n")
    with pytest.raises(DataError, match="no rows"):
        predictor.predict_file(header_only, tmp_path / "o.csv")
    with pytest.raises(ConfigError, match="format"):
        predictor.predict_file(tmp_path / "in.xlsx", tmp_path / "o.csv")
    with pytest.raises(DataError, match="overwrite its input"):
        predictor.predict_file(src, src, text_column="review")
    assert not (tmp_path / "o.csv").exists()


# ---------------------------------------------------------------------------------- training
def _fresh_learner(tiny_bert, x, y, *, batch_size, accumulation_steps=1):
    t = text.Transformer(tiny_bert, maxlen=32, verbose=0)
    trn = t.preprocess_train(x, y)
    model = t.get_classifier(seed=0, **NO_DROPOUT)
    learner = easytx.get_learner(
        model,
        train_data=trn,
        batch_size=batch_size,
        seed=1,
        bucket=False,
        accumulation_steps=accumulation_steps,
    )
    return learner


def _max_diff(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


@pytest.mark.integration
def test_gradient_accumulation_matches_one_big_batch(tiny_bert):
    x, y = keyword_dataset(16, seed=5)
    big = _fresh_learner(tiny_bert, x, y, batch_size=16)
    initial = big.model.get_weights()
    big.fit(1e-2, 1, verbose=0)  # one update from 16 rows
    accumulated = _fresh_learner(tiny_bert, x, y, batch_size=8, accumulation_steps=2)
    np.testing.assert_allclose(accumulated.model.get_weights()[0], initial[0])
    assert len(accumulated.model.get_weights()) == len(initial)  # accumulators are not weights
    accumulated.fit(1e-2, 1, verbose=0)  # two micro-batches of 8, one update
    assert _max_diff(big.model.get_weights(), accumulated.model.get_weights()) < 1e-5
    assert int(accumulated.model.optimizer.iterations.numpy()) == 1
    plain = _fresh_learner(tiny_bert, x, y, batch_size=8)
    plain.fit(1e-2, 1, verbose=0)  # two updates of 8: measurably different
    assert _max_diff(big.model.get_weights(), plain.model.get_weights()) > 1e-3


@pytest.mark.integration
def test_accumulation_waits_for_the_last_micro_batch(tiny_bert):
    x, y = keyword_dataset(8, seed=5)
    learner = _fresh_learner(tiny_bert, x, y, batch_size=8, accumulation_steps=2)
    before = learner.model.get_weights()
    learner.fit(1e-2, 1, verbose=0)  # one micro-batch of two: no update yet
    assert _max_diff(before, learner.model.get_weights()) == 0.0
    learner.fit(1e-2, 1, verbose=0)
    assert _max_diff(before, learner.model.get_weights()) > 0.0


def test_accumulation_steps_is_checked(untrained):
    t, trn, model, _, _ = untrained
    with pytest.raises(ConfigError, match="accumulation_steps"):
        easytx.get_learner(model, train_data=trn, accumulation_steps=0)


@pytest.mark.integration
def test_training_does_not_retrace_per_batch_length(tiny_bert):
    x, y = keyword_dataset(160, seed=7)
    t = text.Transformer(tiny_bert, maxlen=64, verbose=0)
    trn = t.preprocess_train(x, y)
    learner = easytx.get_learner(t.get_classifier(seed=0), train_data=trn, batch_size=8, seed=0)
    widths = {int(trn.lengths[i].max()) for i in trn.batch_indices(8, shuffle=True, seed=0)}
    assert len(widths) >= 5  # many distinct batch widths
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert train_tracing_count(learner.model) <= 2


def test_padding_stats_count_what_was_computed(tiny_bert):
    x, y = keyword_dataset(64, seed=8)
    t = text.Transformer(tiny_bert, maxlen=64, verbose=0)
    trn = t.preprocess_train(x, y)
    trn.reset_padding_stats()
    trn.pad(np.array([0, 1, 2]))
    stats = trn.padding_stats()
    width = int(trn.lengths[:3].max())
    assert stats["computed_tokens"] == 3 * width
    assert stats["useful_tokens"] == int(trn.lengths[:3].sum())
    trn.pad_to_multiple_of = 16
    batch = trn.pad(np.array([0]))
    assert batch["input_ids"].shape[1] % 16 == 0
    assert trn.padding_fraction(16, bucket=True) < trn.padding_fraction(16, bucket=False) + 1e-9


# ---------------------------------------------------------------------------------- streaming
@pytest.fixture()
def train_csv(tmp_path):
    x, y = keyword_dataset(100, seed=9)
    path = tmp_path / "train.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sentence", "label"])
        writer.writerows(zip(x, y))
    return path, x, y


@pytest.mark.integration
def test_streaming_training_from_a_file(tiny_bert, train_csv):
    path, x, y = train_csv
    t = text.Transformer(tiny_bert, maxlen="auto", verbose=0)
    trn = t.preprocess_train_file(
        path, text_column="sentence", label_column="label", batch_size=8, steps_per_epoch=5, window_batches=2
    )
    assert trn.rows == len(x)
    assert t.get_classes() == ["neg", "pos"]
    learner = easytx.get_learner(t.get_classifier(seed=0), train_data=trn, seed=0)
    assert learner.steps_per_epoch == 5
    history = learner.fit_onecycle(1e-3, 3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert all(np.isfinite(history.history["loss"]))
    stats = trn.padding_stats()
    # 15 batches: the 100 rows make 13 (windows of 16 rows, the last window holds 4), then the
    # file starts again for 2 more batches of 8
    assert stats["rows"] == len(x) + 2 * 8
    # (how many of the epoch generators ran past their last batch depends on tf.data's prefetching)
    predictor = easytx.get_predictor(learner.model, t)
    assert predictor.predict(x[:3]) == predictor.predict(x[:3])  # usable for prediction


def test_streaming_default_steps_cover_the_file_once(tiny_bert, train_csv):
    path, x, _ = train_csv
    t = text.Transformer(tiny_bert, maxlen=32, verbose=0)
    trn = t.preprocess_train_file(path, text_column="sentence", batch_size=16)
    assert trn.steps_per_epoch == -(-len(x) // 16)
    batches = list(trn.batches())
    assert sum(len(b[1]) for b in batches) == len(x)
    assert sorted(int(v) for b in batches for v in b[1]) == sorted(t.labels_.transform(train_csv[2]).tolist())


def test_streaming_bad_files_are_explained(tiny_bert, tmp_path, train_csv):
    path, _, _ = train_csv
    t = text.Transformer(tiny_bert, maxlen=32, verbose=0)
    with pytest.raises(DataError, match=r"'labl' not found.*Did you mean 'label'"):
        t.preprocess_train_file(path, text_column="sentence", label_column="labl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="no rows"):
        t.preprocess_train_file(empty)
    with pytest.raises(DataError, match="No such file"):
        t.preprocess_train_file(tmp_path / "missing.csv")


def test_steps_fall_back_to_autograph_when_a_model_needs_it():
    import tensorflow as tf

    from easytx.steps import _without_autograph

    def step(x):
        if tf.reduce_sum(x) > 0:  # a Python branch on a tensor: only AutoGraph can trace it
            return x + 1.0
        return x - 1.0

    wrapped = _without_autograph(step, "test step")
    traced = tf.function(lambda x: wrapped(x))
    assert float(traced(tf.constant([2.0]))[0]) == 3.0
    assert float(traced(tf.constant([-2.0]))[0]) == -3.0  # the branch is a real graph branch
