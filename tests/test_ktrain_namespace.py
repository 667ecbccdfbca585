"""``easytx.ktrain``: ktrain's own text tests, in our words, on tiny models.

Ports the usage of ktrain's tests/test_textclassification.py (text_classifier and Transformer
paths, regression), tests/test_dataloading.py (the ``preprocess_mode='bert'`` loaders) and the
multi-label flow: ktrain's names, argument order and return values, run on easytx.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import easytx
import easytx.ktrain as ktrain
from easytx._keras import set_random_seed
from easytx.errors import ConfigError, DataTypeError
from easytx.ktrain import text as txt
from easytx.ktrain import utils as U  # noqa: N812 - ktrain's spelling
from easytx.testing import keyword_dataset, multilabel_dataset

POSITIVE_DOC = "the film was simply excellent and wonderful."


@pytest.fixture(scope="session")
def kt_classifier(tiny_bert, keyword_data):
    """ktrain's classification flow trained once: (learner, preproc, trn, val, history)."""
    train, test = keyword_data
    trn, val, preproc = txt.texts_from_array(
        train.texts,
        train.labels,
        test.texts,
        test.labels,
        None,
        preprocess_mode="distilbert",
        maxlen=48,
        verbose=0,
        model=tiny_bert,
    )
    set_random_seed(0)
    model = txt.text_classifier("distilbert", train_data=trn, preproc=preproc, verbose=0)
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=16)
    learner.seed = 0
    hist = learner.fit_onecycle(5e-3, 4, verbose=0)
    return learner, preproc, trn, val, hist


def test_import_loads_no_tensorflow_and_names_ktrains_modules():
    code = (
        "import sys, easytx.ktrain as ktrain\n"
        "from easytx.ktrain import utils, imports\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(ktrain.__version__, imports.VAL_ACC_NAME, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [easytx.__version__, "val_accuracy", "[]"]


def test_fit_onecycle_runs_ktrains_triangle(tiny_bert):
    x, y = keyword_dataset(48, seed=5)
    trn, val, preproc = txt.texts_from_array(
        x[:40], y[:40], x[40:], y[40:], None, preprocess_mode="distilbert", maxlen=16, verbose=0,
        model=tiny_bert,
    )  # fmt: skip
    model = txt.text_classifier("distilbert", train_data=trn, preproc=preproc, verbose=0)
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=8)
    assert learner.steps_per_epoch == 5
    lr = 1e-3
    hist = learner.fit_onecycle(lr, 2, verbose=0)  # 10 batches: ktrain's step_size is 5
    lrs, moms = hist.history["lr"], hist.history["momentum"]
    assert len(lrs) == len(moms) == 10 and hist.history["iterations"] == list(range(1, 11))
    # straight up from lr/10 to lr at batch 5, then straight down towards lr/1000
    assert lrs[0] == pytest.approx(lr / 10, rel=1e-5)
    assert lrs[3] == pytest.approx(lr / 10 + (lr - lr / 10) * 3 / 5, rel=1e-5)
    assert max(lrs) == lrs[5] == pytest.approx(lr, rel=1e-6)
    assert lrs[-1] == pytest.approx(lr / 1000 + (lr - lr / 1000) / 5, rel=1e-5)
    # Adam's beta_1 one batch ahead of the lr, as ktrain sets it: 0.85 at batch 4, 0.95 at the end
    expected = [0.95 - 0.1 * (1 - abs((i + 1) / 5 - 1)) for i in range(10)]
    assert moms == pytest.approx(expected, abs=1e-6)
    assert moms[4] == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)
    with pytest.raises(ConfigError, match=r"pct_start=0\.3.*easytx\.get_learner"):
        learner.fit_onecycle(lr, 1, pct_start=0.3)


