"""Progress bars (tokenization, training, lr_find, batch prediction) and ``verbose=0`` silencing them."""

from __future__ import annotations

import pytest

import easytx
from easytx import preprocess, text
from easytx.testing import keyword_dataset


@pytest.fixture
def small_chunks(monkeypatch):
    """Tokenize in chunks of 2 texts, so 41+ texts count as 'large' and get a progress bar."""
    monkeypatch.setattr(preprocess, "_TOKENIZE_CHUNK", 2)


def test_tokenization_bar_on_large_data_and_silenced(tiny_bert, small_chunks, capsys):
    x, y = keyword_dataset(60, seed=3)
    text.Transformer(tiny_bert, maxlen=16).preprocess_train(x, y)
    assert "tokenizing" in capsys.readouterr().err
    text.Transformer(tiny_bert, maxlen=16, verbose=0).preprocess_train(x, y)
    t = text.Transformer(tiny_bert, maxlen=16)
    t.preprocess_train(x, y, verbose=0)
    t.preprocess_test(x, y)  # the preprocessor keeps verbose=0
    out = capsys.readouterr()
    assert "tokenizing" not in out.err and out.out == ""
    text.Transformer(tiny_bert, maxlen=16).preprocess_train(x[:30], y[:30])  # small: no bar
    assert "tokenizing" not in capsys.readouterr().err


@pytest.mark.integration
def test_training_and_lr_find_progress_and_silence(tiny_bert, small_data, capsys):
    train, val = small_data
    t = text.Transformer(tiny_bert, maxlen=16, verbose=0)
    trn, vl = t.preprocess_train(train), t.preprocess_test(val)
    learner = easytx.get_learner(
        t.get_classifier(pretrained=False, seed=0), train_data=trn, val_data=vl, batch_size=32
    )
    capsys.readouterr()
    learner.fit_onecycle(1e-3, 1, verbose=0)
    learner.lr_find(num_steps=5, verbose=0)
    out = capsys.readouterr()
    assert out.out == "" and "/step" not in out.err
    learner.fit_onecycle(1e-3, 1)  # default verbose=1: Keras' progress bar
    printed = capsys.readouterr().out
    assert f"{learner.steps_per_epoch}/{learner.steps_per_epoch}" in printed and "val_loss" in printed


def test_batch_prediction_bar_and_silence(trained, capsys):
    learner, t, _ = trained
    texts = keyword_dataset(45, seed=5)[0]
    predictor = easytx.get_predictor(learner.model, t, batch_size=2)  # 45 texts > 20 batches
    capsys.readouterr()
    predictor.predict(texts)
    assert "predicting" in capsys.readouterr().err
    predictor.predict(texts, verbose=0)
    predictor.predict_proba(texts, verbose=0)
    assert "predicting" not in capsys.readouterr().err
    predictor.verbose = 0
    predictor.predict(texts)
    assert "predicting" not in capsys.readouterr().err
    predictor.predict(texts[:10], verbose=1)  # few texts: no bar
    assert "predicting" not in capsys.readouterr().err
