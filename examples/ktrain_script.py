"""A ktrain script, run on easytx by changing its two imports (docs/migrating-from-ktrain.md).

    python examples/ktrain_script.py       # offline: a tiny generated model, seconds
    EASYTX_KTRAIN_DISTILBERT_MODEL=<hub name or folder> python examples/ktrain_script.py

ktrain's ``preprocess_mode='distilbert'`` loads ``distilbert-base-uncased``; offline this
script points it at a tiny model made on the spot (``EASYTX_KTRAIN_DISTILBERT_MODEL``).
Everything below the imports is ktrain's API, with ktrain's return values.
"""

from __future__ import annotations

import os
import tempfile

import easytx.ktrain as ktrain  # was: import ktrain
from easytx.ktrain import text  # was: from ktrain import text
from easytx.testing import keyword_dataset, make_tiny_model

work = tempfile.mkdtemp(prefix="easytx_ktrain_")
if not os.environ.get("EASYTX_KTRAIN_DISTILBERT_MODEL"):
    os.environ["EASYTX_KTRAIN_DISTILBERT_MODEL"] = str(make_tiny_model(os.path.join(work, "tiny-bert")))
    lr, epochs = 5e-3, 4
else:
    lr, epochs = 5e-5, 1
x, y = keyword_dataset(600, seed=1)  # texts labelled "neg"/"pos" by one keyword

# ---- the ktrain script ------------------------------------------------------------------------
trn, val, preproc = text.texts_from_array(
    x_train=x[:480],
    y_train=y[:480],
    x_test=x[480:],
    y_test=y[480:],
    class_names=[],  # discovered from the string labels
    preprocess_mode="distilbert",
    maxlen=64,
)
model = text.text_classifier("distilbert", train_data=trn, preproc=preproc)
learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=16)
hist = learner.fit_onecycle(lr, epochs)
print(f"peak lr {max(hist.history['lr']):.2g}, best val_accuracy {max(hist.history['val_accuracy']):.3f}")
learner.view_top_losses(preproc=preproc, n=1)
cm = learner.validate()
predictor = ktrain.get_predictor(learner.model, preproc)
predictor.save(os.path.join(work, "predictor"))  # a folder of JSON + safetensors, no pickle
predictor = ktrain.load_predictor(os.path.join(work, "predictor"))
print("saved and reloaded:", predictor.predict(["the film was simply excellent.", "the food was awful."]))
