"""Integrated-gradients explanations: properties on a tiny model trained to key on one word."""

from __future__ import annotations

import json
import re
from html import escape

import numpy as np
import pytest

import easytx
from easytx.errors import ConfigError, DataTypeError
from easytx.testing import NEGATIVE, POSITIVE, keyword_dataset

KEYWORDS = set(POSITIVE + NEGATIVE)
#: completeness tolerance asserted below: |sum(scores) - (F(x) - F(baseline))| <= 1% of the change
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def predictor(trained):
    learner, t, _ = trained
    return easytx.get_predictor(learner.model, t)


def _keyword(text: str) -> str:
    found = [w for w in re.findall(r"\w+", text) if w in KEYWORDS]
    assert len(found) == 1, text
    return found[0]


@pytest.mark.parametrize("output", ["proba", "logit"])
def test_the_keyword_gets_the_largest_attribution(predictor, trained, output):
    _, _, test = trained
    explained = wrong = keyword_first = 0
    for text, label in list(zip(test.texts, test.labels))[:24]:
        exp = predictor.explain(text, output=output)
        if exp.predicted_class != label:  # the fixture is ~99% accurate, not always 100%
            wrong += 1
            continue
        # IG explains the change from the baseline; where the all-padding baseline already gives
        # the same answer, no word needs to move the output and there is nothing to check.
        change = exp.target_output - exp.baseline_output
        if abs(change) < (0.5 if output == "proba" else 2.0):
            continue
        explained += 1
        keyword = _keyword(text)
        top2 = [w for w, _ in exp.top(2)]
        assert keyword in top2, (text, exp.top(3))
        assert exp.scores[exp.words.index(keyword)] > 0.2 * change  # a large share, not a sliver
        keyword_first += top2[0] == keyword
    assert wrong <= 2
    assert explained >= 8  # at least one whole class moves away from the baseline
    # a tiny model trained for seconds sometimes leans on a stopword as well (the template
    # sentences correlate with the labels): the keyword comes first for the great majority
    assert keyword_first >= 0.85 * explained, (keyword_first, explained)


def test_completeness_within_tolerance(predictor, trained):
    _, _, test = trained
    for text in test.texts[:12]:
        for target in ("neg", "pos"):
            exp = predictor.explain(text, target=target, tolerance=TOLERANCE)
            change = exp.target_output - exp.baseline_output
            assert abs(sum(exp.scores) - change) <= TOLERANCE * abs(change) + 1e-6
            assert exp.delta == pytest.approx(sum(exp.scores) - change, abs=1e-9)
            assert exp.target_class == target
            # the probabilities reported are the predictor's
            np.testing.assert_allclose(
                [exp.probabilities[c] for c in ("neg", "pos")], predictor.predict_proba(text), atol=1e-5
            )


def test_target_other_class_makes_the_keyword_negative(predictor):
    text = "the plot was really dreadful and the cast seemed long."
    exp = predictor.explain(text)
    assert exp.predicted_class == "neg"
    if exp.target_output - exp.baseline_output > 0.5:  # neg is away from the baseline
        other = predictor.explain(text, target="pos")
        assert other.top(1, sign="negative")[0][0] == "dreadful"
        assert other.target_class == "pos" and other.predicted_class == "neg"
    else:
        other = predictor.explain("the plot was really wonderful and the cast seemed long.", target="neg")
        assert other.top(1, sign="negative")[0][0] == "wonderful"


def test_sub_tokens_are_summed_into_words(predictor):
    # words the tiny tokenizer never saw are cut into several sub-tokens
    text = "The zorbulent film, honestly: wonderfulness!"
    exp = predictor.explain(text)
    assert exp.words == ["The", "zorbulent", "film", ",", "honestly", ":", "wonderfulness", "!"]
    assert all(text[a:b] == w for w, (a, b) in zip(exp.words, exp.spans))
    assert len(exp.tokens) > len(exp.words) + 2  # [CLS], [SEP] and split words
    assert sum(exp.scores) == pytest.approx(sum(exp.token_scores), abs=1e-9)
    assert exp.token_scores[0] == 0.0 and exp.token_scores[-1] == 0.0  # special tokens