@pytest.mark.integration
def test_text_classifier_flow_as_ktrain_tests_it(kt_classifier, tmp_path, capsys):
    learner, preproc, trn, val, hist = kt_classifier
    # ktrain's triangle: from lr/10, its peak reached on a batch, recorded per batch
    assert max(hist.history["lr"]) == pytest.approx(5e-3, rel=1e-6)
    assert hist.history["lr"][0] == pytest.approx(5e-4, rel=1e-5)
    assert len(hist.history["lr"]) == 4 * learner.steps_per_epoch == len(hist.history["momentum"])
    assert max(hist.history["val_accuracy"]) > 0.9
    # top_losses: (id, loss, true, pred) of misclassified rows only, ids into val.x
    for i, loss, truth, pred in learner.top_losses(n=3, val_data=None, preproc=preproc):
        assert i in range(len(val.x)) and truth != pred and loss > 0
    learner.view_top_losses(preproc=preproc, n=1, val_data=None)
    # ktrain's learners start without weight decay
    assert learner.get_weight_decay() is None
    learner.set_weight_decay()
    assert learner.get_weight_decay() == pytest.approx(0.01)
    learner.set_weight_decay(0)
    before = learner.predict()
    learner.save_model(tmp_path / "model")
    learner.load_model(tmp_path / "model")
    np.testing.assert_allclose(learner.predict(), before, atol=1e-5)
    cm = learner.validate()
    assert [int(np.argmax(row)) for row in cm] == [0, 1]
    assert "precision" in capsys.readouterr().out
    # ground truth and predictions as ktrain gives them: one-hot rows and probabilities
    assert learner.ground_truth().shape == before.shape == (len(val.x), 2)
    np.testing.assert_array_equal(learner.ground_truth().argmax(axis=1), val.y.argmax(axis=1))


def test_predictor_saves_loads_and_explains_as_ktrain(kt_classifier, tmp_path):
    learner, preproc, *_ = kt_classifier
    p = ktrain.get_predictor(learner.model, preproc, batch_size=64)
    assert p.predict([POSITIVE_DOC])[0] == "pos"
    p.save(str(tmp_path / "p"))
    p = ktrain.load_predictor(str(tmp_path / "p"), batch_size=64)
    assert isinstance(p, ktrain.Predictor)
    assert p.predict(POSITIVE_DOC) == "pos"
    assert int(np.argmax(p.predict_proba([POSITIVE_DOC])[0])) == 1
    html = p.explain(POSITIVE_DOC, truncate_len=4)
    assert type(html).__name__ == "HTML" and "excellent" not in html.data  # cut to 4 words


def test_onnx_export_and_session_as_in_ktrain(kt_classifier, tmp_path, capsys):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    learner, preproc, *_ = kt_classifier
    p = ktrain.get_predictor(learner.model, preproc)
    path = str(tmp_path / "onnx" / "model.onnx")
    assert p.export_model_to_onnx(path) == path
    assert "converting to ONNX" in capsys.readouterr().out
    docs = [POSITIVE_DOC, "the film was awful and boring."]
    expected = p.predict_proba(docs)
    # ktrain's recipe: tokenize with the predictor's tokenizer, feed the arrays by name
    tokenizer = p.preproc.get_tokenizer()
    for padding in ("max_length", True):
        tokens = tokenizer(
            docs, max_length=preproc.maxlen, truncation=True, padding=padding, return_tensors="tf"
        )
        tokens = {name: np.atleast_2d(value) for name, value in tokens.items()}
        sess = p.create_onnx_session(path)
        logits = sess.run(None, tokens)[0]  # the first output holds the logits, as in ktrain
        np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), expected, atol=1e-4)
    # quantize=True also writes <name>-quantized.onnx and returns its path
    quantized = p.export_model_to_onnx(path, quantize=True, target_opset=15, verbose=0)
    assert quantized == (tmp_path / "onnx" / "model-quantized.onnx").as_posix()
    logits = p.create_onnx_session(quantized).run(None, tokens)[0]
    assert list(logits.argmax(1)) == list(expected.argmax(1))
    with pytest.raises(ConfigError, match="provider='GPU'"):
        p.create_onnx_session(path, provider="GPU")
    with pytest.raises(ConfigError, match="opset=9"):
        p.export_model_to_onnx(path, target_opset=9)
    with pytest.raises(easytx.errors.ArtifactError, match="that is a folder"):
        p.export_model_to_onnx(str(tmp_path))


