"""A classification head on mean pooling, the default for sentence-transformers models.

Sentence-embedding models (all-MiniLM-L6-v2, the default model) are trained so that the mean of the
tokens is the text's meaning; ``pooling="auto"`` puts the head there for them (Keras 3 encoders).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import easytx
from easytx import text
from easytx.encoders.config import POOLING_KEY, EncoderConfig, sentence_transformers_pooling
from easytx.errors import ArtifactError, ConfigError
from easytx.testing import TINY_HEAD_LR, keyword_dataset

_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def _pooling_config(mean: bool = True, cls: bool = False, max_: bool = False) -> dict:
    return {
        "word_embedding_dimension": 32,
        "pooling_mode_cls_token": cls,
        "pooling_mode_mean_tokens": mean,
        "pooling_mode_max_tokens": max_,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }


def _write_sentence_transformers_files(folder: Path, modules: list | None, pooling: dict, path="1_Pooling"):
    if modules is not None:
        (folder / "modules.json").write_text(json.dumps(modules))
    (folder / path).mkdir(parents=True, exist_ok=True)
    (folder / path / "config.json").write_text(json.dumps(pooling))
    return folder


@pytest.fixture(scope="module")
def tiny_st(tiny_bert, tmp_path_factory) -> Path:
    """The tiny BERT folder made a sentence-transformers model that pools by mean."""
    folder = tmp_path_factory.mktemp("tiny_st") / "bert_st"
    shutil.copytree(tiny_bert, folder)
    return _write_sentence_transformers_files(folder, _MODULES, _pooling_config())


# --------------------------------------------------------------------------- reading the model folder
def test_sentence_transformers_pooling_reads_the_pooling_module(tmp_path):
    assert sentence_transformers_pooling(tmp_path) is None  # a plain model folder
    _write_sentence_transformers_files(tmp_path, _MODULES, _pooling_config())
    assert sentence_transformers_pooling(tmp_path) == "mean"
    _write_sentence_transformers_files(tmp_path, _MODULES, _pooling_config(mean=False, cls=True))
    assert sentence_transformers_pooling(tmp_path) == "cls"
    for other in (_pooling_config(mean=False, max_=True), _pooling_config(mean=True, max_=True)):
        _write_sentence_transformers_files(tmp_path, _MODULES, other)
        assert sentence_transformers_pooling(tmp_path) is None  # no head here repeats these


def test_sentence_transformers_pooling_follows_modules_json_and_survives_bad_files(tmp_path):
    moved = [dict(m, path="pool") if m["path"] == "1_Pooling" else m for m in _MODULES]
    _write_sentence_transformers_files(tmp_path, moved, _pooling_config(), path="pool")
    assert sentence_transformers_pooling(tmp_path) == "mean"
    (tmp_path / "modules.json").write_text("{not json")  # falls back to the usual folder name
    assert sentence_transformers_pooling(tmp_path) is None
    _write_sentence_transformers_files(tmp_path, None, _pooling_config())
    assert sentence_transformers_pooling(tmp_path) == "mean"
    (tmp_path / "1_Pooling" / "config.json").write_text("[1, 2]")
    assert sentence_transformers_pooling(tmp_path) is None


def test_config_json_carries_the_pooling_for_classification_heads_only():
    base = {"model_type": "bert", "hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 2}
    assert EncoderConfig.from_dict(base).pooling == "cls"
    config = EncoderConfig.from_dict({**base, POOLING_KEY: "mean"})
    assert config.pooling == "mean"
    assert config.to_dict("sequence_classification")[POOLING_KEY] == "mean"
    assert POOLING_KEY not in config.to_dict(None)
    assert POOLING_KEY not in EncoderConfig.from_dict(base).to_dict("sequence_classification")
    with pytest.raises(ConfigError, match="easytx_pooling.*'max'"):
        EncoderConfig.from_dict({**base, POOLING_KEY: "max"})


# --------------------------------------------------------------------------- choosing it
def test_auto_pools_by_mean_for_sentence_transformers_models_only(tiny_st, tiny_bert):
    x, y = keyword_dataset(40, seed=0)
    for folder, expected in ((tiny_st, "mean"), (tiny_bert, "cls")):
        t = text.Transformer(folder, maxlen=32)
        t.preprocess_train(x, y)
        assert t.get_classifier(seed=0, backend="keras3").config.pooling == expected
    t = text.Transformer(tiny_st, maxlen=32)
    t.preprocess_train(x, y)
    assert t.get_classifier(pooling="cls", backend="keras3").config.pooling == "cls"
    assert t.get_classifier(pooling="mean").config.pooling == "mean"  # whatever EASYTX_BACKEND says
    with pytest.raises(ConfigError, match="pooling.*'auto', 'cls', 'mean'.*'avg'"):
        t.get_classifier(pooling="avg")
    with pytest.raises(ConfigError, match="Keras 3 encoders.*pooling='cls'"):
        t.get_classifier(pooling="mean", backend="transformers")


@pytest.mark.legacy
def test_auto_gives_the_first_token_on_the_transformers_backend(tiny_st, caplog):
    x, y = keyword_dataset(40, seed=0)
    t = text.Transformer(tiny_st, maxlen=32)
    t.preprocess_train(x, y)
    with caplog.at_level("INFO", logger="easytx.backend"):
        model = t.get_classifier(seed=0, backend="transformers")
    assert easytx.backend.backend_of(model) == "transformers"
    assert "pools by mean" in caplog.text


def test_taggers_ignore_auto_and_refuse_mean(tiny_st):
    from easytx.testing import entity_dataset

    x, y = entity_dataset(20, seed=0)
    _, _, preproc = text.entities_from_array(x, y, model=tiny_st, maxlen=32, random_state=0, verbose=0)
    assert preproc.get_classifier(seed=0, backend="keras3").config.pooling == "cls"
    with pytest.raises(ConfigError, match="'token_classification' head"):
        preproc.get_classifier(pooling="mean")


# --------------------------------------------------------------------------- what the head computes
def test_mean_head_reads_the_mean_of_the_tokens_and_ignores_padding(tiny_st):
    from keras import ops

    x, y = keyword_dataset(40, seed=0)
    t = text.Transformer(tiny_st, maxlen=32)
    t.preprocess_train(x, y)
    model = t.get_classifier(seed=0, backend="keras3")
    ids = np.array([[2, 40, 41, 42, 3, 0, 0, 0]], dtype="int32")
    mask = (ids != 0).astype("int32")
    short = {
        "input_ids": ids[:, :5],
        "attention_mask": mask[:, :5],
        "token_type_ids": np.zeros_like(ids[:, :5]),
    }
    padded = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    logits = np.asarray(model(padded))
    np.testing.assert_allclose(logits, np.asarray(model(short)), atol=1e-5)  # padding changes nothing
    hidden = np.asarray(model.encode(short))  # [1, 5, 32]
    by_hand = model.output_layer(model.backbone.pooler(ops.convert_to_tensor(hidden.mean(axis=1))))
    np.testing.assert_allclose(logits, np.asarray(by_hand), atol=1e-5)
    first = model.output_layer(model.backbone.pooler(ops.convert_to_tensor(hidden[:, 0])))
    assert not np.allclose(logits, np.asarray(first), atol=1e-3)  # not the first token's head


# --------------------------------------------------------------------------- train, save, load
@pytest.mark.integration
def test_mean_pooled_classifier_trains_saves_and_loads_on_every_engine(tiny_st, tmp_path):
    x, y = keyword_dataset(300, seed=1)
    train, test = easytx.train_test_split(x, y, test_size=0.2, random_state=0)
    t = text.Transformer(tiny_st, maxlen="auto")
    trn, val = t.preprocess_train(train), t.preprocess_test(test)
    learner = easytx.get_learner(
        t.get_classifier(seed=0, pooling="mean"),
        trn,
        val,
        batch_size=16,
        seed=0,
        head_lr_multiplier=TINY_HEAD_LR,
    )
    learner.fit_onecycle(5e-3, 4, verbose=0)
    predictor = easytx.get_predictor(learner.model, t)
    assert np.mean(np.asarray(predictor.predict(test.texts)) == np.asarray(test.labels)) >= 0.9
    proba = predictor.predict_proba(test.texts)
    pytest.importorskip("onnxruntime")
    predictor.save(tmp_path / "p", onnx=True)
    saved = json.loads((tmp_path / "p" / "model" / "config.json").read_text())
    assert saved[POOLING_KEY] == "mean"
    for engine in ("tf", "onnx"):
        loaded = easytx.load_predictor(tmp_path / "p", engine=engine)
        np.testing.assert_allclose(loaded.predict_proba(test.texts), proba, atol=1e-4, err_msg=engine)
    with pytest.raises(ArtifactError, match="mean pooling.*Keras 3 encoders.*backend='keras3'"):
        easytx.load_predictor(tmp_path / "p", engine="tf", backend="transformers")


def test_cli_train_takes_the_pooling(tiny_st, tmp_path, capsys):
    import pandas as pd

    from easytx.cli import main

    x, y = keyword_dataset(80, seed=3)
    pd.DataFrame({"text": x, "label": y}).to_csv(tmp_path / "train.csv", index=False)
    base = [
        "train",
        str(tmp_path / "train.csv"),
        "--model",
        str(tiny_st),
        "--epochs",
        "1",
        "--maxlen",
        "16",
        "-q",
    ]
    for pooling, expected in (("mean", "mean"), ("cls", None)):
        out = tmp_path / pooling
        assert main([*base, "-o", str(out), "--pooling", pooling]) == 0
        assert json.loads((out / "model" / "config.json").read_text()).get(POOLING_KEY) == expected
    with pytest.raises(SystemExit):
        main([*base, "-o", str(tmp_path / "bad"), "--pooling", "max"])
    assert "invalid choice: 'max'" in capsys.readouterr().err


def test_the_ktrain_namespace_keeps_ktrains_first_token_head(tiny_st):
    from easytx.ktrain import text as ktrain_text

    x, y = keyword_dataset(40, seed=0)
    t = ktrain_text.Transformer(str(tiny_st), maxlen=32, class_names=sorted(set(y)))
    t.preprocess_train(x, y)
    assert t.get_classifier(backend="keras3").config.pooling == "cls"
    assert t.get_classifier(backend="keras3", pooling="auto").config.pooling == "mean"
