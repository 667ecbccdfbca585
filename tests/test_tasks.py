"""Tasks behind one seam: multi-label, regression and sentence pairs on tiny offline models.

The label encoders and task maths are tested without a model; each task is then trained on a
tiny BERT (seconds), validated, saved and reloaded in a fresh process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import easytx
from easytx import tasks, text
from easytx.errors import ArtifactError, ConfigError, DataError, EasytxError
from easytx.labels import MultiLabels, RegressionTargets, infer_task, label_encoder_from_dict
from easytx.testing import TINY_HEAD_LR, multilabel_dataset, pair_dataset, regression_dataset

# ---------------------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "labels",
    [
        [["joy", "surprise"], [], ["anger"]],
        ["joy;surprise", "", "anger"],
        ["joy, surprise", "", "anger"],
        [("surprise", "joy"), set(), ["anger", "anger"]],
    ],
)
def test_multilabels_accept_lists_and_joined_strings(labels):
    enc = MultiLabels().fit(labels)
    assert enc.classes_ == ["anger", "joy", "surprise"]
    assert enc.transform(labels).tolist() == [[0, 1, 1], [0, 0, 0], [1, 0, 0]]
    assert enc.inverse_transform(enc.transform(labels)) == [["joy", "surprise"], [], ["anger"]]


def test_multilabels_multi_hot_rows_with_and_without_names():
    rows = np.array([[1, 0, 1], [0, 0, 0]])
    assert MultiLabels().fit(rows).classes_ == [0, 1, 2]
    enc = MultiLabels(["a", "b", "c"]).fit(rows)
    assert enc.inverse_transform([[True, True, False]]) == [["a", "b"]]
    assert enc.transform([[0, 1, 0]]).dtype == np.float32
    with pytest.raises(DataError, match="3 columns but class_names has 2"):
        MultiLabels(["a", "b"]).fit(rows)


def test_multilabels_json_round_trip_keeps_the_separator():
    enc = MultiLabels().fit(["a;b", "b"])
    back = label_encoder_from_dict(json.loads(json.dumps(enc.to_dict())))
    assert back.transform(["b;a", ""]).tolist() == [[1, 1], [0, 0]]


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([["a"], None], r"position 1 is missing.*empty list"),
        ([["a"], 3.5], r"received float 3.5 at position 1"),
        ([[0, 1], ["a"]], "mix multi-hot rows"),
        (np.array([[0, 2], [1, 0]]), r"only 0 and 1"),
        ([[], []], "No text has any label"),
        ([["a", 1.5]], "must be strings"),
        (np.zeros((2, 2, 2)), "2-D multi-hot"),
    ],
)
def test_multilabels_bad_input_says_what_and_how(labels, match):
    with pytest.raises(DataError, match=match):
        MultiLabels().fit(labels)


def test_multilabels_unknown_label_and_width_at_transform():
    enc = MultiLabels().fit([["a"], ["b"]])
    with pytest.raises(DataError, match=r"'zzz' of text 1 was never seen in training"):
        enc.transform([["a"], ["zzz"]])
    with pytest.raises(DataError, match="3 columns; this model has 2 labels"):
        enc.transform(np.ones((1, 3)))


def test_regression_targets_scale_and_unscale():
    enc = RegressionTargets(scale=True).fit([1.0, 2.0, 3.0])
    assert np.allclose(enc.transform([1.0, 3.0]).ravel(), [-1.2247449, 1.2247449])
    assert np.allclose(enc.unscale(enc.transform([1.5, 2.5])).ravel(), [1.5, 2.5])
    assert enc.inverse_transform([[0.0]]) == [2.0]
    plain = RegressionTargets().fit([[1, 2], [3, 4]])
    assert plain.classes_ == ["target_0", "target_1"] and plain.n_outputs == 2
    assert plain.transform([[1, 2]]).tolist() == [[1.0, 2.0]]
    back = label_encoder_from_dict(json.loads(json.dumps(enc.to_dict())))
    assert back.mean_ == enc.mean_ and back.std_ == enc.std_


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([1.0, "high"], r"must be numbers; received str 'high' at position 1"),
        ([1.0, float("nan")], r"missing or infinite value\(s\), first at position 1"),
        ([[1.0, 2.0], [1.0]], "same number of values"),
        ([True, False], "must be numbers; received bool"),
    ],
)
def test_regression_targets_bad_input(values, match):
    with pytest.raises(DataError, match=match):
        RegressionTargets().fit(values)


def test_regression_targets_wrong_width_at_transform():
    enc = RegressionTargets().fit([[1.0, 2.0]])
    with pytest.raises(DataError, match="1 value.* this model predicts 2"):
        enc.transform([1.0])


def test_infer_task_only_from_unambiguous_shapes():
    assert infer_task([["joy"], []]) == "multilabel"
    assert infer_task(np.array([[1, 1, 0], [0, 1, 0]])) == "multilabel"
    assert infer_task(np.array([[0, 1], [1, 0]])) == "classification"  # one-hot
    assert infer_task(["a", "b"]) == "classification"
    assert infer_task([0.25, 0.5]) == "classification"  # never regression by guess


def test_single_label_errors_point_to_the_right_task():
    from easytx.labels import ClassLabels

    with pytest.raises(DataError, match="look continuous.*task='regression'"):
        ClassLabels().fit([0.25, 0.5, 1.0])
    with pytest.raises(DataError, match="multilabel=True"):
        ClassLabels().fit([["a"], ["a", "b"]])
    with pytest.raises(DataError, match="Some labels are lists"):
        ClassLabels().fit(["a", ["b"]])


# ---------------------------------------------------------------------------------------- tasks


def test_multilabel_task_maths():
    task = tasks.MultiLabel()
    logits = np.array([[3.0, -3.0], [0.0, 4.0]])
    proba = task.probabilities(logits)
    assert np.allclose(proba, 1 / (1 + np.exp(-logits)))
    assert not np.allclose(proba.sum(axis=1), 1.0)
    enc = MultiLabels().fit([["a"], ["b"]])
    assert task.decode(proba, enc) == [["a"], ["b"]]  # 0.5 is not above 0.5
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = -(np.log(proba) * y + np.log(1 - proba) * (1 - y)).mean(axis=1)
    assert np.allclose(task.per_example_loss(y, logits), expected)
    scores = task.scores(y, proba)
    assert scores["micro_f1"] == 1.0 and scores["subset_accuracy"] == 1.0
    text_report, matrix = task.report(y, proba, enc)
    assert "a" in text_report and "micro avg" in text_report and matrix.shape == (2, 2, 2)


def test_tune_thresholds_maximises_each_labels_f1():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(200, 2))
    # label 0 separates at 0.3, label 1 at 0.7
    proba = np.where(y == 1, [0.35, 0.75], [0.25, 0.65]) + rng.uniform(-0.04, 0.04, size=y.shape)
    task = tasks.MultiLabel()
    assert task.scores(y, proba)["macro_f1"] < 0.9
    thresholds = task.tune_thresholds(y, proba)
    assert 0.25 < thresholds[0] < 0.35 and 0.65 < thresholds[1] < 0.75
    assert task.scores(y, proba)["macro_f1"] == 1.0
    assert task.get_config() == {"thresholds": thresholds}
    with pytest.raises(DataError, match="same shape"):
        task.tune_thresholds(y, proba[:, :1])


@pytest.mark.parametrize("bad", [0.0, 1.0, [0.5, 2], "high", True])
def test_thresholds_are_checked(bad):
    with pytest.raises(ConfigError, match="thresholds"):
        tasks.MultiLabel(thresholds=bad)


def test_regression_task_maths():
    task = tasks.Regression()
    enc = RegressionTargets(scale=True).fit([0.0, 10.0])
    y = enc.transform([0.0, 10.0])
    values = task.probabilities(np.array([[-1.0], [1.0]]), labels=enc)
    assert np.allclose(values.ravel(), [0.0, 10.0])
    assert task.decode(values, enc) == [0.0, 10.0]
    assert task.scores(y, values, enc) == {"mae": 0.0, "rmse": 0.0}
    assert np.allclose(task.per_example_loss(y, np.array([[0.0], [1.0]])), [1.0, 0.0])
    report, matrix = task.report(y, values + 1.0, enc)
    assert matrix is None and "1.0000" in report


def test_task_registry_and_configuration():
    assert tasks.make_task("multi-label").name == "multilabel"
    assert tasks.task_from_name("multilabel", {"thresholds": [0.2, 0.4]}).thresholds == [0.2, 0.4]
    with pytest.raises(ConfigError, match="Unknown task 'tagging'"):
        tasks.make_task("tagging")
    with pytest.raises(ArtifactError, match="Unknown task"):
        tasks.task_from_name("nope")
    with pytest.raises(ArtifactError, match="configuration of the 'multilabel' task is invalid"):
        tasks.task_from_name("multilabel", {"thresholds": 7})


# ---------------------------------------------------------------------------------------- preprocessor


def test_task_selection_on_the_transformer(tiny_bert):
    x, y = multilabel_dataset(40)
    t = text.Transformer(tiny_bert, maxlen=16)
    trn = t.preprocess_train(x, y)
    assert t.task.name == "multilabel" and trn.y.shape == (40, 2)
    with pytest.raises(ConfigError, match="multilabel=False does not match|does not match the task"):
        t.get_classifier(multilabel=False)
    with pytest.raises(DataError, match="multilabel=False was passed"):
        text.Transformer(tiny_bert, maxlen=16, multilabel=False).preprocess_train(x, y)
    with pytest.raises(ConfigError, match="contradicts"):
        text.Transformer(tiny_bert, task="regression", multilabel=True)
    with pytest.raises(DataError, match="task='regression'"):
        text.Transformer(tiny_bert, maxlen=16).preprocess_train(["a b", "c d"], [0.3, 0.7])
    r = text.Transformer(tiny_bert, maxlen=16, task="regression")
    assert r.preprocess_train(["a b", "c d"], [0.3, 0.7]).y.dtype == np.float32
    with pytest.raises(ConfigError, match="get_regression_model\\(\\) needs a regression"):
        t.get_regression_model()


def test_texts_from_df_one_column_per_label_is_multilabel(tiny_bert):
    frame = pd.DataFrame(
        {"text": [f"text number {i}" for i in range(20)], "a": [1, 0] * 10, "b": [1, 1, 0, 0] * 5}
    )
    trn, val, t = text.texts_from_df(frame, "text", ["a", "b"], model=tiny_bert, maxlen=16, random_state=0)
    assert t.task.name == "multilabel" and t.get_classes() == ["a", "b"]
    assert trn.y.shape[1] == 2 and len(val) == 2
    with pytest.raises(DataError, match="multilabel=False was passed"):
        text.texts_from_df(frame, "text", ["a", "b"], model=tiny_bert, multilabel=False)


def test_texts_from_df_pairs_and_regression_columns(tiny_bert):
    frame = pd.DataFrame(
        {
            "q1": [f"first {i}" for i in range(20)],
            "q2": [f"second {i}" for i in range(20)],
            "score": np.linspace(0, 1, 20),
            "other": np.linspace(5, 6, 20),
        }
    )
    trn, _, t = text.texts_from_df(
        frame, ["q1", "q2"], ["score", "other"], model=tiny_bert, maxlen=16, is_regression=True
    )
    assert t.task.name == "regression" and t.pairs_ and t.get_classes() == ["score", "other"]
    assert all(isinstance(p, tuple) and p[0].startswith("first") for p in trn.texts)
    assert set(trn.x["token_type_ids"][0].tolist()) == {0, 1}
    with pytest.raises(ConfigError, match="one column name, or two"):
        text.texts_from_df(frame, ["q1", "q2", "score"], "score", model=tiny_bert)


# ---------------------------------------------------------------------------------------- training


def _fresh_process(folder, items, tmp_path) -> dict:
    """predict and predict_proba of a predictor loaded in a new Python process."""
    (tmp_path / "items.json").write_text(json.dumps(items))
    code = (
        "import json, easytx\n"
        f"p = easytx.load_predictor({str(folder)!r})\n"
        f"raw = json.load(open({str(tmp_path / 'items.json')!r}))\n"
        "items = [tuple(i) if isinstance(i, list) else i for i in raw]\n"
        "out = {'predict': p.predict(items), 'proba': p.predict_proba(items).tolist(),\n"
        "       'task': p.task.name, 'config': p.task.get_config()}\n"
        f"json.dump(out, open({str(tmp_path / 'out.json')!r}, 'w'))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


@pytest.fixture(scope="module")
def multilabel_trained(tiny_bert):
    x, y = multilabel_dataset(900, seed=0)
    t = text.Transformer(tiny_bert, maxlen=32)
    trn = t.preprocess_train(x[:720], y[:720])
    val = t.preprocess_test(x[720:], y[720:])
    # One seed, no retries. Seeded weights make the run the same in any process on one machine, but
    # not across CPUs (CI's kernels round differently), so the recipe must learn from any start:
    # at lr 2e-3, batch 8, 12 epochs, seeds 0-11 on both backends all reached val macro-F1 1.0 by
    # epoch 6 and predicted [] for the "neither" texts (2026-12-06,
    # benchmarks/fixture_seeds.py). At 1e-3 one Keras 3 seed in twelve stayed at 0.83 (neg predicted for
    # every non-positive text) to the end, and CI met such a start.
    learner = easytx.get_learner(
        t.get_classifier(seed=0), trn, val, batch_size=8, seed=0, head_lr_multiplier=TINY_HEAD_LR
    )
    learner.fit_onecycle(2e-3, 12, verbose=0)
    return learner, t, (x[720:], y[720:])


@pytest.mark.integration
def test_multilabel_trains_predicts_lists_and_reports_per_label(multilabel_trained, capsys):
    learner, t, (x_val, y_val) = multilabel_trained
    assert learner.model.loss.name == "binary_crossentropy"  # lr_find and fit kept the task's loss
    assert {"macro_f1", "val_macro_f1", "val_micro_f1"} <= set(learner.history.history)
    # tiny models' results move with the process's TF op history; 0.8 is well above chance (~0.45)
    assert learner.history.history["val_macro_f1"][-1] >= 0.8
    matrix = learner.validate()
    report = capsys.readouterr().out
    assert "neg" in report and "pos" in report and "macro avg" in report
    assert matrix.shape == (2, 2, 2)
    predictor = easytx.get_predictor(learner.model, t)
    # fit tuned the thresholds on the validation data; the predictor decides with them
    assert predictor.task.thresholds == list(learner.thresholds_report_["thresholds"].values())
    predicted = predictor.predict(x_val)
    assert [] in predicted and ["pos"] in predicted and ["neg"] in predicted
    assert np.mean([sorted(p) == sorted(y) for p, y in zip(predicted, y_val)]) >= 0.8
    proba = predictor.predict_proba(x_val)
    assert proba.shape == (len(x_val), 2) and not np.allclose(proba.sum(axis=1), 1.0)
    predictor.task.thresholds = 1e-6  # every label above its threshold: several labels per text
    assert predictor.predict(x_val[:3]) == [["neg", "pos"]] * 3
    predictor.task.thresholds = None
    rows = learner.view_top_losses(n=2)
    assert isinstance(rows[0][2], list) and isinstance(rows[0][3], list)
    learner.lr_find(num_steps=8, verbose=0)  # recompiles nothing away: same loss, metrics, weights
    assert learner.model.loss.name == "binary_crossentropy"
    val_batches = learner.val_data.to_tfdataset(16, shuffle=False)
    scores = learner.model.evaluate(val_batches, return_dict=True, verbose=0)
    assert {"micro_f1", "macro_f1"} <= set(scores)  # (Keras 3 lists them inside "compile_metrics")
    np.testing.assert_allclose(predictor.predict_proba(x_val), proba, atol=1e-6)


def test_cli_and_predict_file_write_multilabel_answers_as_json_lists(multilabel_trained, tmp_path):
    from easytx.cli import main

    learner, t, (x_val, _) = multilabel_trained
    predictor = easytx.get_predictor(learner.model, t)
    folder = predictor.save(tmp_path / "ml")
    texts = x_val[:6]
    expected = predictor.predict(texts)
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(["predict", str(folder), str(tmp_path / "in.csv"), "-o", str(tmp_path / "cli.csv"), "-q"]) == 0
    )
    predictor.predict_file(tmp_path / "in.csv", tmp_path / "api.csv", return_proba=False)
    for name in ("cli.csv", "api.csv"):
        cells = pd.read_csv(tmp_path / name)["prediction"].tolist()
        assert [json.loads(c) for c in cells] == expected  # JSON lists, never a Python repr
    lines = tmp_path / "labels.txt"
    assert (
        main(
            [
                "predict",
                str(folder),
                str(tmp_path / "in.csv"),
                "-o",
                str(lines),
                "--output-format",
                "labels",
                "-q",
            ]
        )
        == 0
    )
    assert [json.loads(line) for line in lines.read_text().splitlines()] == expected


@pytest.mark.integration
def test_fit_tunes_multilabel_thresholds_unless_told_not_to(tiny_bert, caplog, capsys):
    x, y = multilabel_dataset(96, seed=3)
    t = text.Transformer(tiny_bert, maxlen=24)
    trn, val = t.preprocess_train(x[:64], y[:64]), t.preprocess_test(x[64:], y[64:])
    learner = easytx.get_learner(
        t.get_classifier(seed=0), trn, val, batch_size=16, seed=0, head_lr_multiplier=TINY_HEAD_LR
    )
    learner.fit_onecycle(1e-3, 1, verbose=0, tune_thresholds=False)
    assert t.task.thresholds is None and learner.thresholds_report_ is None
    with caplog.at_level(logging.INFO, logger="easytx.learner"):
        learner.fit(1e-3, 1, verbose=0)
    report = learner.thresholds_report_
    assert set(report["thresholds"]) == {"neg", "pos"}
    assert t.task.thresholds == list(report["thresholds"].values())
    # each label's threshold maximises its F1, and 0.5 is on the grid: macro-F1 cannot fall
    assert report["after"]["macro_f1"] >= report["before"]["macro_f1"]
    assert "Per-label thresholds tuned on the validation data (32 rows)" in caplog.text
    learner.autofit(1e-3, 1, verbose=1)
    assert "Per-label thresholds tuned" in capsys.readouterr().out


@pytest.mark.integration
def test_multilabel_thresholds_are_tuned_saved_and_reloaded(multilabel_trained, tmp_path):
    learner, t, (x_val, y_val) = multilabel_trained
    predictor = easytx.get_predictor(learner.model, t)
    thresholds = learner.tune_thresholds()
    assert predictor.task.thresholds == thresholds  # one task object shared by learner and predictor
    predictor.task.thresholds = [0.3, 0.7]
    folder = predictor.save(tmp_path / "ml")
    manifest = json.loads((folder / "easytx.json").read_text())
    assert manifest["task"] == "multilabel"
    assert manifest["preprocessing"]["task_config"] == {"thresholds": [0.3, 0.7]}
    out = _fresh_process(folder, x_val[:12], tmp_path)
    assert out["task"] == "multilabel" and out["config"] == {"thresholds": [0.3, 0.7]}
    assert out["predict"] == predictor.predict(x_val[:12])
    np.testing.assert_allclose(out["proba"], predictor.predict_proba(x_val[:12]), atol=1e-5)
    loaded = easytx.load_predictor(folder)
    assert loaded.tune_thresholds(x_val, y_val) == loaded.task.thresholds
    with pytest.raises(DataError, match="never seen in training"):
        loaded.evaluate(x_val[:2], [["neg"], ["joy"]])


@pytest.mark.integration
def test_regression_trains_predicts_floats_and_survives_a_fresh_process(tiny_bert, tmp_path, capsys):
    x, y = regression_dataset(400, seed=0)
    t = text.Transformer(tiny_bert, maxlen=32, task="regression", scale_targets=True)
    trn = t.preprocess_train(x[:320], y[:320])
    val = t.preprocess_test(x[320:], y[320:])
    assert abs(float(trn.y.mean())) < 1e-5  # standardised for training
    constant = np.mean(np.abs(np.mean(y[:320]) - np.asarray(y[320:])))
    # lr 2e-3: at 5e-3 one seed of three stalled at the constant predictor (MAE ratio 1.00, Keras 3
    # backend); at 2e-3, three seeds on each backend gave MAE ratios 0.43-0.59
    learner = easytx.get_learner(
        t.get_regression_model(seed=0), trn, val, batch_size=16, seed=0, head_lr_multiplier=TINY_HEAD_LR
    )
    learner.fit_onecycle(2e-3, 6, verbose=0)
    predictor = easytx.get_predictor(learner.model, t)
    predicted = predictor.predict(x[320:])
    mae = np.mean(np.abs(np.asarray(predicted) - np.asarray(y[320:])))
    assert {"mae", "rmse", "val_mae"} <= set(learner.history.history)
    learner.validate()
    assert "MAE" in capsys.readouterr().out
    assert all(isinstance(v, float) for v in predicted)
    assert mae < 0.75 * constant  # in the targets' units: scaling undone (measured 0.44-0.65)
    assert predictor.evaluate(x[320:], y[320:], print_report=False)["mae"] == pytest.approx(mae)
    with pytest.raises(ConfigError, match="class_weight is not supported"):
        learner.fit_onecycle(1e-3, 1, class_weight="balanced", verbose=0)
    with pytest.raises(EasytxError, match="applies to multi-label"):
        predictor.tune_thresholds(x[:4], y[:4])
    folder = predictor.save(tmp_path / "reg")
    labels = json.loads((folder / "easytx.json").read_text())["preprocessing"]["labels"]
    assert labels["kind"] == "regression" and labels["scale"] is True
    out = _fresh_process(folder, x[320:332], tmp_path)
    assert out["task"] == "regression"
    np.testing.assert_allclose(out["predict"], predicted[:12], atol=1e-4)


@pytest.mark.integration
def test_sentence_pairs_train_save_and_reload(tiny_bert, tmp_path):
    x, y = pair_dataset(600, seed=0)
    t = text.Transformer(tiny_bert, maxlen=64)
    trn = t.preprocess_train(x[:480], y[:480])
    val = t.preprocess_test(x[480:], y[480:])
    ids = trn.x["token_type_ids"][0]
    assert ids[0] == 0 and ids[-1] == 1  # segment A then segment B
    learner = easytx.get_learner(
        t.get_classifier(seed=0), trn, val, batch_size=16, seed=0, head_lr_multiplier=TINY_HEAD_LR
    )
    learner.fit_onecycle(5e-3, 4, verbose=0)
    predictor = easytx.get_predictor(learner.model, t)
    accuracy = np.mean(np.asarray(predictor.predict(x[480:])) == np.asarray(y[480:]))
    assert accuracy >= 0.8  # the label follows text_b (text_a is a neutral phrase)
    assert predictor.predict(x[480]) in ("neg", "pos")  # one pair -> one label
    with pytest.raises(DataError, match="trained on sentence pairs; input item 0 is a single text"):
        predictor.predict(["just one text"])
    folder = predictor.save(tmp_path / "pairs")
    assert json.loads((folder / "easytx.json").read_text())["preprocessing"]["pairs"] is True
    out = _fresh_process(folder, [list(p) for p in x[480:492]], tmp_path)
    assert out["predict"] == predictor.predict(x[480:492])
    np.testing.assert_allclose(out["proba"], predictor.predict_proba(x[480:492]), atol=1e-5)


def test_single_text_model_warns_once_about_pairs(trained, caplog):
    learner, t, _ = trained
    predictor = easytx.get_predictor(learner.model, t)
    t._warned_pairs = False  # the session-wide fixture may have warned in another test
    with caplog.at_level("WARNING", logger="easytx.preprocess"):
        assert predictor.predict_proba([("a", "b")]).shape == (1, 2)
        predictor.predict_proba([("c", "d")])
    assert sum("trained on single texts" in r.getMessage() for r in caplog.records) == 1
