"""The two model backends: choosing one, clear errors where one cannot run, one saved format."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import easytx
from easytx import backend, text
from easytx.errors import ArtifactError, ConfigError
from easytx.testing import TINY_HEAD_LR, keyword_dataset


def _folder_with_model_type(src, dst, model_type):
    """A copy of a tiny model folder whose config.json names another architecture."""
    import shutil

    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config["model_type"] = model_type
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_auto_picks_keras3_for_the_bert_family(tiny_models, monkeypatch):
    monkeypatch.delenv("EASYTX_BACKEND", raising=False)
    for family in ("bert", "distilbert", "roberta", "minilm"):
        assert backend.choose_backend(tiny_models[family, "tf"]) == "keras3"


@pytest.mark.legacy
def test_the_environment_or_the_argument_picks_the_backend(tiny_models, monkeypatch):
    monkeypatch.setenv("EASYTX_BACKEND", "transformers")
    assert backend.choose_backend(tiny_models["bert", "tf"]) == "transformers"
    assert backend.choose_backend(tiny_models["bert", "tf"], "keras3") == "keras3"


@pytest.mark.legacy
def test_unsupported_architecture_goes_to_transformers(tiny_bert, tmp_path):
    folder = _folder_with_model_type(tiny_bert, tmp_path / "deberta", "deberta-v2")
    assert backend.choose_backend(folder, "auto") == "transformers"


def test_unsupported_architecture_says_what_to_install(tiny_bert, tmp_path, monkeypatch):
    folder = _folder_with_model_type(tiny_bert, tmp_path / "deberta", "deberta-v2")
    with pytest.raises(ConfigError, match="'deberta-v2' model.*legacy extra"):
        backend.choose_backend(folder, "keras3")
    # where the transformers TF classes are missing (transformers 5, no tf-keras)
    monkeypatch.setattr(backend, "legacy_available", lambda: (False, "transformers 5.3.0 has no TF classes"))
    with pytest.raises(ConfigError, match="not among the Keras 3 encoders.*transformers 5.3.0.*tf-keras"):
        backend.choose_backend(folder, "auto")
    with pytest.raises(
        ConfigError, match="backend='transformers' needs.*transformers<5|transformers>=4.44,<5"
    ):
        backend.choose_backend(tiny_bert, "transformers")


def test_bad_backend_names_are_refused(tiny_bert, monkeypatch):
    with pytest.raises(
        ConfigError, match=r"one of \['auto', 'keras3', 'transformers'\]. Received: backend='pytorch'"
    ):
        backend.choose_backend(tiny_bert, "pytorch")
    monkeypatch.setenv("EASYTX_BACKEND", "jax")
    with pytest.raises(ConfigError, match="EASYTX_BACKEND='jax'"):
        backend.choose_backend(tiny_bert)


def test_transformers_5_gives_a_config_error_not_an_attribute_error(tiny_bert, monkeypatch):
    import transformers

    monkeypatch.setattr(transformers, "__version__", "5.25.0")
    with pytest.raises(ConfigError, match="transformers 5.25.0 has no TensorFlow classes"):
        backend.build_model(tiny_bert, head="sequence_classification", num_labels=2, backend="transformers")
    # the Keras 3 backend does not need those classes
    model = backend.build_model(tiny_bert, head="sequence_classification", num_labels=2, backend="keras3")
    assert backend.backend_of(model) == "keras3"


@pytest.fixture(scope="module")
def keras3_predictor(tiny_models):
    x, y = keyword_dataset(600, seed=1)
    train, test = easytx.train_test_split(x, y, test_size=0.2, random_state=0)
    t = text.Transformer(tiny_models["bert", "pt_safetensors"], maxlen="auto")
    trn, val = t.preprocess_train(train), t.preprocess_test(test)
    learner = easytx.get_learner(
        t.get_classifier(seed=0, backend="keras3"),
        train_data=trn,
        val_data=val,
        batch_size=16,
        seed=0,
        head_lr_multiplier=TINY_HEAD_LR,
    )
    learner.fit_onecycle(5e-3, 4, verbose=0)
    predictor = easytx.get_predictor(learner.model, t)
    predictor.batch_history = learner.batch_history  # for the momentum check
    return predictor, test


@pytest.mark.integration
def test_keras3_learns_and_one_cycle_moves_momentum(keras3_predictor):
    predictor, test = keras3_predictor
    assert backend.backend_of(predictor.model) == "keras3"
    accuracy = np.mean(np.asarray(predictor.predict(test.texts)) == np.asarray(test.labels))
    assert accuracy >= 0.85
    # Adam's beta_1 follows the cycle (0.95 -> 0.85 at the lr peak -> 0.95): the Keras 3 optimizer
    # reads it from a variable, so the traced update step sees every change
    moms = np.array(predictor.batch_history["momentum"])
    lrs = np.array(predictor.batch_history["lr"])
    assert moms[0] == pytest.approx(0.95, abs=1e-4) and moms.min() == pytest.approx(0.85, abs=1e-4)
    assert int(np.argmin(moms)) == int(np.argmax(lrs))


@pytest.mark.legacy
def test_a_predictor_saved_by_one_backend_loads_in_the_other(keras3_predictor, tmp_path):
    predictor, test = keras3_predictor
    texts = list(test.texts[:24])
    reference = predictor.predict_proba(texts)
    predictor.save(tmp_path / "k3")
    manifest = json.loads((tmp_path / "k3" / "easytx.json").read_text())
    assert manifest["backend"] == "keras3"
    legacy = easytx.load_predictor(tmp_path / "k3", backend="transformers")
    assert backend.backend_of(legacy.model) == "transformers"
    np.testing.assert_allclose(legacy.predict_proba(texts), reference, atol=1e-5)
    # and back: the legacy backend's own save (TensorFlow-layout safetensors) into Keras 3
    legacy.save(tmp_path / "legacy")
    assert json.loads((tmp_path / "legacy" / "easytx.json").read_text())["backend"] == "transformers"
    again = easytx.load_predictor(tmp_path / "legacy", backend="keras3")
    assert backend.backend_of(again.model) == "keras3"
    np.testing.assert_allclose(again.predict_proba(texts), reference, atol=1e-5)
    assert again.predict(texts) == predictor.predict(texts)


def test_loading_with_an_impossible_backend_names_the_fix(keras3_predictor, tmp_path, monkeypatch):
    predictor, _ = keras3_predictor
    predictor.save(tmp_path / "p")
    monkeypatch.setattr(backend, "legacy_available", lambda: (False, "tf-keras is not installed"))
    with pytest.raises((ConfigError, ArtifactError), match="tf-keras is not installed.*legacy extra"):
        easytx.load_predictor(tmp_path / "p", backend="transformers")


@pytest.mark.integration
@pytest.mark.legacy
def test_transformers_tf_banner_is_not_printed(tiny_bert):
    # pretrained=False builds outside easytx's quiet loading block: only the filter stops the banner
    code = (
        "import easytx; from easytx import backend; "
        f"backend.build_model({str(tiny_bert)!r}, head='sequence_classification', num_labels=2, "
        "backend='transformers', pretrained=False)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMERS_NO_ADVISORY_WARNINGS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "TensorFlow and JAX classes are deprecated" not in out.stderr + out.stdout
