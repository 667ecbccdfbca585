"""The ONNX Runtime engine: ``save(onnx=...)`` + ``load_predictor(engine=...)`` give the TF engine's
answers for every task, without TensorFlow, Keras or transformers in the process.

Every predictor here is saved once with its ONNX graph(s), then loaded from the same folder with
``engine="tf"`` (the reference) and with the ONNX engines. The predictors of the tasks other than
classification are not trained (their random heads still give distinct, non-trivial outputs, and
the check is that both engines give the same ones); the classifier is the session's trained one,
so int8 quantization is compared on a model with real margins.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import easytx
from easytx import text
from easytx.errors import ArtifactError, ConfigError, EasytxError, MissingDependencyError
from easytx.testing import (
    assert_same_entities,
    entity_dataset,
    free_port,
    keyword_dataset,
    long_keyword_dataset,
    multilabel_dataset,
    pair_dataset,
    regression_dataset,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-4  # the bound on probability differences between the TF and ONNX engines
BLOCKED = ("tensorflow", "keras", "tf_keras", "transformers")

# A process where TensorFlow, Keras and transformers cannot be imported: any attempt raises
# ModuleNotFoundError, as in an app installed without them.
SITECUSTOMIZE = f"""
import importlib.abc, sys

BLOCKED = {BLOCKED!r}

