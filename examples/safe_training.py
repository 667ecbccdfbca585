"""Training that survives an interruption, and loading that refuses a tampered predictor.

Runs offline in about a minute on a CPU with a tiny generated model (hidden size 32):

1. trains 3 epochs with ``checkpoint_folder``; the run is interrupted in epoch 2 (as Ctrl-C would);
2. a new learner resumes from the checkpoint and finishes epochs 2-3, the one-cycle schedule
   continuing where it stopped;
3. saves the predictor (atomically), reloads it, then shows that a copy with one changed byte is
   refused with an ArtifactError naming the file.
"""

import logging
import shutil
import tempfile
from pathlib import Path

import tf_keras

import easytx
from easytx import text
from easytx.testing import keyword_dataset, make_tiny_model


class InterruptInEpoch2(tf_keras.callbacks.Callback):
    """Stands in for a crash or Ctrl-C: stops the run three batches into epoch 2."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 2:
            raise KeyboardInterrupt


def make_learner(model_dir: Path, train, test):
    t = text.Transformer(model_dir, maxlen="auto", verbose=0)
    trn, val = t.preprocess_train(train), t.preprocess_test(test)
    return easytx.get_learner(
        t.get_classifier(seed=0), train_data=trn, val_data=val, batch_size=16, seed=0
    ), t


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("easytx").setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="easytx-safe-"))
    model_dir = make_tiny_model(work / "tiny_bert", "bert")
    train, test = easytx.train_test_split(*keyword_dataset(400, seed=1), test_size=0.2, random_state=0)
    checkpoints = work / "checkpoints"

    learner, _ = make_learner(model_dir, train, test)
    learner.fit_onecycle(5e-3, 3, checkpoint_folder=checkpoints, callbacks=[InterruptInEpoch2()], verbose=0)
    print("interrupted; checkpoint holds:", sorted(p.name for p in checkpoints.iterdir()))

    learner, preproc = make_learner(model_dir, train, test)  # e.g. in a new process after a crash
    history = learner.fit_onecycle(5e-3, 3, checkpoint_folder=checkpoints, resume=True, verbose=0)
    accuracy = history.history["val_accuracy"][-1]
    print(f"resumed epochs {[e + 1 for e in history.epoch]}; val_accuracy {accuracy:.3f}")

    predictor = easytx.get_predictor(learner.model, preproc)
    predictor.save(work / "predictor")
    print("reloaded:", easytx.load_predictor(work / "predictor").predict(["the film was superb"]))

    tampered = work / "tampered"
    shutil.copytree(work / "predictor", tampered)
    weights = tampered / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    try:
        easytx.load_predictor(tampered)
    except easytx.ArtifactError as exc:
        print("refused:", exc)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
