"""Acceptance tests of the multi-label, regression and sentence-pair tasks on the real
all-MiniLM-L6-v2 and real data (``../shared/data``).

Marked ``slow``: each fine-tunes for real on small subsets (maxlen 64, batch 32, one epoch) within
a CI budget of about 2.5 minutes on 2 busy CPU cores. The floors were measured with

    PYTHONPATH=$PWD python -m pytest -q -s -m slow tests/test_tasks_minilm.py

(the ``-s`` output prints each metric and the training time); see each test for the figures and
docs/multilabel.md, docs/regression.md, docs/pairs.md for the notes.
"""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import numpy as np
import pytest

import easytx
from easytx import text

pytestmark = pytest.mark.slow

MAXLEN, BATCH = 64, 32


def _goemotions(path: Path, names: list[str]) -> tuple[list[str], list[list[str]]]:
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row[0])
            labels.append([names[int(i)] for i in row[1].split(",")])
    return texts, labels


def _sst2(path: Path) -> tuple[list[str], list[float]]:
    texts, targets = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, sentence = line.split(" ", 1)
        texts.append(sentence)
        targets.append(float(label))
    return texts, targets


def _trec(path: Path) -> tuple[list[str], list[str]]:
    questions, coarse = [], []
    for line in path.read_text(encoding="latin-1").splitlines():
        label, question = line.split(" ", 1)
        questions.append(question)
        coarse.append(label.split(":")[0])
    return questions, coarse


#: what each TREC coarse class asks for, in words (text_b of the pair task)
ANSWER_TYPES = {
    "ABBR": "an abbreviation or its expansion",
    "DESC": "a description, definition, manner or reason",
    "ENTY": "an entity such as a thing, animal, colour or product",
    "HUM": "a person, a group of people or an organisation",
    "LOC": "a location such as a city, country or place",
    "NUM": "a number, date, count, distance or amount",
}