class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, _Blocker())
"""


# --------------------------------------------------------------------------- predictors
def _save_and_load(predictor, folder: Path, onnx="int8") -> dict:
    """Save with the ONNX graph(s); load it back with each engine the folder supports."""
    saved = predictor.save(folder, onnx=onnx)
    engines = ["tf", "onnx"] + (["onnx-int8"] if onnx == "int8" else [])
    return {"folder": saved, **{e: easytx.load_predictor(saved, engine=e) for e in engines}}


@pytest.fixture(scope="module")
def classifier(trained, tmp_path_factory) -> dict:
    learner, t, test = trained
    predictor = easytx.get_predictor(learner.model, preproc=t)
    return {**_save_and_load(predictor, tmp_path_factory.mktemp("clf") / "p"), "test": test}


@pytest.fixture(scope="module")
def multilabel(tiny_bert, tmp_path_factory) -> dict:
    x, y = multilabel_dataset(90, seed=4)
    t = text.Transformer(tiny_bert, maxlen=32)
    t.preprocess_train(x, y)
    predictor = easytx.get_predictor(t.get_classifier(seed=0), t)
    # thresholds at each label's median probability: decisions split both ways, and differ from 0.5's
    median = np.median(predictor.predict_proba(x), axis=0)
    t.task.thresholds = [float(v) for v in np.clip(median, 0.01, 0.99)]
    return {**_save_and_load(predictor, tmp_path_factory.mktemp("ml") / "p", onnx=True), "x": x, "y": y}


@pytest.fixture(scope="module")
def regression(tiny_bert, tmp_path_factory) -> dict:
    x, y = regression_dataset(60, seed=5)
    t = text.Transformer(tiny_bert, maxlen=32, task="regression", scale_targets=True)
    t.preprocess_train(x, y)
    predictor = easytx.get_predictor(t.get_classifier(seed=0), t)
    return {**_save_and_load(predictor, tmp_path_factory.mktemp("reg") / "p", onnx=True), "x": x, "y": y}


@pytest.fixture(scope="module")
def pairs(tiny_bert, tmp_path_factory) -> dict:
    x, y = pair_dataset(60, seed=6)
    t = text.Transformer(tiny_bert, maxlen=32)
    t.preprocess_train(x, y)
    predictor = easytx.get_predictor(t.get_classifier(seed=0), t)
    return {**_save_and_load(predictor, tmp_path_factory.mktemp("pair") / "p", onnx=True), "x": x, "y": y}


@pytest.fixture(scope="module")
def tagger(tiny_bert, tmp_path_factory) -> dict:
    words, tags = entity_dataset(60, seed=7)
    t = text.TaggingTransformer(tiny_bert, maxlen=24)
    t.preprocess_train(words, tags)
    predictor = easytx.get_predictor(t.get_classifier(seed=0), t)
    raw = [" ".join(w) for w in entity_dataset(30, seed=8)[0]]
    raw += ["", "Angela Merkel visited   Paris, then Berlin!", "word " * 40]  # empty, spacing, truncation
    found = {
        **_save_and_load(predictor, tmp_path_factory.mktemp("ner") / "p", onnx=True),
        "words": words,
        "tags": tags,
        "raw": raw,
    }
    return found


def _texts() -> list[str]:
    x, _ = keyword_dataset(40, seed=21)
    return x + ["", "the film was superb. " * 80, "café ☕ naïve ÉCOLE", "a"]


def _same_entities(a: list, b: list) -> None:
    assert_same_entities(a, b, atol=TOL)


# --------------------------------------------------------------------------- the folder format
@pytest.mark.integration
def test_save_lists_and_checksums_the_graphs(classifier, regression):
    folder = classifier["folder"]
    meta = json.loads((folder / "easytx.json").read_text())
    assert meta["onnx"]["graphs"] == {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
    assert meta["onnx"]["inputs"] == ["input_ids", "token_type_ids", "attention_mask"]
    for name in ("model.onnx", "model.int8.onnx"):
        assert (folder / name).is_file() and len(meta["files"][name]) == 64
    # int8 weights: the quantized graph is smaller than the float32 one
    assert (folder / "model.int8.onnx").stat().st_size < (folder / "model.onnx").stat().st_size
    # tf2onnx's graph, simplified (easytx.onnx_graph): the tiny BERT has 5 layer norms (embeddings,
    # and 2 in each of its 2 layers) and 2 GELUs, whichever backend built it
    # and the output shapes of its query/key/value layers from input_ids
    simplified = meta["onnx"]["simplified"]
    assert (simplified["layer_norms"], simplified["gelus"]) == (5, 2) and simplified["tensordot_shapes"] > 0
    assert simplified["nodes_after"] < simplified["nodes_before"] and simplified["checked_max_diff"] <= TOL
    reg_meta = json.loads((regression["folder"] / "easytx.json").read_text())
    assert reg_meta["onnx"]["graphs"] == {"onnx": "model.onnx"}  # onnx=True: float32 only
    assert not (regression["folder"] / "model.int8.onnx").exists()


# --------------------------------------------------------------------------- same answers, every task
def test_classification_same_labels_and_probabilities(classifier):
    tf_p, onnx_p = classifier["tf"], classifier["onnx"]
    assert (tf_p.engine, onnx_p.engine) == ("tf", "onnx")
    texts = _texts()
    expected = tf_p.predict_proba(texts)
    got = onnx_p.predict_proba(texts)
    assert got.shape == expected.shape == (len(texts), 2)
    assert np.abs(got - expected).max() <= TOL
    assert onnx_p.predict(texts) == tf_p.predict(texts)
    assert onnx_p.predict(texts[0]) == tf_p.predict(texts[0])  # the single-text path
    np.testing.assert_allclose(onnx_p.predict_proba(texts[1]), tf_p.predict_proba(texts[1]), atol=TOL)
    assert onnx_p.predict([]) == [] and onnx_p.predict_proba([]).shape == (0, 2)
    np.testing.assert_allclose(onnx_p.predict(texts, return_proba=True), expected, atol=TOL)
    # one length-sorted batching for both: any batch size gives the same answers
    small = easytx.load_predictor(classifier["folder"], batch_size=3, engine="onnx")
    np.testing.assert_allclose(small.predict_proba(texts), expected, atol=TOL)


@pytest.mark.integration
def test_long_texts_in_windows_on_both_engines(classifier, tagger):
    """The ONNX engine reads long texts in the same windows (its tokenizer's overflow) and pools
    them the same way; with windows=False both truncate."""
    texts = long_keyword_dataset(8, filler_words=60, seed=5)[0] + ["a dull plot."]
    for engine in ("onnx", "onnx-int8"):
        onnx_p = classifier[engine]
        windows = onnx_p.preproc.encode_for_prediction(texts, windows=True)
        assert windows.n_texts == 9 and len(windows) > 20
        tol = TOL if engine == "onnx" else 0.25  # int8's bound (see test_int8_engine_agrees...)
        for option in (True, False):
            expected = classifier["tf"].predict_proba(texts, windows=option)
            np.testing.assert_allclose(onnx_p.predict_proba(texts, windows=option), expected, atol=tol)
    tf_p = classifier["tf"]
    assert np.abs(tf_p.predict_proba(texts) - tf_p.predict_proba(texts, windows=False)).max() > 0.1
    raw = [" ".join(["Angela Merkel visited Paris ."] * 10)]
    _same_entities(tagger["onnx"].predict(raw), tagger["tf"].predict(raw))
    assert tagger["onnx"].predict(raw, return_tokens=True) == tagger["tf"].predict(raw, return_tokens=True)


def test_classification_evaluate_and_predict_file(classifier, tmp_path):
    tf_p, onnx_p = classifier["tf"], classifier["onnx"]
    test = classifier["test"]
    scores = onnx_p.evaluate(test.texts, test.labels, print_report=False)
    assert scores == pytest.approx(tf_p.evaluate(test.texts, test.labels, print_report=False), abs=1e-9)
    assert scores["accuracy"] > 0.9  # the trained classifier, run by onnxruntime
    source = tmp_path / "in.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(test.texts[:50]))
    outputs = {}
    for engine in ("tf", "onnx"):
        out = tmp_path / f"{engine}.csv"
        assert classifier[engine].predict_file(source, out, batch_size=7) == 50
        with open(out, encoding="utf-8") as handle:
            outputs[engine] = list(csv.DictReader(handle))
    assert [r["prediction"] for r in outputs["onnx"]] == [r["prediction"] for r in outputs["tf"]]
    assert [r["id"] for r in outputs["onnx"]] == [str(i) for i in range(50)]
    for a, b in zip(outputs["onnx"], outputs["tf"]):
        assert abs(float(a["proba_pos"]) - float(b["proba_pos"])) <= TOL


def test_int8_engine_agrees_with_tf_to_a_looser_tolerance(classifier):
    tf_p, int8 = classifier["tf"], classifier["onnx-int8"]
    assert int8.engine == "onnx-int8" and "model.int8.onnx" in repr(int8.model)
    test = classifier["test"]
    expected, got = tf_p.predict_proba(test.texts), int8.predict_proba(test.texts)
    diff = np.abs(got - expected)[:, 1]
    # int8 weights move the probabilities; on a hidden-32 model the odd text moves by ~0.1
    # (all-MiniLM-L6-v2 on SST-2: 0.01 on average, see docs/onnx-engine.md)
    assert 0 < np.median(diff) < 1e-3 and diff.max() < 0.3
    agree = np.mean(np.array(int8.predict(test.texts)) == np.array(tf_p.predict(test.texts)))
    assert agree >= 0.97
    acc_tf = tf_p.evaluate(test.texts, test.labels, print_report=False)["accuracy"]
    acc_int8 = int8.evaluate(test.texts, test.labels, print_report=False)["accuracy"]
    assert abs(acc_int8 - acc_tf) <= 0.03


def test_int8_keeps_outlier_channels_in_float32(tmp_path):
    """quantize_int8 with calibration splits each MatMul's outlier input channels into a float32
    MatMul of their own: the same function in float32, a smaller int8 error than plain dynamic
    quantization (whose one activation scale otherwise stretches over the outliers)."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from easytx.export import _input_maxima, _split_outliers, quantize_int8

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(64, 48)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="dense")],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 48])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    source = tmp_path / "model.onnx"
    onnx.save(model, str(source))

    def sample(n):  # two channels 40 times larger than the others, as in BERT's hidden states
        x = rng.normal(size=(n, 64)).astype(np.float32)
        x[:, [5, 17]] *= 40
        return x

    feeds = [{"x": sample(32)} for _ in range(4)]
    split, small, channels = _split_outliers(model, _input_maxima(model, feeds), 5.0, 16)
    assert (len(small), channels) == (1, 2)
    x = sample(256)

    def run(m):
        data = m if isinstance(m, bytes) else m.SerializeToString()
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    exact = x @ weight
    np.testing.assert_allclose(run(split), exact, rtol=1e-4, atol=1e-3)  # float32: the same function
    errors = {}
    for name, calibration in (("plain", None), ("split", feeds)):
        target = tmp_path / f"{name}.onnx"
        options = quantize_int8(source, target, calibration)
        errors[name] = np.abs(run(target.read_bytes()) - exact).mean()
    assert options["outlier_split"] == {"ratio": 5.0, "matmuls": 1, "channels": 2}
    assert "outlier_split" not in quantize_int8(source, tmp_path / "again.onnx")
    assert errors["split"] < errors["plain"] / 5, errors


