import numpy as np
import pandas as pd
import pytest

import easytx
from easytx.data import check_texts, read_folder, read_table
from easytx.errors import ConfigError, DataError, DataTypeError


def test_bare_string_is_refused_with_fix():
    with pytest.raises(DataTypeError, match=r"not a single string.*Wrap it in a list"):
        check_texts("a whole review")


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        ([], DataError, "empty"),
        (["ok", None], DataError, r"missing value.*position\(s\) \[1\]"),
        (["ok", float("nan")], DataError, "missing"),
        (["ok", 3], DataTypeError, "position 1 is a int"),
        (["ok", "   "], DataError, "empty or whitespace-only"),
        (None, DataTypeError, "None"),
    ],
)
def test_bad_texts(texts, error, match):
    with pytest.raises(error, match=match):
        check_texts(texts)


def test_pandas_and_numpy_inputs():
    assert check_texts(pd.Series(["a", "b"])) == ["a", "b"]
    assert check_texts(np.array(["a", "b"])) == ["a", "b"]
    assert check_texts(["", "x"], allow_empty_strings=True) == ["", "x"]


def test_split_is_stratified_and_repeatable():
    texts = [f"t{i}" for i in range(100)]
    labels = ["a"] * 80 + ["b"] * 20
    train, test = easytx.train_test_split(texts, labels, test_size=0.25, random_state=3)
    assert len(train) == 75 and len(test) == 25
    assert test.labels.count("b") == 5
    again = easytx.train_test_split(texts, labels, test_size=0.25, random_state=3)[1]
    assert again.texts == test.texts
    assert sorted(train.texts + test.texts) == sorted(texts)


def test_split_errors():
    with pytest.raises(DataError, match="different lengths"):
        easytx.train_test_split(["a", "b"], [0])
    with pytest.raises(DataError, match="single example"):
        easytx.train_test_split(["a", "b", "c"], [0, 0, 1])
    with pytest.raises(ConfigError, match="test_size"):
        easytx.train_test_split(["a", "b"], [0, 1], test_size=1.5)


def test_textdata_chaining_does_not_copy_texts():
    texts = [f"text {i}" for i in range(10)]
    data = easytx.TextData(texts, list(range(10)))
    view = data.shuffle(seed=1).batch(4)
    assert view.batch_size == 4 and len(view) == 10
    assert sorted(view.labels) == list(range(10))
    assert view.texts[0] is texts[view.indices[0]]
    assert data.shuffle(seed=1).texts == view.texts
    assert view.batchify(8).batch_size == 8
    with pytest.raises(ConfigError, match="batch_size"):
        view.batch(0)


def test_read_table_missing_column_suggests(tmp_path):
    from easytx.data import check_columns

    path = tmp_path / "d.csv"
    path.write_text("text,label\nhello,a\n", encoding="utf-8")
    frame = read_table(path)
    with pytest.raises(DataError, match=r"Column 'txet' not found.*Did you mean 'text'\?"):
        check_columns(frame, ["txet"])


def test_read_table_formats_and_bad_bytes(tmp_path):
    tsv = tmp_path / "d.tsv"
    tsv.write_text("text\tlabel\nhi, there\tb\n", encoding="utf-8")
    assert read_table(tsv)["text"].tolist() == ["hi, there"]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "x", "label": 1}\n\n{"text": "y", "label": 0}\n', encoding="utf-8")
    assert read_table(jsonl)["label"].tolist() == [1, 0]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\ncaf\xe9,a\n")
    with pytest.raises(DataError, match=r"bad.csv is not valid utf-8: byte offset 14"):
        read_table(bad)
    assert read_table(bad, encoding="latin-1")["text"].tolist() == ["café"]
    dup = tmp_path / "dup.csv"
    dup.write_text("text,text\na,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="duplicate column"):
        read_table(dup)


def test_read_folder(tmp_path):
    with pytest.raises(DataError, match="no sub-folders"):
        read_folder(tmp_path)
    (tmp_path / "pos").mkdir()
    (tmp_path / "neg").mkdir()
    with pytest.raises(DataError, match="no files"):
        read_folder(tmp_path)
    (tmp_path / "pos" / "1.txt").write_text("good", encoding="utf-8")
    (tmp_path / "neg" / "2.txt").write_text("bad", encoding="utf-8")
    texts, labels = read_folder(tmp_path)
    assert sorted(zip(labels, texts)) == [("neg", "bad"), ("pos", "good")]
