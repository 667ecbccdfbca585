"""easytx.tune: k-fold cross-validation + hyperparameter search, on a tiny offline model."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import easytx
from easytx import bindings, tuning
from easytx.errors import ConfigError, DataError, DataTypeError, MissingDependencyError
from easytx.testing import keyword_dataset
from easytx.tuning import Range, TuneResult


@pytest.fixture(scope="module")
def tune_data():
    """120 keyword-labelled texts split 96/24 (48 per class in train: k=3 folds of 32)."""
    x, y = keyword_dataset(120, seed=5)
    return easytx.train_test_split(x, y, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def tuned(tiny_bert, tune_data):
    """One tune run (k=3, 2 trials drawn from a 3x2 grid, lr seeded by lr_find), with a spy on
    every evaluation it makes."""
    train, test = tune_data
    calls: list = []
    real = tuning._evaluate

    def spy(model, task, data, batch_size):
        scores = real(model, task, data, batch_size)
        calls.append((list(data.texts), scores))
        return scores

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tuning, "_evaluate", spy)
        result = easytx.tune(
            tiny_bert,
            train.shuffle(seed=0).batch(32),
            test,
            k=3,
            lr="auto",
            lr_find_steps=6,
            maxlen=[16, 32],
            epochs=1,
            trials=2,
            seed=0,
        )
    return result, calls, train, test


def test_tune_is_exported_lazily_and_stays_a_function():
    import easytx.tuning  # noqa: F401  (importing the module must not shadow the function)

    assert callable(easytx.tune) and easytx.tune is tuning.tune
    assert "tune" in dir(easytx)


@pytest.mark.integration
def test_trial_table_has_one_row_per_trial_with_fold_scores(tuned):
    result, _, train, _ = tuned
    assert isinstance(result, TuneResult)
    table = result.trials
    assert list(table["trial"]) == [1, 2]
    for column in ("lr", "epochs", "batch_size", "maxlen", "weight_decay", "mean", "std", "seconds"):
        assert column in table.columns
    folds = table[["fold_1", "fold_2", "fold_3"]].to_numpy()
    assert ((folds >= 0) & (folds <= 1)).all()
    np.testing.assert_allclose(table["mean"], folds.mean(axis=1))
    np.testing.assert_allclose(table["std"], folds.std(axis=1))
    assert {"loss_mean", "loss_std", "macro_f1_mean", "macro_f1_std"} <= set(table.columns)
    # two different points of the 3 (lr) x 2 (maxlen) grid, with the fixed values
    points = {(row.lr, row.maxlen) for row in table.itertuples()}
    assert len(points) == 2
    assert set(table["maxlen"]) <= {16, 32} and set(table["epochs"]) == {1}
    assert set(table["batch_size"]) == {32}  # from train.batch(32)


def test_folds_partition_the_training_data(tuned):
    result, _, train, _ = tuned
    folds = result.folds
    assert len(folds) == 2 * 3
    assert sorted(zip(folds["trial"], folds["fold"])) == [(t, f) for t in (1, 2) for f in (1, 2, 3)]
    assert (folds["n_train"] + folds["n_val"] == len(train)).all()
    assert (folds.groupby("trial")["n_val"].sum() == len(train)).all()
    # stratified: each held-out fold holds both classes in equal numbers (48 per class, 16 per fold)
    assert set(folds["n_val"]) == {32}


def test_lr_candidates_are_seeded_by_lr_find(tuned):
    result, *_ = tuned
    s = result.lr_suggestions.min_div10
    candidates = {float(f"{s * f:.3g}") for f in (1.0, 0.5, 0.25)}
    assert set(result.trials["lr"]) <= candidates


def test_test_split_is_scored_once_at_the_end(tuned):
    result, calls, train, test = tuned
    test_texts = set(test.texts)
    on_test = [i for i, (texts, _) in enumerate(calls) if set(texts) & test_texts]
    assert on_test == [len(calls) - 1], "test must be scored exactly once, after every fold"
    assert set(calls[-1][0]) == test_texts
    assert len(calls) == 2 * 3 + 1  # one evaluation per fold, then the test split
    for texts, _ in calls[:-1]:  # folds are scored on training texts only
        assert set(texts) <= set(train.texts)
    assert result.test_scores == calls[-1][1]


def test_best_configuration_is_refitted_on_all_training_data(tuned):
    result, _, train, _ = tuned
    table = result.trials
    best_row = table.loc[table["mean"].idxmax()]
    assert result.best_trial == int(best_row["trial"])
    assert result.best_mean == pytest.approx(best_row["mean"])
    for name in ("lr", "epochs", "batch_size", "maxlen", "weight_decay"):
        assert result.best_params[name] == best_row[name]
    learner = result.learner
    assert len(learner.train_data) == len(train)
    assert learner.batch_size == result.best_params["batch_size"]
    assert learner.weight_decay == result.best_params["weight_decay"]
    assert result.preproc.maxlen_ == result.best_params["maxlen"]
    lrs = learner.batch_history["lr"]
    assert len(lrs) == result.best_params["epochs"] * math.ceil(len(train) / learner.batch_size)
    assert max(lrs) == pytest.approx(result.best_params["lr"], rel=0.05)
    assert learner.val_data is not None and len(learner.val_data) == 24  # the test split, for validate()


def test_predictor_matches_the_test_scores_and_round_trips(tuned, tmp_path):
    result, _, _, test = tuned
    predicted = result.predictor.predict(test.texts)
    accuracy = float(np.mean([p == t for p, t in zip(predicted, test.labels)]))
    assert accuracy == pytest.approx(result.test_scores["accuracy"])
    assert result.predictor.metrics["accuracy"] == result.test_scores["accuracy"]
    assert result.predictor.metrics["cv_accuracy_mean"] == pytest.approx(result.best_mean)
    folder = result.save(tmp_path / "tuned")
    loaded = easytx.Predictor.load(folder)
    assert loaded.predict(test.texts[:5]) == predicted[:5]
    assert "best: trial" in result.summary() and "test (scored once)" in result.summary()
    assert "TuneResult(2 trials x 3 folds" in repr(result)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("k", [1, 0, -2, True, 2.5])
def test_k_below_two_is_refused(tiny_bert, tune_data, k):
    with pytest.raises(ConfigError, match="`k` must be an int >= 2"):
        easytx.tune(tiny_bert, tune_data[0], k=k)


def test_k_larger_than_the_smallest_class_is_refused(tiny_bert):
    x = [f"text number {i}" for i in range(12)]
    y = ["a"] * 10 + ["b"] * 2
    with pytest.raises(DataError, match=r"class 'b' has 2.*Use k <= 2"):
        easytx.tune(tiny_bert, (x, y), k=3)


@pytest.mark.parametrize("name", ["lr", "epochs", "batch_size", "maxlen", "weight_decay"])
def test_an_empty_search_space_is_refused(tiny_bert, tune_data, name):
    with pytest.raises(ConfigError, match=f"search space is empty: `{name}`"):
        easytx.tune(tiny_bert, tune_data[0], **{name: []})


@pytest.mark.parametrize(
    ("budget", "message"),
    [({"trials": 0}, "`trials` must be a positive int"), ({"timeout": 0}, "`timeout` must be a positive")],
)
def test_a_budget_of_zero_is_refused(tiny_bert, tune_data, budget, message):
    with pytest.raises(ConfigError, match=message):
        easytx.tune(tiny_bert, tune_data[0], **budget)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"lr": [1e-4, -1.0]}, ConfigError, "`lr` candidates must be positive"),
        ({"epochs": [2, 0]}, ConfigError, "`epochs` must be a positive int"),
        ({"maxlen": ["long"]}, ConfigError, "`maxlen` must be a positive int"),
        ({"lr": Range(1e-5, 1e-4, log=True)}, ConfigError, "search='optuna'"),
        ({"lr": Range(1e-4, 1e-5), "search": "optuna"}, ConfigError, "low < high"),
        ({"epochs": Range(1.5, 3), "search": "optuna"}, ConfigError, "must be ints"),
        ({"search": "random"}, ConfigError, "'grid' or 'optuna'"),
        ({"metric": "acuracy"}, ConfigError, "Did you mean 'accuracy'"),
        ({"refit": False, "test": (["a b"], ["pos"])}, ConfigError, "refit=False"),
    ],
)
def test_bad_options_are_refused_before_training(tiny_bert, tune_data, options, error, message):
    with pytest.raises(error, match=message):
        easytx.tune(tiny_bert, tune_data[0], **options)


def test_bad_model_and_data_types_are_refused(tiny_bert, tune_data, trained):
    train = tune_data[0]
    with pytest.raises(DataTypeError, match="`model` must be a model name"):
        easytx.tune(42, train)
    with pytest.raises(DataTypeError, match="`train` must be a TextData"):
        easytx.tune(tiny_bert, {"text": train.texts})
    with pytest.raises(DataError, match="`train` has no labels"):
        easytx.tune(tiny_bert, easytx.TextData(train.texts))
    _, t, test = trained
    dataset = t.preprocess_test(test)
    with pytest.raises(DataTypeError, match="preprocessed dataset"):
        easytx.tune(tiny_bert, dataset)  # a bare name cannot read the dataset's label ids back


def test_preprocessed_data_is_read_back_with_the_fitted_transformer(trained):
    _, t, test = trained
    texts, labels, dataset = tuning._texts_and_labels(t.preprocess_test(test), "test", t)
    assert texts == test.texts and labels == test.labels and dataset is not None


def test_optuna_missing_is_a_missing_dependency_error(tiny_bert, tune_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'easytx-nlp\[tune\]'"):
        easytx.tune(tiny_bert, tune_data[0], search="optuna")


# --------------------------------------------------------------------------- the search itself
def test_grid_search_tries_every_point_or_a_seeded_sample():
    space = {"lr": [1e-4, 2e-4, 4e-4], "epochs": [1, 2], "batch_size": [16]}
    full = list(tuning._Search(space, "grid", None, "maximize", seed=0))
    assert len(full) == 6 and len({tuple(p.values()) for p in full}) == 6
    sample = list(tuning._Search(space, "grid", 4, "maximize", seed=0))
    again = list(tuning._Search(space, "grid", 4, "maximize", seed=0))
    assert len(sample) == 4 and sample == again
    assert all(p in full for p in sample) and len({tuple(p.values()) for p in sample}) == 4


def test_optuna_search_samples_ranges_and_choices():
    try:
        import optuna  # noqa: F401
    except ImportError:
        pytest.fail("The Optuna search test needs the tune extra: pip install 'easytx-nlp[tune]'")
    space = {
        "lr": Range(1e-5, 1e-3, log=True),
        "epochs": [2, 3],
        "batch_size": Range(8, 32, log=True),
        "maxlen": [128],
    }
    search = tuning._Search(space, "optuna", 5, "maximize", seed=0)
    seen = []
    for params in search:
        assert 1e-5 <= params["lr"] <= 1e-3
        assert params["epochs"] in (2, 3) and params["maxlen"] == 128
        assert isinstance(params["batch_size"], int) and 8 <= params["batch_size"] <= 32
        seen.append(params)
        search.tell(params["lr"] * 1000)
    assert len(seen) == 5
    assert len(search.study.trials) == 5
    assert search.study.best_value == pytest.approx(max(p["lr"] for p in seen) * 1000)


# --------------------------------------------------------------------------- get_learner and TextData
def test_get_learner_accepts_text_data_with_a_model_from_get_classifier(trained, keyword_data):
    _, t, _ = trained
    train, test = keyword_data
    learner = easytx.get_learner(t.get_classifier(), train_data=train.shuffle(0).batch(8), val_data=test)
    assert learner.batch_size == 8
    assert len(learner.train_data) == len(train) and len(learner.val_data) == len(test)
    assert learner.train_data.texts == train.shuffle(0).texts
    assert list(learner.val_data.y) == list(t.labels_.transform(test.labels))


def test_get_learner_with_text_data_needs_the_models_preprocessor(trained, keyword_data):
    _, t, _ = trained
    model = t.get_classifier()
    bindings.bind(model, preproc=None)  # a model easytx did not build has no preprocessor
    with pytest.raises(DataTypeError, match="TextData"):
        easytx.get_learner(model, train_data=keyword_data[0])


@pytest.mark.integration
def test_an_error_metric_picks_the_lowest_error(tiny_bert):
    # each task declares which way its metrics improve: on a regression MAE is an error, so the
    # best trial is the one with the smallest mean (it used to be the largest: only "loss" was
    # known to be lower-is-better)
    from easytx.testing import regression_dataset

    x, y = regression_dataset(80, seed=2)
    t = easytx.text.Transformer(tiny_bert, maxlen=24, task="regression", scale_targets=True)
    data = easytx.TextData(x, y)
    result = easytx.tune(
        t, data.batch(16), k=2, lr=[2e-3, 1e-7], epochs=2, metric="mae", refit=False, seed=0, verbose=0
    )
    means = result.trials["mean"].to_numpy()
    assert len(means) == 2 and means[0] != means[1]  # the two trials can be told apart
    assert result.best_mean == pytest.approx(means.min())
    assert result.trials.iloc[result.best_trial - 1]["mean"] == pytest.approx(means.min())
    with pytest.raises(ConfigError, match="reports no metric 'maee'.*Did you mean 'mae'"):
        easytx.tune(t, data.batch(16), k=2, lr=[1e-3], epochs=1, metric="maee", refit=False)


def test_plateau_scale_follows_the_declared_direction():
    from easytx.callbacks import PlateauScale, ScheduleCallback

    for mode, values in (("max", [0.5, 0.6, 0.55, 0.58]), ("min", [0.5, 0.4, 0.45, 0.42])):
        driver = ScheduleCallback(lambda p: (1e-3, None), 10)
        plateau = PlateauScale(driver, "val_x", patience=2, factor=2.0, mode=mode)
        for epoch, value in enumerate(values):
            plateau.on_epoch_end(epoch, {"val_x": value})
        # epoch 1 improved; epochs 2 and 3 did not: one cut after two stalled epochs
        assert driver.scale == 0.5, mode
    from easytx.tasks import task_from_name

    assert task_from_name("regression").direction("val_rmse") == "min"
    assert task_from_name("multilabel").direction("val_macro_f1") == "max"