@pytest.mark.integration
def test_multilabel_thresholds_decide_on_both_engines(multilabel):
    tf_p, onnx_p = multilabel["tf"], multilabel["onnx"]
    x = multilabel["x"]
    assert onnx_p.task.thresholds == tf_p.task.thresholds != 0.5
    expected = tf_p.predict_proba(x)
    assert np.abs(onnx_p.predict_proba(x) - expected).max() <= TOL
    labels = onnx_p.predict(x)
    assert labels == tf_p.predict(x)
    # the saved thresholds, not 0.5, made these decisions (both ways)
    at_half = tf_p.preproc.labels_.inverse_transform(expected > 0.5)
    assert labels != at_half and any(labels) and not all(labels)
    a = onnx_p.evaluate(x, multilabel["y"], print_report=False)
    assert a == pytest.approx(tf_p.evaluate(x, multilabel["y"], print_report=False), abs=1e-9)


def test_regression_values_in_the_targets_units(regression):
    tf_p, onnx_p = regression["tf"], regression["onnx"]
    x = regression["x"]
    expected, got = tf_p.predict(x), onnx_p.predict(x)
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, expected, atol=TOL * max(1.0, np.abs(expected).max()))
    assert min(got) > 3  # unscaled: around the targets' mean (10), not around 0
    a = onnx_p.evaluate(x, regression["y"], print_report=False)
    assert a == pytest.approx(tf_p.evaluate(x, regression["y"], print_report=False), abs=1e-4)