def test_tflite_export_as_in_ktrain(kt_classifier, tmp_path, capsys):
    import tensorflow as tf

    learner, preproc, *_ = kt_classifier
    p = ktrain.get_predictor(learner.model, preproc)
    path = str(tmp_path / "model.tflite")
    assert p.export_model_to_tflite(path) == path
    assert 'padding="max_length"' in capsys.readouterr().out
    # ktrain's recipe: pad to maxlen, set each input tensor, the first output holds the logits
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    inputs = p.preproc.get_tokenizer()(
        POSITIVE_DOC, max_length=preproc.maxlen, padding="max_length", truncation=True, return_tensors="tf"
    )
    for detail in interpreter.get_input_details():  # sorted by name: attention_mask, input_ids, ...
        name = next(n for n in inputs if detail["name"].endswith(f"_{n}:0"))
        interpreter.set_tensor(detail["index"], inputs[name])
    interpreter.invoke()
    logits = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(proba, p.predict_proba([POSITIVE_DOC]), atol=1e-4)


def test_ktrain_data_objects(kt_classifier):
    learner, preproc, trn, val, _ = kt_classifier
    assert len(trn) == -(-trn.nsamples() // 16)  # batches, at the learner's batch size
    batch_x, batch_y = trn[0]
    assert batch_x.shape == (16, trn.x.shape[1], preproc.maxlen_) and batch_y.shape == (16, 2)
    assert U.is_iter(trn) and U.is_huggingface(data=trn) and U.is_huggingface(model=learner.model)
    assert not U.is_multilabel(trn) and not U.bert_data_tuple(trn)
    assert U.nsamples_from_data(val) == len(val.x) == 120
    assert U.nclasses_from_data(trn) == 2 and U.y_from_data(trn).shape == (480, 2)
    assert U.is_classifier(learner.model) == (True, False)
    assert preproc.get_classes() == ["neg", "pos"] and preproc.name == "distilbert"
    with pytest.raises(IndexError):
        trn[len(trn)]


@pytest.mark.integration
def test_transformer_api_infers_regression_from_numbers(tiny_bert, tmp_path):
    x, labels = keyword_dataset(400, seed=3)
    y = [1.0 if label == "pos" else 0.0 for label in labels]  # as ktrain's test_textregression
    preproc = txt.Transformer(tiny_bert, maxlen=32, classes=[])
    with pytest.warns(UserWarning, match="REGRESSION"):
        trn = preproc.preprocess_train(x[:320], y[:320])
    val = preproc.preprocess_test(x[320:], y[320:])
    assert preproc.get_classes() == [] and trn.y.shape == (320,)
    with pytest.raises(ConfigError, match="text_regression_model"):
        txt.text_classifier("distilbert", trn, preproc=preproc)
    set_random_seed(0)
    learner = ktrain.get_learner(preproc.get_regression_model(), train_data=trn, val_data=val, batch_size=16)
    learner.seed = 0
    hist = learner.fit_onecycle(5e-3, 6, verbose=0)
    assert max(hist.history["lr"]) == pytest.approx(5e-3, rel=1e-6)
    (name, mae), *_ = learner.validate()
    assert name == "mae" and mae < 0.4  # predicting the mean everywhere gives 0.5
    assert len(hist.history["val_mae"]) == 6
    obs = learner.top_losses(n=1)
    assert obs[0][0] in range(len(y[320:]))
    p = ktrain.get_predictor(learner.model, preproc)
    p.save(tmp_path / "p")
    p = ktrain.load_predictor(tmp_path / "p")
    values = p.predict([x[0], x[1]])
    assert isinstance(values, np.ndarray) and values.shape == (2,)
    assert p.get_classes() == []
    with pytest.warns(UserWarning, match="regression"):
        assert p.explain(x[0]) is None


@pytest.mark.integration
def test_multilabel_from_df_answers_class_probability_pairs(tiny_bert):
    x, labels = multilabel_dataset(450, seed=0)
    frame = pd.DataFrame({"text": x, **{c: [int(c in row) for row in labels] for c in ("neg", "pos")}})
    trn, val, preproc = txt.texts_from_df(
        frame, "text", ["neg", "pos"], None, maxlen=32, preprocess_mode="distilbert", random_state=0,
        verbose=0, model=tiny_bert,
    )  # fmt: skip
    assert U.is_multilabel(trn) is False  # no text carries both labels: ktrain's test says single
    assert preproc.task.name == "multilabel"  # rows with no label make it multi-label
    set_random_seed(0)
    model = txt.text_classifier("distilbert", trn, preproc=preproc, verbose=0)
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=16)
    learner.seed = 0
    learner.fit_onecycle(3e-3, 6, verbose=0)  # ktrain's triangle: 5e-3 left "pos" at 0.496 on Keras 3
    with pytest.warns(UserWarning, match="multilabel"):
        assert learner.validate(print_report=False, save_path=None) is None
    answer = ktrain.get_predictor(learner.model, preproc).predict(POSITIVE_DOC)
    assert [c for c, _ in answer] == ["neg", "pos"] and all(0 <= p <= 1 for _, p in answer)
    assert dict(answer)["pos"] > 0.5 > dict(answer)["neg"]


