"""easytx.tagging: CoNLL/DataFrame loaders, tag schemes, alignment, entities and entity scores."""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest

from easytx.errors import ConfigError, DataError
from easytx.tagging import (
    IGNORE_INDEX,
    TagLabels,
    align_labels,
    convert_scheme,
    detect_scheme,
    entities_with_offsets,
    entity_report,
    entity_scores,
    get_entities,
    read_conll,
    read_tagged_df,
    split_words,
    word_predictions,
)


# ------------------------------------------------------------------------------------ read_conll
def write(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_conll_sentences_docstart_and_columns(tmp_path):
    path = write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n",  # no blank line at the end
    )
    sentences, tags = read_conll(path)
    assert sentences == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert tags == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    _, pos = read_conll(path, tag_column=1)
    assert pos == [["NNP", "VBZ"], ["NNP", "NNP"]]


def test_read_conll_tab_separated_words_with_spaces(tmp_path):
    path = write(tmp_path, "New York\tB-LOC\nis\tO\n")
    assert read_conll(path, sep="\t") == ([["New York", "is"]], [["B-LOC", "O"]])


def test_read_conll_missing_tag_names_file_and_line(tmp_path):
    path = write(tmp_path, "EU NNP B-ORG\nrejects VBZ O\n\nPeter NNP\nBlackburn NNP I-PER\n")
    with pytest.raises(DataError, match=r"data\.txt, line 4: found 2 column.*line 1 has 3"):
        read_conll(path)


def test_read_conll_single_column_file(tmp_path):
    path = write(tmp_path, "\n\nEU\nrejects\n")
    with pytest.raises(DataError, match=r"line 3: found 1 column"):
        read_conll(path)


def test_read_conll_bad_column_option_missing_and_empty_file(tmp_path):
    path = write(tmp_path, "EU B-ORG\n")
    with pytest.raises(ConfigError, match="tag_column"):
        read_conll(path, tag_column=4)
    with pytest.raises(DataError, match="does not exist"):
        read_conll(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="no sentences"):
        read_conll(write(tmp_path, "-DOCSTART- O\n\n\n", "empty.txt"))


def test_read_conll_on_shared_data(shared_data):
    sentences, tags = read_conll(shared_data / "conll2003" / "eng.testa")
    assert len(sentences) == 3250  # CoNLL-2003 dev set, -DOCSTART- lines excluded
    assert all(len(s) == len(t) for s, t in zip(sentences, tags))
    assert detect_scheme(tags) == "IOB2"


# ------------------------------------------------------------------------------------ DataFrame
def test_read_tagged_df_forward_fills_sentence_ids():
    frame = pd.DataFrame(
        {
            "SentenceID": ["s1", None, None, "s2"],
            "Word": ["Angela", "Merkel", "spoke", "Hi"],
            "Tag": ["B-per", "I-per", "O", "O"],
        }
    )
    assert read_tagged_df(frame) == (
        [["Angela", "Merkel", "spoke"], ["Hi"]],
        [["B-per", "I-per", "O"], ["O"]],
    )


def test_read_tagged_df_errors():
    frame = pd.DataFrame({"SentenceID": [1, 1, 2, 1], "Word": ["a", "b", "c", "d"], "Tag": list("OOOO")})
    with pytest.raises(DataError, match="contiguous"):
        read_tagged_df(frame)
    frame = pd.DataFrame({"SentenceID": [1, 1], "Word": ["a", None], "Tag": ["O", "O"]})
    with pytest.raises(DataError, match="'Word' has 1 missing value.*row 1"):
        read_tagged_df(frame)
    with pytest.raises(DataError, match="Tags"):
        read_tagged_df(frame.rename(columns={"Tag": "label"}), tag_column="Tags")


# ------------------------------------------------------------------------------------ schemes
@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        ([["B-PER", "I-PER", "O", "B-LOC"]], "IOB2"),
        ([["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]], "IOB1"),
        ([["B-PER", "E-PER", "O", "S-LOC"]], "BIOES"),
        ([["NN", "VBZ", "DT"]], "none"),
        ([["O", "O"]], "IOB2"),
    ],
)
def test_detect_scheme(tags, scheme):
    assert detect_scheme(tags) == scheme


def test_detect_scheme_refuses_a_mix_of_bare_and_prefixed_tags():
    with pytest.raises(DataError, match="mix"):
        detect_scheme([["B-PER", "PER", "O"]])


def test_convert_known_cases():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O", "I-ORG", "I-LOC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "B-ORG", "B-LOC"]
    bioes = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O", "S-ORG", "S-LOC"]
    assert convert_scheme(iob1, "IOB2") == iob2
    assert convert_scheme(iob2, "BIOES") == bioes
    assert convert_scheme(bioes, "IOB1") == iob1
    assert convert_scheme(["NN", "DT"], "IOB2") == ["NN", "DT"]
    with pytest.raises(ConfigError, match="tag_scheme"):
        convert_scheme(iob2, "BILOU")


def test_conversion_round_trips_keep_entities():
    rng = random.Random(0)
    tags = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B"]
    for _ in range(500):
        seq = [rng.choice(tags) for _ in range(rng.randint(1, 10))]
        for a, b in itertools.permutations(("IOB1", "IOB2", "BIOES"), 2):
            assert get_entities(convert_scheme(convert_scheme(seq, a), b)) == get_entities(seq)


