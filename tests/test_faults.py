"""Faults: a save killed at any point, a full disk, a read-only folder, a training process killed
mid-epoch, Ctrl-C during fit. Afterwards a complete predictor always loads and training resumes.

The save-kill tests run ``easytx.artifacts.write_folder`` (what ``Predictor.save`` calls) in a child
process without TensorFlow, SIGKILL it at a known point, then load the folder here. The tests that
kill a real ``predictor.save`` or a real training run import TensorFlow in the child and are marked
``slow``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import easytx
from easytx import artifacts, schedules, text
from easytx._keras import keras_of, optimizer_variables, weights_file_name
from easytx.errors import ArtifactError

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers
def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_until(code: str, args: list, ready: Path, *, timeout: float = 240.0) -> subprocess.Popen:
    """Start ``python -c code args``; return once it has written ``ready`` (it then waits)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early:\n{proc.stdout.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("child never reached the kill point")
        time.sleep(0.05)
    return proc


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def hidden_siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*"))


def folder_digest(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def two_predictors(trained, tmp_path_factory):
    """OLD (trained) and NEW (another head) predictors saved to disk, with their probabilities."""
    learner, t, test = trained
    texts = test.texts[:30]
    root = tmp_path_factory.mktemp("faults")
    old = easytx.get_predictor(learner.model, preproc=t)
    new = easytx.get_predictor(t.get_classifier(seed=3), preproc=t)
    old.save(root / "OLD")
    new.save(root / "NEW")
    hashes = {
        k: artifacts.read_manifest(root / k)["files"]["model/model.safetensors"] for k in ("OLD", "NEW")
    }
    # the tests below tell the two apart by these hashes and by their outputs
    assert hashes["OLD"] != hashes["NEW"], f"OLD and NEW saved identical weights: {hashes}"
    return {
        "hashes": hashes,
        "root": root,
        "OLD": root / "OLD",
        "NEW": root / "NEW",
        "texts": texts,
        "p_old": easytx.load_predictor(root / "OLD").predict_proba(texts),
        "p_new": easytx.load_predictor(root / "NEW").predict_proba(texts),
    }


# The child: write_folder(target) with the files of `source`, stopping at `point` until killed.
SAVE_CHILD = """
import json, shutil, sys, time
from pathlib import Path
from easytx import artifacts

target, source, point, ready = sys.argv[1:5]

def stop_here():
    Path(ready).write_text("ready")
    time.sleep(600)

def write_parts(tmp):
    shutil.copytree(Path(source) / "model", tmp / "model")
    if point == "writing-files":
        stop_here()
    shutil.copytree(Path(source) / "tokenizer", tmp / "tokenizer")

if point == "before-swap":
    artifacts._exchange = lambda a, b: stop_here()
if point == "between-renames":  # the fallback used where the atomic exchange is unavailable
    artifacts._exchange = lambda a, b: False
    move_aside = artifacts._move_aside
    def slow_move_aside(folder, old):
        move_aside(folder, old)
        stop_here()
    artifacts._move_aside = slow_move_aside

meta = json.loads((Path(source) / "easytx.json").read_text())
manifest = {k: v for k, v in meta.items() if k not in ("files", "schema_version")}
artifacts.write_folder(target, write_parts, manifest)
"""


@pytest.mark.parametrize(
    ("point", "expect"),
    [("writing-files", "OLD"), ("before-swap", "OLD"), ("between-renames", "NEW")],
)
@pytest.mark.integration
def test_save_killed_leaves_a_complete_predictor(two_predictors, tmp_path, caplog, point, expect):
    """SIGKILL during a save over an existing predictor: the folder still loads and predicts as the
    old predictor (or, killed between the fallback's two renames, as the complete new one)."""
    d = two_predictors
    target = tmp_path / "predictor"
    shutil.copytree(d["OLD"], target)
    before = folder_digest(target)
    proc = run_until(SAVE_CHILD, [target, d["NEW"], point, tmp_path / "ready"], tmp_path / "ready")
    sigkill(proc)
    if point != "between-renames":
        assert folder_digest(target) == before, "the old predictor was touched"
    else:
        assert not target.exists()  # the moment the atomic exchange avoids
    with caplog.at_level("WARNING", logger="easytx.artifacts"):
        loaded = easytx.load_predictor(target)
    np.testing.assert_array_equal(loaded.predict_proba(d["texts"]), d[f"p_{expect.lower()}"])
    if point == "between-renames":
        assert "the last save there was interrupted" in caplog.text
    assert hidden_siblings(target), "the killed save left its temporary folder"
    # the next save succeeds and tidies up what the dead process left
    meta = json.loads((d["OLD"] / "easytx.json").read_text())
    manifest = {k: v for k, v in meta.items() if k not in ("files", "schema_version")}
    artifacts.write_folder(
        target,
        lambda tmp: [shutil.copytree(d["OLD"] / part, tmp / part) for part in ("model", "tokenizer")],
        manifest,
    )
    assert hidden_siblings(target) == []
    np.testing.assert_array_equal(easytx.load_predictor(target).predict_proba(d["texts"]), d["p_old"])


WRITER_CHILD = """
import json, shutil, sys, time
from pathlib import Path
from easytx import artifacts

target, a, b, rounds, mode = sys.argv[1:6]
if mode == "fallback":
    artifacts._exchange = lambda x, y: False
for i in range(int(rounds)):
    source = Path(a if i % 2 else b)
    meta = json.loads((source / "easytx.json").read_text())
    manifest = {k: v for k, v in meta.items() if k not in ("files", "schema_version")}
    artifacts.write_folder(
        target, lambda tmp: [shutil.copytree(source / p, tmp / p) for p in ("model", "tokenizer")], manifest
    )
    time.sleep(0.05)  # each version stays long enough for the reader to see it (a save of the tiny
    # predictor can take less time than one verified read, and then the reader saw only one version)
"""


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_readers_never_find_no_predictor_during_saves(two_predictors, tmp_path, mode):
    """A reader verifying the folder in a loop while another process saves over it 30 times never
    fails: at every moment a complete predictor is there (exchange), or the reader waits for the
    second rename (fallback)."""
    d = two_predictors
    target = tmp_path / "predictor"
    shutil.copytree(d["OLD"], target)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(WRITER_CHILD),
            str(target),
            str(d["OLD"]),
            str(d["NEW"]),
            "30",
            mode,
        ],
        cwd=ROOT,
        env=_env(),
        stderr=subprocess.PIPE,
    )
    seen, reads = set(), 0
    while writer.poll() is None:
        meta = artifacts.read_manifest(target)  # raises if no complete predictor is found
        seen.add(meta["files"]["model/model.safetensors"])
        reads += 1
    assert writer.returncode == 0, writer.stderr.read().decode()[-2000:]
    artifacts.read_manifest(target)
    assert reads > 5 and seen == set(d["hashes"].values()), (reads, seen, d["hashes"])
    assert hidden_siblings(target) == []