def test_bert_mode_returns_ktrains_array_tuples(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("EASYTX_KTRAIN_BERT_MODEL", str(tiny_bert))
    path = tmp_path / "texts.csv"
    pd.DataFrame(
        {
            "text": ["The book is bad.", "This book is bad.", "The book is good.", "This book is good."],
            "neg": [1, 1, 0, 0],
            "pos": [0, 0, 1, 1],
        }
    ).to_csv(path, index=False)
    trn, val, preproc = txt.texts_from_csv(
        path, "text", val_filepath=path, label_columns=["neg", "pos"], max_features=100, maxlen=10,
        ngram_range=3, preprocess_mode="bert", verbose=0,
    )  # fmt: skip
    assert isinstance(trn, tuple) and not U.is_iter(trn) and U.bert_data_tuple(trn)
    assert trn[0][0].shape == (4, 10) and trn[1].shape == (4, 2) and val[0][1].shape == (4, 10)
    assert U.shape_from_data(trn) == (4, 10) and U.nsamples_from_data(trn) == 4
    assert U.nclasses_from_data(trn) == 2 and not U.is_multilabel(trn)
    cls_id = preproc.get_tokenizer().cls_token_id
    assert preproc.preprocess(["hello book"])[0][0][0] == cls_id
    assert preproc.preprocess(["hello book"])[0].shape == (1, 10)
    assert preproc.undo(val[0][0][0]) == " ".join(
        preproc.get_tokenizer().tokenize("[CLS] The book is bad. [SEP]")
    )
    model = txt.text_classifier("bert", trn, preproc=preproc, verbose=0)
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=2)
    assert learner.train_data is trn.dataset
    with pytest.raises(ConfigError, match="preprocess_mode='bert'"):
        txt.text_classifier("distilbert", trn, preproc=preproc)


