"""The bindings registry: a model's task, preprocessor and metrics, kept beside the model."""

from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pytest

import easytx
from easytx import bindings
from easytx.errors import ArtifactError


class _Model:
    """Stands in for a Keras model: any weak-referenceable object can be bound."""


def test_bind_keeps_fields_not_given_and_forgets_the_model_with_it():
    model = _Model()
    assert bindings.binding_of(model) is None and bindings.task_of(model) is None
    bindings.bind(model, task="T", preproc="P")
    bindings.bind(model, metrics={"accuracy": 0.9})
    assert (bindings.task_of(model), bindings.preproc_of(model)) == ("T", "P")
    assert bindings.metrics_of(model) == {"accuracy": 0.9}
    bindings.cache_of(model)["forward"] = "f"
    clone = _Model()
    bindings.copy_binding(model, clone)
    assert bindings.task_of(clone) == "T" and bindings.metrics_of(clone) == {"accuracy": 0.9}
    assert bindings.cache_of(clone) == {}  # traced functions belong to one model
    assert "_easytx_task" not in vars(model)
    entry = weakref.ref(bindings.binding_of(model))
    del model
    gc.collect()
    assert entry() is None  # the registry holds models weakly: the entry went with the model


def test_objects_that_cannot_be_bound_have_no_binding():
    assert bindings.binding_of(3) is None and bindings.preproc_of("text") is None


@pytest.mark.integration
def test_get_classifier_binds_and_the_learner_shares_the_task(trained):
    learner, t, _ = trained
    assert bindings.task_of(learner.model) is t.task is learner.task
    assert bindings.preproc_of(learner.model) is t
    assert not [k for k in vars(learner.model) if k.startswith("_easytx")]


def test_loaded_predictor_is_bound_and_a_manifest_naming_another_task_is_refused(trained, tmp_path):
    learner, t, test = trained
    folder = easytx.get_predictor(learner.model, t).save(tmp_path / "p")
    loaded = easytx.load_predictor(folder)
    assert bindings.task_of(loaded.model) is loaded.preproc.task
    assert bindings.preproc_of(loaded.model) is loaded.preproc
    np.testing.assert_allclose(
        loaded.predict_proba(test.texts[:4]),
        easytx.get_predictor(learner.model, t).predict_proba(test.texts[:4]),
        atol=1e-5,
    )
    manifest_path = folder / "easytx.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["task"] = "regression"  # the manifest's checksums cover the other files, not itself
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="names the task 'regression'"):
        easytx.load_predictor(folder)


@pytest.mark.integration
def test_finetune_metrics_reach_the_saved_predictor(tiny_bert, small_data, tmp_path):
    import pandas as pd

    train, _ = small_data
    frame = pd.DataFrame({"text": list(train.texts), "label": list(train.labels)})
    predictor = easytx.finetune(frame, tiny_bert, epochs=1, lr=5e-3, batch_size=16, maxlen=32, verbose=0)
    assert set(predictor.metrics) >= {"accuracy"}
    assert bindings.metrics_of(predictor.model) == predictor.metrics
    saved = json.loads((predictor.save(tmp_path / "q") / "easytx.json").read_text())
    assert saved["metrics"] == pytest.approx(predictor.metrics)


def test_a_predictor_let_go_frees_its_model(trained, tmp_path):
    # traced forward and gradient functions are cached per model; they reach the model through a
    # weakref, so a server or notebook that loads predictors again and again does not keep every
    # model alive (before, every loaded model stayed in memory for the life of the process)
    learner, t, test = trained
    folder = easytx.get_predictor(learner.model, t).save(tmp_path / "p")
    predictor = easytx.load_predictor(folder)
    predictor.predict(test.texts[:3])
    predictor.explain(test.texts[0], n_steps=8, max_steps=8)
    assert set(bindings.cache_of(predictor.model)) >= {"forward", "integrated_gradients"}
    model = weakref.ref(predictor.model)
    del predictor
    gc.collect()
    assert model() is None