def test_exchange_is_atomic_on_this_platform(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not artifacts._exchange(a, b):
        pytest.skip("no atomic exchange here: saves use the two-rename fallback (tested above)")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


# --------------------------------------------------------------------------- disk full, permissions
def _save_fails_cleanly(predictor, target: Path, before: dict, says: str) -> None:
    with pytest.raises(ArtifactError) as info:
        predictor.save(target)
    assert says in str(info.value)
    assert "Nothing was left half-written" in str(info.value) or "Cannot write" in str(info.value)
    assert folder_digest(target) == before, "the existing predictor changed"
    assert hidden_siblings(target) == [], "a half-written folder was left behind"


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_writing_weights(trained, two_predictors, tmp_path, monkeypatch):
    learner, t, _ = trained
    predictor = easytx.get_predictor(learner.model, preproc=t)
    target = tmp_path / "predictor"
    shutil.copytree(two_predictors["NEW"], target)
    before = folder_digest(target)
    original = easytx.backend.save_model

    def partial_then_full(model, folder):
        original(model, folder)
        with open(Path(folder) / "model.safetensors", "r+b") as handle:
            handle.truncate(1000)  # what a full disk leaves
        _enospc()

    monkeypatch.setattr(easytx.backend, "save_model", partial_then_full)
    _save_fails_cleanly(predictor, target, before, "No space left on device")


def test_disk_full_reported_by_the_safetensors_writer(trained, two_predictors, tmp_path, monkeypatch):
    """safetensors raises its own exception class (not OSError) when the disk is full."""
    learner, t, _ = trained
    predictor = easytx.get_predictor(learner.model, preproc=t)
    target = tmp_path / "predictor"
    shutil.copytree(two_predictors["NEW"], target)
    before = folder_digest(target)

    def raise_like_safetensors(model, folder):
        Path(folder).mkdir(parents=True)
        (Path(folder) / "model.safetensors").write_bytes(b"\0" * 100)
        raise Exception("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")  # noqa: TRY002

    monkeypatch.setattr(easytx.backend, "save_model", raise_like_safetensors)
    _save_fails_cleanly(predictor, target, before, "StorageFull")


def test_disk_full_while_writing_the_manifest(trained, tmp_path, monkeypatch):
    learner, t, _ = trained
    predictor = easytx.get_predictor(learner.model, preproc=t)
    target = tmp_path / "new_predictor"
    monkeypatch.setattr(artifacts, "_write_manifest", _enospc)
    with pytest.raises(ArtifactError, match="No space left on device"):
        predictor.save(target)
    assert not target.exists() and hidden_siblings(target) == []


def _run_unprivileged(func) -> dict:
    """Run ``func()`` in a forked child that, if we are root, drops to uid 65534 (nobody), so the
    kernel enforces folder permissions as for an ordinary user. Returns the outcome."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no TensorFlow calls here, only file operations
        code = 0
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                func()
                out = {"raised": None}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                out = {"raised": type(exc).__name__, "message": str(exc)}
            os.write(write, json.dumps(out).encode())
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    deadline = time.monotonic() + 60
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("unprivileged child hung")
        time.sleep(0.05)
    with os.fdopen(read, "rb") as handle:
        return json.loads(handle.read().decode() or '{"raised": "nothing reported"}')


def test_permission_denied_is_a_clear_error_and_changes_nothing(two_predictors):
    shared = Path(tempfile.mkdtemp(prefix="easytx-ro-"))  # outside pytest's private (0700) tmp
    try:
        shared.chmod(0o755)
        readonly = shared / "readonly"
        shutil.copytree(two_predictors["OLD"], readonly / "predictor")
        for path in [readonly, *readonly.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        before = folder_digest(readonly / "predictor")

        def write_parts(tmp):
            (tmp / "model").mkdir()
            (tmp / "model" / "config.json").write_text("{}")

        for name in ("predictor", "fresh"):
            outcome = _run_unprivileged(
                lambda name=name: artifacts.write_folder(readonly / name, write_parts, {"task": "x"})
            )
            assert outcome["raised"] == "ArtifactError", outcome
            assert "Permission denied" in outcome["message"] and str(readonly) in outcome["message"]
        assert folder_digest(readonly / "predictor") == before
        assert sorted(p.name for p in readonly.iterdir()) == ["predictor"]
    finally:
        for path in [shared, *shared.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(shared)


def test_saving_onto_a_file_or_a_foreign_folder_is_refused(trained, tmp_path):
    learner, t, _ = trained
    predictor = easytx.get_predictor(learner.model, preproc=t)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="is a file, not a folder"):
        predictor.save(tmp_path / "file")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ArtifactError, match="is not an easytx predictor; refusing to replace it"):
        predictor.save(tmp_path / "photos")
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"\xff\xd8"


# --------------------------------------------------------------------------- training: crash and resume
def _learner(tiny_bert, data, seed=0):
    train, test = data
    t = text.Transformer(tiny_bert, maxlen="auto", verbose=0)
    trn, val = t.preprocess_train(train), t.preprocess_test(test)
    return easytx.get_learner(
        t.get_classifier(seed=seed), train_data=trn, val_data=val, batch_size=16, seed=seed
    )


def _expected_lrs(lr: float, epochs: int, steps: int, start: int) -> np.ndarray:
    schedule = partial(
        schedules.one_cycle,
        max_lr=lr,
        pct_start=0.25,
        div_factor=25.0,
        final_div_factor=1e4,
        moms=(0.95, 0.85),
    )
    total = epochs * steps
    return np.array([schedule(min(s / total, 1.0))[0] for s in range(start, total)])


@pytest.mark.integration
def test_ctrl_c_keeps_best_weights_then_resume_continues_the_schedule(
    tiny_bert, small_data, tmp_path, caplog
):
    """Ctrl-C in epoch 3 of 3 rolls the model back to its best validated epoch; a new learner then
    resumes from the checkpoint: same weights, same optimizer state (step count, Adam moments),
    and the one-cycle schedule continues at the step where it stopped."""
    lr, epochs, folder = 5e-3, 3, tmp_path / "ckpt"
    first = _learner(tiny_bert, small_data)
    steps = first.steps_per_epoch
    ends = []
    keras = keras_of(first.model)  # the user's callbacks come from the model's own Keras

    class CtrlCInEpoch3(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            optimizer = [v.numpy().copy() for v in optimizer_variables(self.model.optimizer)]
            ends.append({"val_loss": logs["val_loss"], "weights": self.model.get_weights(), "opt": optimizer})

        def on_train_batch_begin(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == 2 * steps + 2:
                raise KeyboardInterrupt

    with caplog.at_level("INFO", logger="easytx"):
        first.fit_onecycle(
            lr, epochs, checkpoint_folder=folder, resume=True, callbacks=[CtrlCInEpoch3()], verbose=0
        )
    assert "No checkpoint in" in caplog.text  # resume=True on an empty folder starts from the beginning
    best = min(range(2), key=lambda i: ends[i]["val_loss"])
    for a, b in zip(first.model.get_weights(), ends[best]["weights"]):
        np.testing.assert_array_equal(a, b)
    assert f"restored the weights of epoch {best + 1}" in caplog.text
    assert len(first.history.history["val_loss"]) == 2
    progress = json.loads((folder / "progress.json").read_text())
    assert progress["epoch"] == 2 and progress["schedule_step"] == 2 * steps
    assert sorted(p.name for p in folder.iterdir()) == [
        "optimizer-02.safetensors",  # only the latest optimizer state is kept
        "progress.json",
        weights_file_name(first.model, "weights-01"),
        weights_file_name(first.model, "weights-02"),
    ]

    second = _learner(tiny_bert, small_data)  # what a new process would build
    seen = {}

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["weights"] = self.model.get_weights()
            seen["opt"] = [v.numpy().copy() for v in optimizer_variables(self.model.optimizer)]

    history = second.fit_onecycle(
        lr, epochs, checkpoint_folder=folder, resume=True, callbacks=[Spy()], verbose=0
    )
    for a, b in zip(seen["weights"], ends[1]["weights"]):
        np.testing.assert_array_equal(a, b)
    assert len(seen["opt"]) == len(ends[1]["opt"]) > 10
    for a, b in zip(seen["opt"], ends[1]["opt"]):
        np.testing.assert_array_equal(a, b)  # step count and both Adam moments
    assert history.epoch == [2]
    np.testing.assert_allclose(
        second.batch_history["lr"], _expected_lrs(lr, epochs, steps, 2 * steps), rtol=1e-5
    )
    assert int(second.model.optimizer.iterations.numpy()) == epochs * steps
    assert json.loads((folder / "progress.json").read_text())["epoch"] == 3

    finished = second.model.get_weights()
    assert second.fit_onecycle(lr, epochs, checkpoint_folder=folder, resume=True, verbose=0) is history
    assert len(second.batch_history["lr"]) == steps  # already at the last epoch: nothing trained
    for a, b in zip(second.model.get_weights(), finished):
        np.testing.assert_array_equal(a, b)

    # a fresh run (resume=False) into the same folder sets the old record aside, so a crash in
    # its first epoch can never resume the earlier run by mistake
    with caplog.at_level("WARNING", logger="easytx"):
        second.fit_onecycle(lr, 1, checkpoint_folder=folder, verbose=0)
    assert "held a checkpoint of an earlier run" in caplog.text
    assert json.loads((folder / "progress-previous.json").read_text())["epoch"] == 3
    assert json.loads((folder / "progress.json").read_text())["run"]["epochs"] == 1


TRAIN_CHILD = """
import sys, time
from pathlib import Path
import easytx
from easytx import text
from easytx._keras import keras_of
from easytx.testing import keyword_dataset

model_dir, folder, ready = sys.argv[1:4]
x, y = keyword_dataset(200, seed=11)
train, test = easytx.train_test_split(x, y, test_size=0.2, random_state=0)
t = text.Transformer(model_dir, maxlen="auto", verbose=0)
trn, val = t.preprocess_train(train), t.preprocess_test(test)
learner = easytx.get_learner(t.get_classifier(seed=0), train_data=trn, val_data=val, batch_size=16, seed=0)

class StopMidEpoch2(keras_of(learner.model).callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.model.optimizer.iterations.numpy() == learner.steps_per_epoch + 3:
            Path(ready).write_text("ready")
            time.sleep(600)

learner.fit_onecycle(5e-3, 3, checkpoint_folder=folder, callbacks=[StopMidEpoch2()], verbose=0)
"""


@pytest.mark.slow
def test_training_process_killed_mid_epoch_resumes(tiny_bert, small_data, tmp_path):
    """SIGKILL a training process three batches into epoch 2; resume here: it restarts at epoch 2
    (only the partial epoch is lost) and the one-cycle schedule continues where it stopped."""
    folder, ready = tmp_path / "ckpt", tmp_path / "ready"
    sigkill(run_until(TRAIN_CHILD, [tiny_bert, folder, ready], ready))
    progress = json.loads((folder / "progress.json").read_text())
    assert progress["epoch"] == 1
    learner = _learner(tiny_bert, small_data)
    assert not (folder / weights_file_name(learner.model, "weights-02")).exists()
    steps = learner.steps_per_epoch
    history = learner.fit_onecycle(5e-3, 3, checkpoint_folder=folder, resume=True, verbose=0)
    assert history.epoch == [1, 2]
    np.testing.assert_allclose(learner.batch_history["lr"], _expected_lrs(5e-3, 3, steps, steps), rtol=1e-5)
    assert history.history["val_loss"][-1] < progress["logs"]["val_loss"]


SAVE_PREDICTOR_CHILD = """
import sys, time
from pathlib import Path
import easytx
from easytx import backend

target, source, ready = sys.argv[1:4]
predictor = easytx.load_predictor(source)
write_model = backend.save_model

def slow_save_model(model, folder):
    write_model(model, folder)
    Path(ready).write_text("ready")
    time.sleep(600)

backend.save_model = slow_save_model
predictor.save(target)
"""


@pytest.mark.slow
def test_predictor_save_killed_keeps_the_old_predictor(two_predictors, tmp_path):
    """A real ``predictor.save`` over an existing predictor, SIGKILLed after writing the new weights."""
    d = two_predictors
    target = tmp_path / "predictor"
    shutil.copytree(d["OLD"], target)
    before = folder_digest(target)
    sigkill(run_until(SAVE_PREDICTOR_CHILD, [target, d["NEW"], tmp_path / "ready"], tmp_path / "ready"))
    assert folder_digest(target) == before
    np.testing.assert_array_equal(easytx.load_predictor(target).predict_proba(d["texts"]), d["p_old"])


def test_threads_loading_during_a_save_get_a_whole_predictor(two_predictors, tmp_path):
    """Predictor.load in a thread while this thread saves over the folder: each load gets one
    complete predictor (old or new), never a mix."""
    d = two_predictors
    target = tmp_path / "predictor"
    shutil.copytree(d["OLD"], target)
    results, errors = [], []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                results.append(easytx.load_predictor(target).predict_proba(d["texts"][:5]))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    new = easytx.load_predictor(d["NEW"])
    old = easytx.load_predictor(d["OLD"])
    for i in range(4):
        (new if i % 2 == 0 else old).save(target)
    stop.set()
    thread.join()
    assert not errors, errors
    assert results
    # reference outputs on the same five texts (a batch of 5 pads differently from one of 30, and
    # the last float digits depend on the CPU's kernels for that shape)
    ref_old, ref_new = (easytx.load_predictor(d[k]).predict_proba(d["texts"][:5]) for k in ("OLD", "NEW"))
    assert np.abs(ref_old - ref_new).max() > 0.1  # the two predictors are told apart below
    for proba in results:
        assert np.allclose(proba, ref_old, rtol=0, atol=1e-6) or np.allclose(
            proba, ref_new, rtol=0, atol=1e-6
        )