def test_sentence_pairs(pairs):
    tf_p, onnx_p = pairs["tf"], pairs["onnx"]
    x = pairs["x"]
    assert np.abs(onnx_p.predict_proba(x) - tf_p.predict_proba(x)).max() <= TOL
    assert onnx_p.predict(x) == tf_p.predict(x)
    assert onnx_p.predict(x[0]) == tf_p.predict(x[0])  # one (text_a, text_b) tuple
    with pytest.raises(easytx.DataError, match="sentence pairs"):
        onnx_p.predict(["a single text"])


def test_ner_entities_with_character_offsets(tagger):
    tf_p, onnx_p = tagger["tf"], tagger["onnx"]
    raw = tagger["raw"]
    expected = tf_p.predict(raw)
    assert sum(len(e) for e in expected) > 0  # the comparison is not between empty lists
    got = onnx_p.predict(raw)
    _same_entities(got, expected)
    for text_, entities in zip(raw, got):
        for e in entities:
            assert text_[e["start"] : e["end"]] == e["text"]
    assert onnx_p.predict(raw, return_tokens=True) == tf_p.predict(raw, return_tokens=True)
    a = onnx_p.evaluate(tagger["words"], tagger["tags"], print_report=False)
    assert a == pytest.approx(tf_p.evaluate(tagger["words"], tagger["tags"], print_report=False), abs=1e-9)