def test_texts_from_folder_keeps_only_the_named_classes(tiny_bert, tmp_path):
    for split in ("train", "test"):
        for label, words in (("pos", "good fine"), ("neg", "bad awful"), ("extra", "other")):
            (tmp_path / split / label).mkdir(parents=True)
            for i, word in enumerate(words.split()):
                (tmp_path / split / label / f"{i}.txt").write_text(f"the book is {word}.", encoding="utf-8")
    trn, val, preproc = txt.texts_from_folder(
        tmp_path, maxlen=10, classes=["pos", "neg"], train_test_names=["train", "test"],
        preprocess_mode="distilbert", verbose=0, model=tiny_bert,
    )  # fmt: skip
    assert preproc.get_classes() == ["neg", "pos"] and trn.nsamples() == val.nsamples() == 4
    trn, val, _ = txt.texts_from_folder(
        tmp_path, classes=["pos", "neg"], maxlen=10, train_test_names=["train"], val_pct=0.25,
        random_state=0, preprocess_mode="distilbert", verbose=0, model=tiny_bert,
    )  # fmt: skip
    assert (trn.nsamples(), val.nsamples()) == (3, 1)


def test_texts_from_folder_detects_each_files_encoding(tiny_bert, tmp_path, capsys):
    # one GBK file of Chinese and one latin-1 file of French: each decoded as its own encoding
    chinese, french = "这本书写得很好，我非常喜欢", "Le café était très bon, déçu par la fin."
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (tmp_path / split / label).mkdir(parents=True)
        (tmp_path / split / "pos" / "zh.txt").write_bytes(chinese.encode("gbk"))
        (tmp_path / split / "neg" / "fr.txt").write_bytes(french.encode("latin-1"))
        (tmp_path / split / "neg" / "en.txt").write_text("plain ascii text.", encoding="utf-8")
    trn, val, _ = txt.texts_from_folder(
        tmp_path, maxlen=16, preprocess_mode="distilbert", model=tiny_bert, verbose=1
    )
    assert (
        sorted(trn.dataset.texts)
        == sorted(val.dataset.texts)
        == sorted([chinese, french, "plain ascii text."])
    )
    out = capsys.readouterr().out
    assert "detected encodings: utf-8 (2 files), cp1252 (2 files), gb18030 (2 files)" in out
    # a given encoding is used as it is
    with pytest.raises(easytx.errors.DataError, match="not valid utf-8"):
        txt.texts_from_folder(tmp_path, encoding="utf-8", preprocess_mode="distilbert", model=tiny_bert)


def test_csv_encoding_is_detected_and_empty_texts_filled(tiny_bert, tmp_path, capsys):
    path = tmp_path / "hotel.csv"
    reviews = ["房间很干净，服务很好，早餐也不错，下次还会再来", "房间太小了，隔音很差，晚上很吵"]
    rows = [f"{i % 2},{reviews[i % 2]}" for i in range(40)] + ["1,"]  # the last text is empty
    path.write_bytes(("label,text\n" + "\n".join(rows) + "\n").encode("gbk"))
    trn, val, preproc = txt.texts_from_csv(
        path, "text", "label", val_filepath=path, maxlen=16, preprocess_mode="distilbert", model=tiny_bert
    )
    assert "detected encoding: gb" in capsys.readouterr().out.lower()
    assert preproc.get_classes() == ["0", "1"] and "fillna" in trn.dataset.texts


def test_out_of_scope_names_say_what_to_use_instead(kt_classifier, tiny_bert):
    learner, preproc, trn, *_ = kt_classifier
    with pytest.raises(ConfigError, match="preprocess_mode='distilbert'"):
        txt.texts_from_array(["a", "b"], ["x", "y"])  # ktrain's default mode is bag-of-words
    for name in ("nbsvm", "fasttext", "logreg", "bigru"):
        with pytest.raises(ConfigError, match="bag-of-words"):
            txt.text_classifier(name, trn, preproc=preproc)
    with pytest.raises(ConfigError, match="bag-of-words"):
        txt.text_regression_model("linreg", trn, preproc=preproc)
    with pytest.raises(DataTypeError, match="Plain Keras models"):
        ktrain.get_learner(object(), train_data=(np.zeros((2, 3)), np.zeros(2)))
    with pytest.raises(DataTypeError, match="tuple of arrays"):
        ktrain.get_learner(learner.model, train_data=(np.zeros((2, 3)), np.zeros(2)))
    with pytest.raises(AttributeError, match="transformer text models only"):
        ktrain.vision  # noqa: B018