def trec_pairs(path: Path, n: int, *, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    """``n`` pairs (question, answer type in words): "yes" when the question asks for that
    type (its TREC coarse class), "no" for another type; half of each."""
    questions, coarse = _trec(path)
    rng = random.Random(seed)
    pairs, labels = [], []
    for k in range(n):
        i = rng.randrange(len(questions))
        kind = coarse[i] if k % 2 == 0 else rng.choice([c for c in ANSWER_TYPES if c != coarse[i]])
        pairs.append((questions[i], f"The answer is {ANSWER_TYPES[kind]}."))
        labels.append("yes" if kind == coarse[i] else "no")
    return pairs, labels


def _train(t, trn, val, lr: float) -> tuple[easytx.Learner, float]:
    learner = easytx.get_learner(
        t.get_classifier(seed=0), train_data=trn, val_data=val, batch_size=BATCH, seed=0
    )
    start = time.perf_counter()
    learner.fit_onecycle(lr, 1, verbose=0)
    return learner, time.perf_counter() - start


def test_goemotions_multilabel_macro_f1(real_model_path, shared_data):
    folder = shared_data / "goemotions_ekman"
    names = (folder / "labels.txt").read_text(encoding="utf-8").split()
    x_train, y_train = _goemotions(folder / "train.tsv", names)
    x_dev, y_dev = _goemotions(folder / "dev.tsv", names)
    x_test, y_test = _goemotions(folder / "test.tsv", names)
    n_train = 2000
    t = text.Transformer(real_model_path, maxlen=MAXLEN, class_names=names)
    trn = t.preprocess_train(x_train[:n_train], y_train[:n_train])
    assert t.task.name == "multilabel"  # inferred from the lists of names
    val = t.preprocess_test(x_dev[:500], y_dev[:500])
    learner, seconds = _train(t, trn, None, 3e-4)  # no validation pass during the epoch
    assert learner.model.loss.name == "binary_crossentropy"
    predictor = easytx.get_predictor(learner.model, t)
    test = t.preprocess_test(x_test[:1000], y_test[:1000])
    proba = predictor.predict_proba(x_test[:1000])
    before = t.task.scores(test.y, proba)
    thresholds = learner.tune_thresholds(val)
    after = t.task.scores(test.y, proba)
    print(
        f"\nGoEmotions-Ekman test[:1000] macro-F1 {before['macro_f1']:.4f} at 0.5, "
        f"{after['macro_f1']:.4f} with thresholds tuned on dev[:500] {thresholds}; "
        f"micro-F1 {after['micro_f1']:.4f}; {n_train} rows x 1 epoch in {seconds:.1f} s"
    )
    # Measured 2026-11-30 (2 cores shared with 3 other sessions, load ~6-8): macro-F1 0.189 at
    # 0.5 and 0.334 with tuned thresholds (micro-F1 0.54); training 317.7 s under that load (about
    # 70 s at the ~30 examples/s of an idle 2-core machine). 2,000 of the 43,410 training
    # comments for one epoch (63 steps) leave the rare labels (disgust, fear: ~30 examples each)
    # barely learned, hence far below BERT-base's 0.64 on the full set. Floor 0.28: the measured
    # figure less a margin for run-to-run variation across machines.
    assert after["macro_f1"] >= 0.28
    assert after["macro_f1"] >= before["macro_f1"] - 0.02


def test_sst2_regression_mae_beats_the_constant_predictor(real_model_path, shared_data):
    x_train, y_train = _sst2(shared_data / "sst2_sentences" / "stsa.binary.train")
    x_dev, y_dev = _sst2(shared_data / "sst2_sentences" / "stsa.binary.dev")
    n_train = 1500
    t = text.Transformer(real_model_path, maxlen=MAXLEN, task="regression", scale_targets=True)
    trn = t.preprocess_train(x_train[:n_train], y_train[:n_train])
    learner, seconds = _train(t, trn, None, 2e-4)
    predictor = easytx.get_predictor(learner.model, t)
    predictions = predictor.predict(x_dev)
    assert all(isinstance(v, float) for v in predictions)
    mae = float(np.mean(np.abs(np.asarray(predictions) - np.asarray(y_dev))))
    constant = float(np.mean(np.abs(np.mean(y_train[:n_train]) - np.asarray(y_dev))))
    print(
        f"\nSST-2 as 0/1 regression: dev MAE {mae:.4f} vs constant predictor {constant:.4f} "
        f"(ratio {mae / constant:.3f}); {n_train} rows x 1 epoch in {seconds:.1f} s"
    )
    # Measured 2026-11-30 (2 cores shared with 3 other sessions, load ~6-8): dev MAE 0.2735 vs
    # 0.4996 for the constant predictor (ratio 0.547); training 289.6 s under that load (about
    # 50 s at the ~30 examples/s an idle 2-core machine gives). Floor: ratio 0.75.
    assert mae <= 0.75 * constant


def test_trec_question_answer_type_pairs_accuracy(real_model_path, shared_data):
    folder = shared_data / "trec"
    x_train, y_train = trec_pairs(folder / "TREC.train", 2000, seed=0)
    x_test, y_test = trec_pairs(folder / "TREC.test", 500, seed=1)
    t = text.Transformer(real_model_path, maxlen=MAXLEN)
    trn = t.preprocess_train(x_train, y_train)
    assert t.pairs_ and "token_type_ids" in trn.x
    assert {int(v) for v in trn.x["token_type_ids"][0]} == {0, 1}  # segment A and B
    learner, seconds = _train(t, trn, None, 2e-4)
    predictor = easytx.get_predictor(learner.model, t)
    accuracy = float(np.mean(np.asarray(predictor.predict(x_test)) == np.asarray(y_test)))
    print(
        f"\nTREC (question, answer type) pairs: test accuracy {accuracy:.4f} (chance 0.5); "
        f"{len(x_train)} pairs x 1 epoch in {seconds:.1f} s"
    )
    # Measured 2026-11-30 (2 cores shared with 3 other sessions, load ~6-8): test accuracy 0.752
    # (chance 0.5); training 215.9 s under that load (about 70 s at the ~30 examples/s of an idle
    # 2-core machine). The harder "same coarse class?" pairing reached only 0.54 in one epoch.
    # Floor 0.65: clearly above chance, with a margin below the measured figure.
    assert accuracy >= 0.65