def test_truncated_text_explains_what_the_model_saw(predictor):
    maxlen = predictor.preproc.maxlen_
    text = " ".join(["the film was long and"] * maxlen) + " awful"
    exp = predictor.explain(text)
    assert exp.truncated
    assert len(exp.tokens) == maxlen
    assert "awful" not in exp.words
    html = exp.to_html()
    assert "not seen by the model" in html


def test_html_and_dict(predictor):
    text = "<b>the cast</b> was superb & the ending felt late"
    # logits: a saturated probability (≈1.0 here) would leave every word near zero
    exp = predictor.explain(text, output="logit")
    html = exp.to_html()
    assert exp._repr_html_() == html
    assert "<b>the" not in html and "</b> was" not in html  # the text's markup is escaped
    assert ">&lt;</span>" in html and ">&amp;</span>" in html
    assert html.count('title="') == len(exp.words) + html.count('title="not seen')
    strongest = max(range(len(exp.words)), key=lambda i: abs(exp.scores[i]))
    shown = escape(exp.words[strongest])  # the strongest word may be "<" or "&", escaped as to_html does
    assert re.search(rf"rgba\([^)]*, 0\.850\)[^>]*>{re.escape(shown)}<", html)
    data = json.loads(json.dumps(exp.to_dict()))
    assert data["words"] == exp.words and data["predicted_class"] == exp.predicted_class
    top_word, top_score = exp.top(1)[0]
    assert repr(exp).startswith(f"Explanation(predicted={exp.predicted_class!r}")
    assert f"{top_word!r}: {top_score:+.3f}" in repr(exp)


def test_baselines_and_errors(predictor):
    text = "the meal was awful."
    for baseline in ("mask", "zero"):
        exp = predictor.explain(text, baseline=baseline)
        change = exp.target_output - exp.baseline_output
        assert abs(exp.delta) <= TOLERANCE * abs(change) + 1e-6
    with pytest.raises(DataTypeError, match="one text"):
        predictor.explain(["a", "b"])
    with pytest.raises(ConfigError, match="target"):
        predictor.explain(text, target="maybe")
    with pytest.raises(ConfigError, match="output"):
        predictor.explain(text, output="softmax")
    with pytest.raises(ConfigError, match="baseline"):
        predictor.explain(text, baseline="blank")
    with pytest.raises(ConfigError, match="tolerance"):
        predictor.explain(text, tolerance=0)


def test_refinement_spends_its_budget_and_reports_a_shortfall(predictor, caplog):
    text = "the meal was awful and the hotel is old."
    coarse = predictor.explain(text, n_steps=8, max_steps=10, tolerance=1e-9)
    assert coarse.n_steps == 10  # one piece of 8 points + its 2 ends; no refinement fits
    assert abs(coarse.delta) > 1e-6
    assert any("max_steps" in r.getMessage() for r in caplog.records)
    fine = predictor.explain(text, n_steps=8, max_steps=400, tolerance=1e-3)
    assert 10 < fine.n_steps <= 400
    assert abs(fine.delta) < abs(coarse.delta)


@pytest.mark.integration
def test_explanation_after_save_and_load(predictor, tmp_path):
    text = "our team is truly horrible."
    before = predictor.explain(text)
    loaded = easytx.load_predictor(predictor.save(tmp_path / "p"))
    after = loaded.explain(text)
    assert after.words == before.words
    np.testing.assert_allclose(after.scores, before.scores, atol=1e-4)


@pytest.mark.integration
@pytest.mark.parametrize("family", ["distilbert", "roberta"])
def test_other_families_words_and_completeness(tiny_models, family):
    """No token_type_ids (DistilBERT), byte-level BPE with spaces in the offsets (RoBERTa)."""
    from easytx import text

    x, y = keyword_dataset(40, seed=2)
    t = text.Transformer(tiny_models[family, "tf"], maxlen=32, verbose=0)
    t.preprocess_train(x, y)
    predictor = easytx.get_predictor(t.get_classifier(seed=0), t)
    sentence = "The zorbulent film was honestly wonderful, and long."
    exp = predictor.explain(sentence, output="logit")
    assert exp.words == ["The", "zorbulent", "film", "was", "honestly", "wonderful", ",", "and", "long", "."]
    assert all(sentence[a:b] == w for w, (a, b) in zip(exp.words, exp.spans))
    change = exp.target_output - exp.baseline_output
    assert abs(exp.delta) <= TOLERANCE * abs(change) + 1e-6
