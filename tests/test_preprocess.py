import numpy as np
import pytest

from easytx import text
from easytx.errors import ConfigError, DataError, NotFittedError
from easytx.testing import keyword_dataset


def test_maxlen_auto_uses_percentile_and_is_logged(tiny_bert, caplog):
    x = ["short text"] * 95 + [" ".join(["word"] * 60)] * 5
    y = ["a", "b"] * 50
    t = text.Transformer(tiny_bert, maxlen="auto", auto_percentile=90)
    with caplog.at_level("INFO", logger="easytx.preprocess"):
        trn = t.preprocess_train(x, y)
    assert t.maxlen_ == 8  # 90th percentile is 4 tokens -> rounded up to 8
    assert "maxlen='auto' chose 8 tokens" in caplog.text
    assert trn.lengths.max() == 8
    # the truncated texts still end with [SEP]
    sep = t.tokenizer.sep_token_id
    assert all(ids[-1] == sep for ids in trn.x["input_ids"])


def test_dynamic_padding_pads_each_batch_to_its_longest(tiny_bert):
    x, y = keyword_dataset(200, seed=2)
    t = text.Transformer(tiny_bert, maxlen=64)
    trn = t.preprocess_train(x, y)
    widths = [batch[0]["input_ids"].shape[1] for batch in trn.to_tfdataset(16, shuffle=True, seed=0)]
    assert max(widths) < 64 and len(set(widths)) > 1
    batch = next(iter(trn.to_tfdataset(16, shuffle=False, bucket=False)))[0]
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask"}
    mask = batch["attention_mask"].numpy()
    assert mask.sum(axis=1).tolist() == trn.lengths[:16].tolist()


def test_bucketing_cuts_padding(tiny_bert):
    x, y = keyword_dataset(400, seed=3)
    t = text.Transformer(tiny_bert)
    trn = t.preprocess_train(x, y)
    assert trn.padding_fraction(16, bucket=True) < trn.padding_fraction(16, bucket=False) / 2


@pytest.mark.parametrize(
    ("family", "has_types"), [("roberta", False), ("distilbert", False), ("minilm", True)]
)
def test_token_type_ids_only_where_the_model_has_them(tiny_models, family, has_types):
    t = text.Transformer(tiny_models[family, "tf"])
    trn = t.preprocess_train(["a good film", "an awful film"], ["pos", "neg"])
    assert ("token_type_ids" in trn.x) is has_types


def test_training_order_is_repeatable_under_a_seed(tiny_bert):
    x, y = keyword_dataset(100, seed=4)
    trn = text.Transformer(tiny_bert).preprocess_train(x, y)
    first = [b[1].numpy().tolist() for b in trn.to_tfdataset(8, seed=5)]
    trn2 = text.Transformer(tiny_bert).preprocess_train(x, y)
    assert first == [b[1].numpy().tolist() for b in trn2.to_tfdataset(8, seed=5)]


def test_preprocess_errors(tiny_bert):
    with pytest.raises(ConfigError, match=r"maxlen.*Received: maxlen=-3"):
        text.Transformer(tiny_bert, maxlen=-3)
    t = text.Transformer(tiny_bert)
    with pytest.raises(NotFittedError, match="preprocess_train"):
        t.preprocess_test(["x"], ["a"])
    with pytest.raises(NotFittedError):
        t.get_classes()
    t.preprocess_train(["good", "bad"], ["pos", "neg"])
    with pytest.raises(DataError, match="never seen in training"):
        t.preprocess_test(["meh"], ["neutral"])
    with pytest.raises(ConfigError, match="exceeds this model's limit"):
        text.Transformer(tiny_bert, maxlen=4096).preprocess_train(["a", "b"], [0, 1])


def test_vocabulary_mismatch_is_detected(tiny_models, tmp_path):
    import json
    import shutil

    folder = tmp_path / "mismatch"
    shutil.copytree(tiny_models["bert", "tf"], folder)
    config = json.loads((folder / "config.json").read_text())
    config["vocab_size"] = 50
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="do not belong together"):
        text.Transformer(folder).preprocess_train(["a", "b"], [0, 1])


def test_sentence_lengths_are_numpy_int32(tiny_bert):
    trn = text.Transformer(tiny_bert).preprocess_train(["a b", "c"], [0, 1])
    assert trn.x["input_ids"][0].dtype == np.int32


def test_long_pairs_are_cut_before_tokenizing_with_the_same_ids(tiny_bert):
    # The fast tokenizer's pair truncation computes every overflow, in memory growing with the
    # product of the lengths (12 GB for two 15,000-character texts): easytx cuts each text first,
    # keeping what truncation keeps
    from easytx.testing import sentences

    x, y = keyword_dataset(64, seed=1)
    t = text.Transformer(tiny_bert, maxlen=32)
    t.preprocess_train(x, y)
    words = " ".join(sentences(200, seed=3)).split()
    names = ["input_ids", "token_type_ids"]
    for n_a, n_b in ((400, 3), (3, 900), (250, 260), (300, 300), (12, 40)):
        a, b = " ".join(words[:n_a]), " ".join(words[-n_b:])
        direct = t.tokenizer(a, b, truncation=True, max_length=32, return_token_type_ids=True)
        ours = t._tokenize_chunk([(a, b)], 32, names)
        assert list(ours["input_ids"][0]) == list(direct["input_ids"])
        assert list(ours["token_type_ids"][0]) == list(direct["token_type_ids"])
        assert ours.encodings[0].overflowing  # the truncation is still reported
    huge = t._tokenize([("ab " * 30_000, "cd " * 30_000)], 32)  # two 90,000-character texts
    assert len(huge["input_ids"][0]) == 32
