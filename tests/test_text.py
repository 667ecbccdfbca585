import pandas as pd
import pytest

from easytx import text
from easytx.errors import ConfigError, DataError
from easytx.testing import keyword_dataset


@pytest.fixture(scope="module")
def frame():
    x, y = keyword_dataset(120, seed=5)
    return pd.DataFrame({"review": x, "sentiment": y})


def test_texts_from_array(tiny_bert):
    x, y = keyword_dataset(100, seed=6)
    trn, val, preproc = text.texts_from_array(x, y, val_pct=0.2, random_state=1, model=tiny_bert)
    assert len(trn) == 80 and len(val) == 20
    assert preproc.get_classes() == ["neg", "pos"]
    assert sorted(val.texts + trn.texts) == sorted(x)


def test_texts_from_df_with_one_hot_columns(tiny_bert, frame):
    onehot = frame.assign(
        neg=(frame.sentiment == "neg").astype(int), pos=(frame.sentiment == "pos").astype(int)
    )
    trn, val, preproc = text.texts_from_df(onehot, "review", ["neg", "pos"], model=tiny_bert, random_state=0)
    assert preproc.get_classes() == ["neg", "pos"]
    assert len(trn) + len(val) == len(frame)


def test_texts_from_df_errors(tiny_bert, frame):
    with pytest.raises(DataError, match=r"Column 'reveiw' not found.*Did you mean 'review'"):
        text.texts_from_df(frame, "reveiw", ["sentiment"], model=tiny_bert)
    with pytest.raises(ConfigError, match="model="):
        text.texts_from_df(frame, "review", ["sentiment"])
    both = frame.assign(a=1, b=1)
    with pytest.raises(DataError, match="exactly one"):  # several 0/1 columns set: multi-label unless refused
        text.texts_from_df(both, "review", ["a", "b"], model=tiny_bert, multilabel=False)


def test_texts_from_csv_with_val_file(tiny_bert, frame, tmp_path):
    frame.iloc[:90].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[90:].to_csv(tmp_path / "val.tsv", index=False, sep="\t")
    trn, val, preproc = text.texts_from_csv(
        tmp_path / "train.csv", "review", "sentiment", val_filepath=tmp_path / "val.tsv", model=tiny_bert
    )
    assert len(trn) == 90 and len(val) == 30
    assert val.texts == frame.review.iloc[90:].tolist()


def test_texts_from_folder(tiny_bert, tmp_path):
    x, y = keyword_dataset(40, seed=8)
    for split, rows in (("train", range(0, 30)), ("test", range(30, 40))):
        for i in rows:
            folder = tmp_path / split / y[i]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}.txt").write_text(x[i], encoding="utf-8")
    trn, val, preproc = text.texts_from_folder(tmp_path, model=tiny_bert)
    assert (len(trn), len(val)) == (30, 10)
    assert preproc.get_classes() == ["neg", "pos"]
    with pytest.raises(DataError, match="no 'train' folder"):
        text.texts_from_folder(tmp_path / "train", model=tiny_bert)