def test_print_functions_list_ktrains_names(capsys):
    txt.print_text_classifiers()
    txt.print_text_regression_models()
    txt.print_sequence_taggers()
    out = capsys.readouterr().out
    assert "distilbert: " in out and "nbsvm: " in out and "linreg: " in out and "bilstm-transformer" in out
    assert "nbsvm: NBSVM model [http://www.aclweb.org/anthology/P12-2018]  [not in easytx" in out


def test_checkpoints_are_named_and_loaded_as_in_ktrain(tiny_bert, small_data, tmp_path):
    train, test = small_data
    trn, val, preproc = txt.texts_from_array(
        train.texts, train.labels, test.texts, test.labels, None,
        preprocess_mode="distilbert", maxlen=24, verbose=0, model=tiny_bert,
    )  # fmt: skip
    set_random_seed(0)
    model = txt.text_classifier("distilbert", train_data=trn, preproc=preproc, verbose=0)
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=32)
    hist = learner.fit_onecycle(1e-3, 2, checkpoint_folder=str(tmp_path / "ckpt"), verbose=0)
    # ktrain's ModelCheckpoint names: weights-{epoch:02d}-{val_loss:.2f}.hdf5 with validation data
    names = [f"weights-{e + 1:02d}-{loss:.2f}.hdf5" for e, loss in enumerate(hist.history["val_loss"])]
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("*.hdf5")) == names
    assert not list((tmp_path / "ckpt").glob("weights-*.h5"))  # one weights file per epoch
    after = learner.predict()
    # what a ktrain script does with them: recreate the model, model.load_weights(file)
    set_random_seed(1)
    fresh = txt.text_classifier("distilbert", train_data=trn, preproc=preproc, verbose=0)
    fresh.load_weights(str(tmp_path / "ckpt" / names[-1]))
    learner.model.load_weights(str(tmp_path / "ckpt" / names[0]))
    assert not np.allclose(learner.predict(), after, atol=1e-6)
    learner.set_model(fresh)
    np.testing.assert_allclose(learner.predict(), after, atol=1e-5)
    with pytest.raises(easytx.errors.ArtifactError, match=r"learner\.model\.load_weights"):
        learner.load_model(tmp_path / "ckpt" / names[0])
    # easytx's resume reads the ktrain-named files (progress.json names them): back to epoch 1
    progress = json.loads((tmp_path / "ckpt" / "progress.json").read_text())
    assert progress["weights"] == names[-1] and progress["weights_files"] == {"1": names[0], "2": names[1]}
    progress.update(epoch=1, weights=names[0], schedule_step=learner.steps_per_epoch)
    (tmp_path / "ckpt" / "progress.json").write_text(json.dumps(progress))
    hist = learner.fit_onecycle(1e-3, 2, checkpoint_folder=str(tmp_path / "ckpt"), resume=True, verbose=0)
    assert len(hist.history["val_loss"]) == 1
    # without validation data: weights-{epoch:02d}.hdf5
    learner = ktrain.get_learner(fresh, train_data=trn, batch_size=32)
    learner.fit(1e-4, 1, checkpoint_folder=tmp_path / "no_val", verbose=0)
    assert [p.name for p in (tmp_path / "no_val").glob("*.hdf5")] == ["weights-01.hdf5"]


def test_fit_early_stopping_needs_validation_data(tiny_bert, small_data):
    train, _ = small_data
    t = easytx.text.Transformer(tiny_bert, maxlen=32)
    trn = t.preprocess_train(train)
    learner = easytx.get_learner(t.get_classifier(seed=0), trn, batch_size=16)
    with pytest.raises(ConfigError, match="val_data"):
        learner.fit(1e-3, 2, early_stopping=1)