def test_keras3_backend_graph(tiny_bert, tmp_path):
    """The exporter works whatever backend built the model: the Keras 3 encoders too."""
    x, y = keyword_dataset(60, seed=9)
    t = text.Transformer(tiny_bert, maxlen=32)
    t.preprocess_train(x, y)
    model = t.get_classifier(seed=0, backend="keras3")
    predictor = easytx.get_predictor(model, t)
    folder = predictor.save(tmp_path / "k3", onnx=True)
    assert json.loads((folder / "easytx.json").read_text())["backend"] == "keras3"
    onnx_p = easytx.load_predictor(folder, engine="onnx")
    assert np.abs(onnx_p.predict_proba(x) - predictor.predict_proba(x)).max() <= TOL


# --------------------------------------------------------------------------- a process without TensorFlow
def _blocked_env(tmp_path: Path) -> dict:
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join([str(shim), str(ROOT)])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_USE_LEGACY_KERAS")}
    return {**env, "PYTHONPATH": path}


def test_onnx_engine_works_where_tensorflow_cannot_be_imported(classifier, tagger, tmp_path):
    env = _blocked_env(tmp_path)
    texts = _texts()
    request = {
        "clf": str(classifier["folder"]),
        "ner": str(tagger["folder"]),
        "texts": texts,
        "raw": tagger["raw"],
        "test": [classifier["test"].texts, classifier["test"].labels],
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    code = textwrap.dedent(
        f"""
        import json, sys
        for name in {BLOCKED!r}:
            try:
                __import__(name)
            except ImportError:
                pass
            else:
                raise SystemExit(name + " could be imported: the shim is not active")
        import easytx
        req = json.load(open({str(tmp_path / "request.json")!r}))
        clf = easytx.load_predictor(req["clf"])  # auto: the folder has model.onnx
        int8 = easytx.load_predictor(req["clf"], engine="onnx-int8", intra_op_threads=1)
        ner = easytx.load_predictor(req["ner"], engine="onnx")
        try:
            easytx.load_predictor(req["clf"], engine="tf")
        except easytx.MissingDependencyError as exc:
            tf_error = str(exc)
        out = {{
            "engines": [clf.engine, int8.engine, ner.engine],
            "labels": clf.predict(req["texts"]),
            "proba": clf.predict_proba(req["texts"]).tolist(),
            "int8": int8.predict(req["texts"]),
            "entities": ner.predict(req["raw"]),
            "accuracy": clf.evaluate(*req["test"], print_report=False)["accuracy"],
            "loaded": sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}),
            "tf_error": tf_error,
        }}
        print(json.dumps(out))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["engines"] == ["onnx", "onnx-int8", "onnx"]
    assert out["loaded"] == []
    assert "The 'tf' engine needs TensorFlow" in out["tf_error"] and "engine='onnx'" in out["tf_error"]
    tf_p = classifier["tf"]
    assert out["labels"] == tf_p.predict(texts)
    assert np.abs(np.array(out["proba"]) - tf_p.predict_proba(texts)).max() <= TOL
    assert np.mean(np.array(out["int8"]) == np.array(tf_p.predict(texts))) >= 0.9
    _same_entities(out["entities"], tagger["tf"].predict(tagger["raw"]))
    test = classifier["test"]
    assert out["accuracy"] == pytest.approx(
        tf_p.evaluate(test.texts, test.labels, print_report=False)["accuracy"]
    )


def test_cli_predict_and_serve_without_tensorflow(classifier, tmp_path):
    env = _blocked_env(tmp_path)
    folder = classifier["folder"]
    texts = _texts()[:20]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "easytx", "predict", str(folder), str(source), "-o", str(out)]
    done = subprocess.run(
        [*command, "--engine", "onnx", "--proba", "--threads", "1", "-q"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["prediction"] for r in rows] == classifier["tf"].predict(texts)
    got = np.array([[r["probabilities"][c] for c in ("neg", "pos")] for r in rows])
    assert np.abs(got - classifier["tf"].predict_proba(texts)).max() <= TOL
    # --engine tf in that process: TensorFlow cannot load, and the error says so in one line
    failed = subprocess.run(
        [*command, "--engine", "tf"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("easytx: error: The 'tf' engine needs TensorFlow"), failed.stderr[-2000:]
    assert "engine='onnx'" in failed.stderr

    pytest.importorskip("fastapi")
    port = free_port()
    serve = [sys.executable, "-m", "easytx", "serve", str(folder), "--engine", "onnx-int8", "-q"]
    proc = subprocess.Popen(
        [*serve, "--port", str(port), "--threads", "1", "--spin"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        meta = _wait_for(port, proc)
        assert meta["engine"] == "onnx-int8" and meta["classes"] == ["neg", "pos"]
        body = json.dumps({"texts": texts, "proba": True}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert answer["predictions"] == classifier["onnx-int8"].predict(texts)
        assert (
            np.abs(np.array(answer["probabilities"]) - classifier["onnx-int8"].predict_proba(texts)).max()
            < 1e-5
        )
    finally:
        stop_process(proc)


def _wait_for(port: int, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {proc.stdout.read().decode()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metadata", timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    pytest.fail("the server did not answer within 120 s")


# --------------------------------------------------------------------------- engine choice and errors
def test_auto_picks_onnx_only_when_the_graph_and_onnxruntime_are_there(
    classifier, regression, trained, tmp_path, monkeypatch
):
    assert easytx.load_predictor(classifier["folder"]).engine == "onnx"
    # naming a TensorFlow model backend asks for the TensorFlow model
    assert easytx.load_predictor(classifier["folder"], backend="transformers").engine == "tf"
    learner, t, _ = trained
    plain = easytx.get_predictor(learner.model, preproc=t).save(tmp_path / "plain")
    assert easytx.load_predictor(plain).engine == "tf"
    with pytest.raises(ArtifactError, match=r"saved without the 'onnx' engine's graph.*onnx=True"):
        easytx.load_predictor(plain, engine="onnx")
    with pytest.raises(ArtifactError, match=r"holds \['onnx'\].*onnx='int8'"):
        easytx.load_predictor(regression["folder"], engine="onnx-int8")  # saved with onnx=True
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # onnxruntime not installed
    assert easytx.load_predictor(classifier["folder"]).engine == "tf"
    with pytest.raises(MissingDependencyError, match="onnxruntime"):
        easytx.load_predictor(classifier["folder"], engine="onnx")


def test_bad_engine_names_and_options(classifier):
    folder = classifier["folder"]
    with pytest.raises(
        ConfigError, match=r"`engine` must be one of \['auto', 'tf', 'onnx', 'onnx-int8'\]"
    ) as exc:
        easytx.load_predictor(folder, engine="onx")
    assert "Received: engine='onx'" in str(exc.value) and "Did you mean 'onnx'" in str(exc.value)
    with pytest.raises(ConfigError, match="engine"):
        easytx.load_predictor(folder, engine=None)
    with pytest.raises(ConfigError, match="intra_op_threads"):
        easytx.load_predictor(folder, engine="onnx", intra_op_threads=-1)
    with pytest.raises(ConfigError, match="TensorFlow engine"):
        easytx.load_predictor(folder, engine="tf", intra_op_threads=2)
    with pytest.raises(ConfigError, match="backend"):
        easytx.load_predictor(folder, engine="onnx", backend="keras3")
    with pytest.raises(ConfigError, match=r"`onnx` must be False, True .* or 'int8' .*Received: onnx='int4'"):
        classifier["tf"].save(folder.parent / "never", onnx="int4")
    with pytest.raises(ConfigError, match="opset"):
        classifier["tf"].save(folder.parent / "never", opset=17)
    assert not (folder.parent / "never").exists()


def test_threads_reach_onnxruntime(classifier):
    one = easytx.load_predictor(classifier["folder"], engine="onnx", intra_op_threads=1, inter_op_threads=1)
    options = one.model.session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"  # see session_options
    assert one.predict(_texts()) == classifier["tf"].predict(_texts())
    spinning = easytx.load_predictor(classifier["folder"], engine="onnx-int8", allow_spinning=True)
    options = spinning.model.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "1"
    with pytest.raises(ConfigError, match="allow_spinning"):
        easytx.load_predictor(classifier["folder"], engine="onnx", allow_spinning="yes")
    with pytest.raises(ConfigError, match="allow_spinning"):  # a TensorFlow engine has no such threads
        easytx.load_predictor(classifier["folder"], engine="tf", allow_spinning=True)


def test_cli_spin_is_refused_for_the_tf_engine(classifier, tmp_path, capsys):
    from easytx.cli import main

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(_texts()) + "\n", encoding="utf-8")
    assert main(["predict", str(classifier["folder"]), str(texts), "--engine", "tf", "--spin", "-q"]) == 1
    assert "--spin sets onnxruntime's threads" in capsys.readouterr().err


def test_an_onnx_predictor_let_go_frees_its_session(classifier):
    import gc
    import weakref

    predictor = easytx.load_predictor(classifier["folder"], engine="onnx")
    predictor.predict(_texts())
    model = weakref.ref(predictor.model)
    del predictor
    gc.collect()
    assert model() is None  # nothing (bindings, caches) keeps the session alive


def test_what_needs_tensorflow_says_so(classifier, tmp_path):
    onnx_p = classifier["onnx"]
    for call in (
        lambda: onnx_p.explain("a text"),
        lambda: onnx_p.save(tmp_path / "again"),
        lambda: onnx_p.export(tmp_path / "exported", format="onnx"),
    ):
        with pytest.raises(EasytxError, match=r"engine='tf'"):
            call()
    assert not (tmp_path / "again").exists()


def test_embed_on_an_onnx_engine_says_the_graph_outputs_logits_only(classifier):
    with pytest.raises(ConfigError, match=r"outputs the\s+logits only.*engine='tf'"):
        classifier["onnx"].embed(["a text", "another"])
    assert classifier["tf"].embed(["a text", "another"]).shape[0] == 2


def test_cli_export_of_a_folder_with_graphs_converts_the_tf_model(classifier, tmp_path, capsys):
    from easytx.cli import main

    out = tmp_path / "exported"
    assert main(["export", str(classifier["folder"]), str(out), "--format", "onnx", "-q"]) == 0
    assert (out / "model.onnx").is_file() and "exported onnx" in capsys.readouterr().out


def test_tampered_graphs_are_refused(classifier, tmp_path):
    import shutil

    for name, engine in (("model.onnx", "onnx"), ("model.int8.onnx", "onnx-int8")):
        copy = tmp_path / f"copy-{engine}"
        shutil.copytree(classifier["folder"], copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit in the middle of the weights
        (copy / name).write_bytes(bytes(data))
        for asked in (engine, "auto", "tf"):  # every engine verifies every file of the folder
            with pytest.raises(
                ArtifactError, match=rf"{name.replace('.', '[.]')} does not match its checksum"
            ):
                easytx.load_predictor(copy, engine=asked)


def test_a_manifest_pointing_the_engine_elsewhere_is_refused(classifier):
    from easytx import onnx_engine

    meta = json.loads((classifier["folder"] / "easytx.json").read_text())
    meta["onnx"]["graphs"]["onnx"] = "tokenizer/tokenizer.json"  # listed and checksummed, not a graph
    with pytest.raises(ArtifactError, match="names 'tokenizer/tokenizer.json' as the graph"):
        onnx_engine.resolve_engine("onnx", meta)


def test_a_graph_swapped_after_verification_is_refused(classifier, monkeypatch):
    """The bytes handed to onnxruntime are the bytes checked: a file replaced between the folder
    check and the session is caught."""
    from easytx import onnx_engine

    real = Path.read_bytes

    def swapped(self):
        data = real(self)
        return data[:-1] + bytes([data[-1] ^ 1]) if self.name == "model.onnx" else data

    monkeypatch.setattr(Path, "read_bytes", swapped)
    meta = json.loads((classifier["folder"] / "easytx.json").read_text())
    with pytest.raises(ArtifactError, match="does not match its checksum"):
        onnx_engine.load_onnx_model(classifier["folder"], meta, "onnx")


# ---------------------------------------------------------------- the tokenizer without transformers
@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_json_tokenizer_gives_the_transformers_tokenizers_ids(tiny_models, family):
    from easytx.backend import load_tokenizer
    from easytx.tokenizer_json import load_json_tokenizer

    folder = tiny_models[family, "tf"]
    names = ["input_ids", "token_type_ids"] if family == "bert" else ["input_ids"]
    texts = _texts()
    options = {"truncation": True, "padding": False, "return_token_type_ids": "token_type_ids" in names}
    for prefix in (False, True):
        extra = {"add_prefix_space": True} if prefix else {}
        hf, js = load_tokenizer(folder, **extra), load_json_tokenizer(folder, input_names=names, **extra)
        assert js.pad_token_id == hf.pad_token_id is not None
        for max_length in (6, 48):
            a, b = hf(texts, max_length=max_length, **options), js(texts, max_length=max_length, **options)
            assert all(a[n] == b[n] for n in names)
            assert [bool(e.overflowing) for e in a.encodings] == [bool(e.overflowing) for e in b.encodings]
            a, b = (
                hf(texts[:10], texts[10:20], max_length=max_length, **options),
                js(texts[:10], texts[10:20], max_length=max_length, **options),
            )
            assert all(a[n] == b[n] for n in names)
            if family == "roberta" and not prefix:
                continue  # transformers refuses pre-split words without add_prefix_space
            words = [t.split() or ["x"] for t in texts]
            a = hf(words, is_split_into_words=True, max_length=max_length, **options)
            b = js(words, is_split_into_words=True, max_length=max_length, **options)
            assert all(a[n] == b[n] for n in names)
            assert [a.word_ids(i) for i in range(len(words))] == [b.word_ids(i) for i in range(len(words))]
            # sliding windows: the same rows, in the same order, with the same text of each row
            windows = {"return_overflowing_tokens": True, "stride": max_length // 4}
            a = hf(texts, max_length=max_length, **windows, **options)
            b = js(texts, max_length=max_length, **windows, **options)
            assert all(a[n] == b[n] for n in [*names, "overflow_to_sample_mapping"])
            assert len(a["input_ids"]) > len(texts) or max_length > 40
            a = hf(words, is_split_into_words=True, max_length=max_length, **windows, **options)
            b = js(words, is_split_into_words=True, max_length=max_length, **windows, **options)
            assert all(a[n] == b[n] for n in [*names, "overflow_to_sample_mapping"])
            rows = len(a["input_ids"])
            assert [a.word_ids(i) for i in range(rows)] == [b.word_ids(i) for i in range(rows)]
        assert js.num_special_tokens_to_add(pair=False) == hf.num_special_tokens_to_add(pair=False)


# ---------------------------------------------------------------------------- the install for apps
def test_the_app_distribution_requires_no_tensorflow(tmp_path):
    """packaging/easytx-nlp-runtime builds a wheel of this very package whose only requirements
    are numpy, tokenizers and onnxruntime (built from a copy: the source tree stays clean)."""
    import shutil
    import zipfile

    pytest.importorskip("setuptools")
    shutil.copytree(ROOT / "easytx", tmp_path / "easytx", ignore=shutil.ignore_patterns("__pycache__"))
    project = tmp_path / "packaging" / "easytx-nlp-runtime"
    shutil.copytree(
        ROOT / "packaging" / "easytx-nlp-runtime",
        project,
        ignore=shutil.ignore_patterns("build", "*.egg-info"),
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    done = subprocess.run(
        [*command, "-w", str(tmp_path / "dist"), str(project)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("easytx_nlp_runtime-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = archive.read(meta_name).decode()
        entry_points = archive.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    requires = [
        line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")
    ]
    required = sorted(
        r.split(">")[0].split("<")[0].split("=")[0].strip() for r in requires if "extra ==" not in r
    )
    assert required == ["numpy", "onnxruntime", "tokenizers"]
    assert f"Version: {easytx.__version__}" in meta
    ours = {p.relative_to(ROOT).as_posix() for p in (ROOT / "easytx").rglob("*.py")}
    assert ours <= names  # every module of the package, the TF engine's included (imported lazily)
    assert "easytx = easytx.cli:main" in entry_points
