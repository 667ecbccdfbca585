import json

import numpy as np
import pytest

from easytx.errors import DataError, NotFittedError
from easytx.labels import ClassLabels, label_encoder_from_dict


def test_string_labels_sorted_and_round_trip():
    enc = ClassLabels().fit(["pos", "neg", "pos"])
    assert enc.classes_ == ["neg", "pos"]
    assert enc.transform(["pos", "neg"]).tolist() == [1, 0]
    back = label_encoder_from_dict(json.loads(json.dumps(enc.to_dict())))
    assert back.inverse_transform([1, 0]) == ["pos", "neg"]


def test_int_labels_keep_their_type():
    enc = ClassLabels().fit(np.array([2, 0, 1, 2]))
    assert enc.classes_ == [0, 1, 2]
    assert enc.inverse_transform([2]) == [2]
    assert isinstance(enc.inverse_transform([2])[0], int)


def test_int_labels_with_class_names_predict_names():
    enc = ClassLabels(["neg", "pos"]).fit([0, 1, 1])
    assert enc.inverse_transform([1]) == ["pos"]
    assert enc.transform(["pos", 0]).tolist() == [1, 0]


def test_one_hot_rows():
    enc = ClassLabels(["a", "b", "c"]).fit(np.eye(3)[[0, 2, 1]])
    assert enc.transform(np.eye(3)[[2]]).tolist() == [2]


def test_single_class_is_refused():
    with pytest.raises(DataError, match="single class"):
        ClassLabels().fit(["spam", "spam"])


def test_unseen_label_names_position_and_known_classes():
    enc = ClassLabels().fit(["a", "b"])
    with pytest.raises(DataError, match=r"'c' at position 1 was never seen.*\['a', 'b'\]"):
        enc.transform(["a", "c"])


def test_unknown_class_name_and_mixed_types():
    with pytest.raises(DataError, match="not in class_names"):
        ClassLabels(["a", "b"]).fit(["a", "z"])
    with pytest.raises(DataError, match="mix"):
        ClassLabels().fit(["a", 1])
    with pytest.raises(DataError, match="missing"):
        ClassLabels().fit(["a", None, "b"])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="preprocess_train"):
        ClassLabels().transform(["a"])
