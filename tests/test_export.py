"""Export round trips: TF SavedModel and ONNX, run the way a serving client would (the shipped
tokenizer.json through the `tokenizers` package, no easytx), matched against the Predictor."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import easytx
from easytx.cli import main
from easytx.errors import ArtifactError, ConfigError, MissingDependencyError
from easytx.export import read_export_manifest
from easytx.testing import keyword_dataset


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, preproc=t)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    x, _ = keyword_dataset(40, seed=21)
    return x + ["", "the film was superb. " * 80, "café ☕ naïve ÉCOLE"]


def client_inputs(folder, manifest: dict, texts: list[str]) -> dict:
    """Tokenize as docs/serving.md tells a client to: tokenizers + easytx_export.json."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / manifest["tokenizer"]))
    tok.enable_truncation(max_length=manifest["maxlen"])
    tok.enable_padding(pad_id=manifest["pad_token_id"], pad_token=manifest["pad_token"])
    encodings = tok.encode_batch(texts)
    columns = {
        "input_ids": [e.ids for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
    }
    return {name: np.asarray(columns[name], dtype=np.int32) for name in manifest["inputs"]}


def test_saved_model_round_trip(predictor, texts, tmp_path):
    import tensorflow as tf

    folder = predictor.export(tmp_path / "sm")  # format="saved_model" is the default
    assert (folder / "saved_model.pb").is_file() and (folder / "variables").is_dir()
    manifest = read_export_manifest(folder)
    assert manifest["classes"] == ["neg", "pos"] and manifest["maxlen"] == predictor.preproc.maxlen_
    assert set(manifest["inputs"]) == {"input_ids", "token_type_ids", "attention_mask"}

    loaded = tf.saved_model.load(str(folder))
    serving = loaded.signatures["serving_default"]
    assert set(serving.structured_input_signature[1]) == set(manifest["inputs"])
    assert set(serving.structured_outputs) == {"logits", "probabilities"}
    inputs = client_inputs(folder / "assets.extra", manifest, texts)
    out = serving(**{k: tf.constant(v) for k, v in inputs.items()})
    # the client truncates to maxlen (an exported model reads no sliding windows)
    expected = predictor.predict_proba(texts, windows=False)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    assert out["logits"].shape == (len(texts), 2)

    with pytest.raises(ArtifactError, match="already exists"):
        predictor.export(folder)


def test_onnx_round_trip_through_the_cli(predictor, texts, tmp_path, capsys):
    import onnxruntime as ort

    saved = predictor.save(tmp_path / "predictor")
    out = tmp_path / "onnx"
    assert main(["export", str(saved), str(out), "--format", "onnx", "-q"]) == 0
    assert f"exported onnx to {out}" in capsys.readouterr().out
    manifest = json.loads((out / "easytx_export.json").read_text())
    assert manifest["format"] == "onnx" and manifest["probabilities"] == "softmax"
    # the graph was simplified (easytx.onnx_graph) and checked against tf2onnx's before it was kept
    assert manifest["simplified"]["nodes_after"] < manifest["simplified"]["nodes_before"]
    assert manifest["simplified"]["checked_max_diff"] <= 1e-4

    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} == set(manifest["inputs"])
    proba, logits = session.run(["probabilities", "logits"], client_inputs(out, manifest, texts))
    expected = predictor.predict_proba(texts, windows=False)  # the client truncates
    assert np.abs(proba - expected).max() <= 1e-4
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert [manifest["classes"][i] for i in logits.argmax(axis=1)] == predictor.predict(texts, windows=False)


def test_export_errors(predictor, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="format"):
        predictor.export(tmp_path / "x", format="tflite")
    with pytest.raises(ConfigError, match="opset"):
        predictor.export(tmp_path / "x", format="onnx", opset=7)
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'easytx-nlp\[onnx\]'"):
        predictor.export(tmp_path / "x", format="onnx")
    assert not (tmp_path / "x").exists()
