import json
import subprocess
import sys

import numpy as np
import pytest

import easytx
from easytx import text
from easytx.errors import ArtifactError, DataTypeError, NotFittedError


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, preproc=t)


@pytest.fixture(scope="module")
def saved(predictor, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pred") / "my_predictor"
    predictor.save(folder)
    return folder


def test_predict_single_and_list(predictor):
    assert predictor.predict("the film was superb") == "pos"
    assert predictor.predict(["an awful plot", "a wonderful cast"]) == ["neg", "pos"]
    assert predictor.predict([]) == []
    assert predictor.get_classes() == ["neg", "pos"]


def test_predict_proba_rows_sum_to_one_and_order_is_kept(predictor, keyword_data):
    _, test = keyword_data
    texts = test.texts
    proba = predictor.predict_proba(texts)
    assert proba.shape == (len(texts), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # same answers one by one as in one sorted batch: the order is restored
    singles = np.stack([predictor.predict_proba(t) for t in texts[:10]])
    np.testing.assert_allclose(singles, proba[:10], atol=1e-5)
    accuracy = np.mean(np.array(predictor.predict(texts)) == np.array(test.labels))
    assert accuracy >= 0.9


def test_empty_and_long_texts_at_prediction(predictor):
    long = " ".join(["great"] * 5000)
    out = predictor.predict(["", long, "ok"])
    assert len(out) == 3


def test_prediction_input_errors(predictor):
    with pytest.raises(DataTypeError):
        predictor.predict(None)
    with pytest.raises(DataTypeError, match="position 1"):
        predictor.predict(["ok", 5])


def test_saved_folder_format(saved):
    meta = json.loads((saved / "easytx.json").read_text())
    assert meta["schema_version"] == 1
    assert set(meta["versions"]) >= {"easytx", "transformers", "tensorflow"}
    assert meta["task"] == "classification" and meta["classes"] == ["neg", "pos"]
    assert meta["preprocessing"]["maxlen"] > 0
    files = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()}
    assert files - {"easytx.json"} == set(meta["files"])
    assert "model/model.safetensors" in files and "model/config.json" in files
    assert any(f.startswith("tokenizer/") for f in files)
    assert not any(f.endswith((".pkl", ".pickle", ".bin")) for f in files)
    assert not list(saved.parent.glob(".my_predictor.tmp-*"))


def test_load_gives_identical_probabilities(predictor, saved, keyword_data):
    texts = keyword_data[1].texts
    loaded = easytx.load_predictor(saved)
    np.testing.assert_allclose(loaded.predict_proba(texts), predictor.predict_proba(texts), atol=1e-6)
    assert easytx.Predictor.load(saved).predict(texts[:3]) == predictor.predict(texts[:3])


@pytest.mark.integration
def test_load_in_a_fresh_process(predictor, saved, keyword_data, tmp_path):
    texts = keyword_data[1].texts[:20]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = (
        "import json, sys, numpy as np, easytx\n"
        f"p = easytx.load_predictor({str(saved)!r})\n"
        f"texts = json.load(open({str(tmp_path / 'texts.json')!r}))\n"
        f"np.save({str(tmp_path / 'proba.npy')!r}, p.predict_proba(texts))\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "proba.npy"), predictor.predict_proba(texts), atol=1e-5)


def test_resave_over_an_existing_predictor(predictor, tmp_path):
    folder = tmp_path / "p"
    predictor.save(folder)
    predictor.save(folder)
    assert easytx.load_predictor(folder).predict("superb") == "pos"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_tampered_or_damaged_folders_are_refused(saved, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved, bad)
    weights = bad / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model.safetensors does not match its checksum"):
        easytx.load_predictor(bad)

    newer = tmp_path / "newer"
    shutil.copytree(saved, newer)
    meta = json.loads((newer / "easytx.json").read_text())
    meta["schema_version"] = 99
    (newer / "easytx.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="schema 99.*Upgrade easytx"):
        easytx.load_predictor(newer)

    pickled = tmp_path / "pickled"
    shutil.copytree(saved, pickled)
    (pickled / "model" / "extra.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ArtifactError, match="can run code"):
        easytx.load_predictor(pickled)


def test_saved_folder_has_a_model_card(saved, tiny_bert):
    meta = json.loads((saved / "easytx.json").read_text())
    card = (saved / "README.md").read_text(encoding="utf-8")
    assert len(meta["files"]["README.md"]) == 64  # listed and checksummed like every file
    assert card.startswith(f"# my_predictor: classification fine-tuned from {tiny_bert}")
    assert "| classes | `neg`, `pos` (2) |" in card
    assert f"| maximum length | {meta['preprocessing']['maxlen']} tokens |" in card
    assert f"| backend | {meta['backend']} |" in card
    assert f"| tensorflow | {meta['versions']['tensorflow']} |" in card
    assert meta["saved_at"][:4] in card
    # the Learner's record of the fixture's training: learner.fit_onecycle(5e-3, 4) on 480 rows
    (record,) = meta["training"]
    assert record["method"] == "fit_onecycle" and record["options"]["lr"] == 5e-3
    assert record["train_rows"] == 480 and record["val_rows"] == 120 and record["kept_epoch"] == 4
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3, 4]
    assert "`learner.fit_onecycle`" in card and "| learning rate | 0.005 |" in card
    accuracy = record["validation"]["val_accuracy"]
    assert accuracy == record["epochs"][-1]["val_accuracy"] >= 0.9
    assert f"| val_accuracy | {accuracy:.4g} |" in card  # the validation metrics section
    assert card.count("(kept) |") == 1


def test_model_card_metrics_and_loading_checks(predictor, saved, tmp_path):
    import shutil

    loaded = easytx.load_predictor(saved)
    assert loaded.training == json.loads((saved / "easytx.json").read_text())["training"]
    # metrics the predictor holds (e.g. from easytx.finetune) head the card; a loaded predictor
    # saved again keeps its training record
    loaded.metrics = {"accuracy": 0.975, "macro_f1": 0.9749}
    again = loaded.save(tmp_path / "again")
    card = (again / "README.md").read_text(encoding="utf-8")
    assert "| accuracy | 0.975 |" in card and "| macro_f1 | 0.9749 |" in card
    assert "`learner.fit_onecycle`" in card

    edited = tmp_path / "edited"
    shutil.copytree(saved, edited)
    with open(edited / "README.md", "a", encoding="utf-8") as handle:
        handle.write("\nEdited by hand.\n")
    with pytest.raises(ArtifactError, match=r"README.md does not match its checksum"):
        easytx.load_predictor(edited)

    # a folder saved before model cards (no README.md, no training record) still loads
    older = tmp_path / "older"
    shutil.copytree(saved, older)
    (older / "README.md").unlink()
    meta = json.loads((older / "easytx.json").read_text())
    del meta["files"]["README.md"], meta["training"], meta["saved_at"]
    (older / "easytx.json").write_text(json.dumps(meta))
    old = easytx.load_predictor(older)
    assert old.training == [] and old.predict("the film was superb") == predictor.predict(
        "the film was superb"
    )


def test_not_a_predictor(tmp_path):
    with pytest.raises(ArtifactError, match="No predictor folder"):
        easytx.load_predictor(tmp_path / "missing")
    with pytest.raises(ArtifactError, match="not an easytx predictor"):
        easytx.load_predictor(tmp_path)
    (tmp_path / "tf_model.preproc").write_bytes(b"")
    with pytest.raises(ArtifactError, match="ktrain predictor"):
        easytx.load_predictor(tmp_path)


def test_predict_before_training_is_refused(tiny_bert):
    t = text.Transformer(tiny_bert)
    with pytest.raises(NotFittedError, match="preprocess_train"):
        easytx.get_predictor(object(), preproc=t)
