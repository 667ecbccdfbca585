"""ktrain's sequence tagging in ``easytx.ktrain``: loaders without a model, the BiLSTM tagger on
frozen transformer features (``sequence_tagger('bilstm-transformer', ...)``) and ktrain's NER
learner and predictor answers.

The end-to-end test follows ktrain's own ``tests/test_ner.py`` (its calls and checks), on a tiny
model and generated CoNLL sentences instead of roberta-base and CoNLL-2003.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import easytx
import easytx.ktrain as ktrain
from easytx import text as easytx_text
from easytx._keras import set_random_seed
from easytx.errors import ConfigError, DataError
from easytx.ktrain import text as txt
from easytx.testing import assert_same_entities, entity_dataset, write_conll

# ktrain: "There is a man named John Smith." (a pretrained model); here a sentence of the
# generated data's kind, which is what the tiny model knows
SENT = "Anna met Kofi Annan in Oslo on Monday ."


@pytest.fixture(scope="module")
def conll_train(tmp_path_factory):
    root = tmp_path_factory.mktemp("ktrain_ner")
    return write_conll(root / "train.txt", *entity_dataset(400, seed=0))


@pytest.mark.integration
def test_ktrain_test_ner_flow(conll_train, tiny_bert, tmp_path):
    """ktrain's test_ner: entities_from_txt(path) -> 'bilstm-transformer' -> fit(0.01) -> validate,
    top losses, weight decay, save/load model, predictor (tokens, merged entities, offsets)."""
    set_random_seed(0)  # ktrain splits (and initialises) at random; a seed makes this repeatable
    trn, val, preproc = txt.entities_from_txt(str(conll_train))
    assert len(val.x) == 40 and len(trn.x) == 360
    model = txt.sequence_tagger("bilstm-transformer", preproc, transformer_model=str(tiny_bert))
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=16)
    lr = 0.01
    hist = learner.fit(lr, 10, verbose=0)
    assert max(hist.history["lr"]) == pytest.approx(lr)
    assert learner.validate() > 0.79  # ktrain's floor

    obs = learner.top_losses(n=1)
    assert obs[0][0] in range(len(val.x))
    assert obs[0][2] == val.y[obs[0][0]]  # the true tags of that sentence
    learner.view_top_losses(n=1)

    assert learner.get_weight_decay() is None
    learner.set_weight_decay(1e-2)
    assert learner.get_weight_decay() == pytest.approx(1e-2)

    f1 = learner.validate(print_report=False)
    learner.save_model(tmp_path / "test_model")
    learner.load_model(tmp_path / "test_model")
    assert learner.validate(print_report=False) == pytest.approx(f1)

    p = ktrain.get_predictor(learner.model, preproc)
    assert p.predict(SENT)[3] == ("Annan", "I-PER")
    p.save(tmp_path / "test_predictor")
    p = ktrain.load_predictor(tmp_path / "test_predictor")
    assert p.predict(SENT)[3][1] == "I-PER"
    merged = p.predict(SENT, merge_tokens=True, return_offsets=True)
    assert merged == [("Anna", "PER", (0, 4)), ("Kofi Annan", "PER", (9, 19)), ("Oslo", "LOC", (23, 27))]
    custom = p.predict(SENT.replace(" .", "."), custom_tokenizer=lambda t: t.replace(".", " .").split())
    assert custom == p.predict(SENT)
    scored = p.predict([SENT], return_proba=True)[0]
    assert [r[:2] for r in scored] == p.predict(SENT) and all(0.0 < r[2] <= 1.0 for r in scored)


@pytest.mark.integration
def test_bilstm_tagger_trains_only_its_head_and_ignores_padding(tiny_bert):
    """The encoder stays frozen; the LSTM reads real tokens only, so a sentence batched with a
    longer one gets the same probabilities as alone."""
    x, y = entity_dataset(64, seed=2)
    trn, val, preproc = easytx_text.entities_from_array(x, y, model=tiny_bert, maxlen=48, random_state=0)
    model = easytx_text.sequence_tagger("bilstm-transformer", preproc, seed=0)
    encoder_before = [v.numpy().copy() for v in model.backbone.weights]
    head_before = [v.numpy().copy() for v in model.trainable_variables]
    assert len(head_before) == 11  # word embeddings + 2 x (kernel, recurrent kernel, bias) + fc + tags
    learner = easytx.get_learner(model, trn, val, batch_size=16, seed=0)
    learner.fit(0.01, 1, verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(encoder_before, model.backbone.weights))
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(head_before, model.trainable_variables))

    p = easytx.get_predictor(model, preproc)
    short, long_ = "Anna visited Oslo .", "Maria Lopez met Peter Blackburn in New York on Monday ."
    alone = p.predict_proba([short])
    batched = p.predict_proba([short, long_])
    np.testing.assert_allclose(np.asarray(batched[0])[: np.asarray(alone[0]).shape[0]], alone[0], atol=1e-5)


@pytest.mark.integration
def test_bilstm_tagger_saves_reloads_and_runs_on_onnx(tiny_bert, tmp_path):
    """The word vocabulary travels with the predictor; the ONNX graph takes word_index too."""
    pytest.importorskip("onnxruntime")
    x, y = entity_dataset(200, seed=0)
    trn, val, preproc = easytx_text.entities_from_array(
        x, y, model=tiny_bert, maxlen=48, random_state=0, verbose=0
    )
    model = easytx_text.sequence_tagger("bilstm-transformer", preproc, seed=0)
    easytx.get_learner(model, trn, val, batch_size=16, seed=0).fit(0.01, 3, verbose=0)
    texts = ["Anna met Kofi Annan in Oslo on Monday .", "Siemens opened an office in Zurich ."]
    p = easytx.get_predictor(model, preproc)
    expected, proba = p.predict(texts), p.predict_proba(texts)
    assert expected[0][1]["text"] == "Kofi Annan"  # trained far enough to find entities
    p.save(tmp_path / "tagger", onnx=True)
    saved = json.loads((tmp_path / "tagger" / "easytx.json").read_text())
    assert len(saved["preprocessing"]["word_vocab"]) == len({w.lower() for s in trn.words for w in s})
    for engine in ("tf", "onnx"):
        q = easytx.load_predictor(tmp_path / "tagger", engine=engine)
        assert_same_entities(q.predict(texts), expected, atol=1e-4)
        for a, b in zip(q.predict_proba(texts), proba):
            np.testing.assert_allclose(a, b, atol=1e-4)


def test_bilstm_head_round_trips_its_config_and_weights(tmp_path):
    from easytx.encoders import EncoderConfig
    from easytx.encoders.model import build_model
    from easytx.encoders.weights import from_pretrained, save_pretrained

    config = EncoderConfig.from_dict(
        {
            "model_type": "bert",
            "vocab_size": 40,
            "hidden_size": 8,
            "num_hidden_layers": 3,
            "num_attention_heads": 2,
            "intermediate_size": 16,
            "easytx_token_head": {
                "kind": "bilstm",
                "lstm_units": 4,
                "fc_dim": 6,
                "layers": [-2, -1],
                "word_vocab_size": 12,
                "word_embedding_dim": 3,
            },
        }
    ).with_labels(5)
    model = build_model(config, "token_classification")
    assert not model.backbone.trainable
    inputs = {"input_ids": np.array([[2, 7, 9, 3, 0]]), "attention_mask": np.array([[1, 1, 1, 1, 0]])}
    with pytest.raises(ConfigError, match="word_index"):
        model(inputs)
    inputs["word_index"] = np.array([[0, 5, 1, 0, 0]])  # two words: a known one, an unknown one
    logits = np.asarray(model(inputs))
    assert logits.shape == (1, 5, 5)
    save_pretrained(model, tmp_path)
    again = from_pretrained(tmp_path, head="token_classification")
    assert again.config.token_head == config.token_head
    np.testing.assert_array_equal(np.asarray(again(inputs)), logits)

    # the LSTM steps over words only: a word's id moved off a position changes the tags
    moved = {**inputs, "word_index": np.array([[0, 5, 0, 1, 0]])}
    assert not np.allclose(np.asarray(model(moved))[0, 3], logits[0, 3])

    # word_embedding_dim=0: no word embedding, ten head variables
    raw = {**config.raw, "easytx_token_head": {**config.token_head.to_dict(), "word_embedding_dim": 0}}
    bare = build_model(EncoderConfig.from_dict(raw).with_labels(5), "token_classification")
    assert bare.tagger_words is None and len(bare.trainable_variables) == 10
    assert np.asarray(bare(inputs)).shape == (1, 5, 5)


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"kind": "crf"}, "kind"),
        ({"kind": "bilstm", "layers": [9]}, "layers"),
        ({"kind": "bilstm", "lstm_units": 0}, "lstm_units"),
        ({"kind": "bilstm", "dropout": 1.5}, "dropout"),
        ({"kind": "bilstm", "units": 3}, "unknown key"),
    ],
)
def test_bad_token_head_configs_are_refused(spec, match):
    from easytx.encoders import EncoderConfig

    base = {"model_type": "bert", "vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 2}
    with pytest.raises(ConfigError, match=match):
        EncoderConfig.from_dict(
            {**base, "num_attention_heads": 2, "intermediate_size": 16, "easytx_token_head": spec}
        )


def test_bilstm_tagger_is_refused_on_the_transformers_backend(tiny_bert):
    x, y = entity_dataset(20, seed=0)
    _, _, preproc = easytx_text.entities_from_array(
        x, y, model=tiny_bert, maxlen=32, random_state=0, verbose=0
    )
    with pytest.raises(ConfigError, match="Keras 3 encoders.*'transformer'"):
        easytx_text.sequence_tagger("bilstm-transformer", preproc, backend="transformers")


@pytest.mark.parametrize("name", ["bilstm", "bilstm-crf", "bilstm-elmo", "bilstm-crf-elmo"])
def test_word_vector_taggers_point_to_the_transformer_ones(name):
    x, y = entity_dataset(20, seed=0)
    _, _, preproc = txt.entities_from_array(x, y, verbose=0)
    with pytest.raises(ConfigError, match="bilstm-transformer"):
        txt.sequence_tagger(name, preproc, verbose=0)


def test_ktrain_loaders_take_no_model_and_check_their_options(tiny_bert, tmp_path):
    x, y = entity_dataset(30, seed=0)
    trn, val, preproc = txt.entities_from_array(x[:20], y[:20], x[20:], y[20:], verbose=0)
    assert (len(trn.x), len(val.x), len(trn)) == (20, 10, 1)  # len() in batches of 32
    assert preproc.get_classes()[:2] == ["<pad>", "O"] and len(preproc.get_classes()) == 8  # ktrain's
    with pytest.raises(DataError, match="sequence_tagger"):
        trn.dataset  # noqa: B018 - not tokenized before a tagger picks the transformer
    with pytest.raises(ConfigError, match="use_char"):
        txt.entities_from_array(x, y, use_char=True, verbose=0)
    with pytest.raises(ConfigError, match="wv_path_or_url"):
        txt.sequence_tagger("bilstm-transformer", preproc, wv_path_or_url="cc.en.300.vec.gz", verbose=0)

    (ids,), onehot = trn[0]  # ktrain's view of a batch: word ids, one-hot tags
    longest = max(len(s) for s in x[:20])
    assert ids.shape == (20, longest) and onehot.shape == (20, longest, 8)
    assert trn.xshape() == (20, longest) and trn.nclasses() == 8
    first = x[0]
    assert [preproc.get_classes()[k] for k in onehot[0, : len(first)].argmax(-1)] == y[0]
    assert ids[0, : len(first)].tolist() == preproc.words.ids(first) and (ids[0, len(first) :] == 0).all()
    (unknown,), _ = preproc.preprocess(["Zebedee visited Oslo"])[0]
    assert unknown[0].tolist() == [len(preproc.words) - 1, *preproc.words.ids(["visited", "Oslo"])]

    with pytest.warns(DeprecationWarning, match="bert_model"):  # ktrain's README spelling
        model = txt.sequence_tagger("bilstm-bert", preproc, bert_model=str(tiny_bert), verbose=0)
    assert model.config.token_head.word_vocab_size == len(preproc.words)  # one vocabulary


def test_gmb_csv_with_named_columns_and_detected_encoding(tmp_path):
    """ktrain's GMB layout: a CSV with a header, the sentence id on its first word only, in
    latin-1 (the encoding is detected)."""
    rows = [("Sentence: 1", "Müller", "B-per"), (None, "visited", "O"), (None, "Köln", "B-geo")]
    rows += [("Sentence: 2", "Anna", "B-per"), (None, "left", "O")]
    frame = pd.DataFrame(rows, columns=["Sentence #", "Word", "Tag"])
    path = tmp_path / "ner_dataset.csv"
    frame.to_csv(path, index=False, encoding="latin-1")
    trn, val, _ = txt.entities_from_gmb(
        str(path), val_filepath=str(path), sentence_column="Sentence #", verbose=0
    )
    assert trn.x == [["Müller", "visited", "Köln"], ["Anna", "left"]] and trn.y[0] == ["B-per", "O", "B-geo"]
    with pytest.raises(DataError, match="sentence_column="):
        txt.entities_from_txt(str(path), data_format="gmb", verbose=0)  # no 'SentenceID' column