# ------------------------------------------------------------------------------------ entities and scores
def test_get_entities_reads_ill_formed_sequences_like_conlleval():
    # I- after O or after another type opens an entity; B- and a tag after E- always open one
    assert get_entities(["O", "I-PER", "I-PER", "I-LOC", "B-LOC", "E-LOC", "I-LOC"]) == [
        ("PER", 1, 3),
        ("LOC", 3, 4),
        ("LOC", 4, 6),
        ("LOC", 6, 7),
    ]
    assert get_entities(["S-PER", "I-PER", "B-ORG", "I-LOC"]) == [
        ("PER", 0, 1),
        ("PER", 1, 2),
        ("ORG", 2, 3),
        ("LOC", 3, 4),
    ]


def test_entity_scores_known_values():
    y_true = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O", "B-PER"]]
    y_pred = [["B-PER", "I-PER", "O", "B-ORG", "O"], ["B-ORG", "O", "B-PER"]]
    # true: PER x2, LOC, ORG; predicted: PER x2, ORG x2; correct: PER x2, ORG x1
    s = entity_scores(y_true, y_pred)
    assert s["micro"]["precision"] == pytest.approx(3 / 4)
    assert s["micro"]["recall"] == pytest.approx(3 / 4)
    assert s["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert s["per_type"]["LOC"]["recall"] == 0.0 and s["per_type"]["LOC"]["support"] == 1
    assert s["per_type"]["ORG"]["precision"] == 0.5 and s["per_type"]["ORG"]["recall"] == 1.0
    assert s["macro"]["f1"] == pytest.approx((1.0 + 0.0 + 2 / 3) / 3)
    # a partial span is wrong, however close
    partial = entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert partial["micro"]["precision"] == 0.0 and partial["micro"]["f1"] == 0.0
    report = entity_report(s)
    assert "LOC" in report and "micro avg" in report and "0.7500" in report
    with pytest.raises(DataError, match="Sentence 0"):
        entity_scores([["O", "O"]], [["O"]])


def test_entities_with_offsets_point_into_the_text():
    text = "Yesterday  Angela Merkel visited Paris, France."
    words, spans = split_words(text)
    assert words == ["Yesterday", "Angela", "Merkel", "visited", "Paris", ",", "France", "."]
    tags = ["O", "B-PER", "I-PER", "O", "B-LOC", "O", "B-LOC", "O"]
    entities = entities_with_offsets(text, spans, tags, [1.0, 0.9, 0.7, 1.0, 0.6, 1.0, 0.5, 1.0])
    assert [(e["text"], e["type"]) for e in entities] == [
        ("Angela Merkel", "PER"),
        ("Paris", "LOC"),
        ("France", "LOC"),
    ]
    for e in entities:
        assert text[e["start"] : e["end"]] == e["text"]
    assert entities[0]["score"] == pytest.approx(0.8)


# ------------------------------------------------------------------------------------ labels
def test_tag_labels_iob1_trains_in_iob2_and_answers_in_iob1():
    enc = TagLabels().fit([["I-PER", "I-PER", "O"], ["I-LOC", "B-LOC"]])
    assert enc.scheme_ == "IOB1" and enc.train_scheme == "IOB2"
    assert enc.classes_ == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    ids = enc.transform([["I-PER", "I-PER", "O"]])
    assert ids == [[3, 4, 0]]
    assert enc.inverse_transform(ids) == [["I-PER", "I-PER", "O"]]
    # B-PER never appeared literally in training, but its type did: encodable
    assert enc.transform([["B-PER", "O"]]) == [[3, 0]]
    again = TagLabels.from_dict(enc.to_dict())
    assert again.classes_ == enc.classes_ and again.scheme_ == "IOB1"


def test_tag_labels_unseen_tags_and_types_are_errors():
    enc = TagLabels().fit([["B-PER", "O"]])
    with pytest.raises(DataError, match=r"never seen in training: 'B-LOC' \(first in sentence 1\)"):
        enc.transform([["O"], ["B-LOC", "B-PER"]], where="val")
    with pytest.raises(DataError, match="without a B-/I-/E-/S- prefix"):
        enc.transform([["PER"]])
    pos = TagLabels().fit([["NN", "VB"], ["DT"]])
    assert pos.scheme_ == "none" and pos.classes_ == ["DT", "NN", "VB"]
    with pytest.raises(DataError, match="'JJ'"):
        pos.transform([["JJ"]])
    with pytest.raises(DataError, match="single tag"):
        TagLabels().fit([["O", "O"]])
    with pytest.raises(DataError, match="look like scheme 'none'"):
        TagLabels("IOB2").fit([["NN"], ["VB"]])


# ------------------------------------------------------------------------------------ alignment
def test_align_labels_first_subtoken_only():
    #            [CLS] An  ##ge ##la  Merkel  [SEP]
    word_ids = [None, 0, 0, 0, 1, None]
    assert align_labels(word_ids, [3, 4]) == [IGNORE_INDEX, 3, IGNORE_INDEX, IGNORE_INDEX, 4, IGNORE_INDEX]


def test_word_predictions_take_first_subtoken_and_mark_missing_words():
    import numpy as np

    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [1.0, 0.0]])
    ids, scores, missing = word_predictions(proba, [None, 0, 0, 1, None], n_words=3)
    assert ids == [1, 0, 0] and scores[:2] == [0.8, 0.6] and np.isnan(scores[2]) and missing == 1
