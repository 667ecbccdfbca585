"""The ``easytx`` command line, end to end in subprocesses (train -> info -> predict -> evaluate),
plus in-process checks of --help, the one-line errors and the input/output formats."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from easytx.cli import main
from easytx.testing import keyword_dataset

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, input: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m easytx ARGS`` with this checkout's easytx first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "easytx", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1 and lines[0].startswith("easytx: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli")
    x, y = keyword_dataset(300, seed=3)
    pd.DataFrame({"text": x[:240], "label": y[:240]}).to_csv(root / "train.csv", index=False)
    test = pd.DataFrame({"id": range(60), "text": x[240:], "label": y[240:]})
    test.to_csv(root / "test.csv", index=False)
    return {"root": root, "train": root / "train.csv", "test": root / "test.csv", "test_frame": test}


@pytest.fixture(scope="module")
def cli_predictor(files, tiny_bert) -> Path:
    """A predictor trained by `easytx train` in a subprocess (the tests check plumbing and compare
    with the same predictor loaded in-process, not accuracy; 4 epochs of 15 steps, so that it
    has learned its keywords and reading a long text in windows changes its answer)."""
    out = files["root"] / "predictor"
    result = run_cli(
        "train",
        str(files["train"]),
        "--model",
        str(tiny_bert),
        "--output",
        str(out),
        "--val",
        str(files["test"]),
        "--epochs",
        "4",
        "--lr",
        "5e-3",
        "--batch-size",
        "16",
        "--maxlen",
        "32",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation: accuracy" in result.stdout
    assert f"saved predictor to {out}" in result.stdout
    return out


@pytest.fixture(scope="module")
def reference(cli_predictor):
    """The CLI-trained predictor loaded in this process: what every command must agree with."""
    import easytx

    return easytx.load_predictor(cli_predictor)


def test_help_everywhere_without_tensorflow(capsys):
    for command in ("train", "evaluate", "predict", "info", "export", "serve"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert f"usage: easytx {command}" in capsys.readouterr().out
    # the module entry point works, and --help does not load TensorFlow
    probe = "import sys, easytx.cli; assert 'tensorflow' not in sys.modules; print('ok')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.stdout.strip() == "ok", done.stderr
    result = run_cli("--help")
    assert result.returncode == 0 and "predict" in result.stdout and "serve" in result.stdout


@pytest.mark.integration
def test_train_info_predict_evaluate_end_to_end(cli_predictor, reference, files):
    """train (fixture) -> info -> predict (streamed from stdin) -> evaluate, each a subprocess."""
    # info: no TensorFlow needed; verifies checksums
    info = run_cli("info", str(cli_predictor))
    assert info.returncode == 0, info.stderr
    assert "classification" in info.stdout and "neg, pos" in info.stdout and "checksums OK" in info.stdout
    facts = json.loads(run_cli("info", str(cli_predictor), "--json").stdout)
    assert facts["classes"] == ["neg", "pos"] and 0.0 <= facts["metrics"]["accuracy"] <= 1.0

    # predict from stdin: the first chunk's answers arrive while stdin is still open; order is kept
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "easytx", "predict", str(cli_predictor), "--chunk-size", "4", "--proba"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
    )
    try:
        first = ["the film was superb.", "an awful plot.", "", "café ☕ was lovely."]
        proc.stdin.write("\n".join(first) + "\n")
        proc.stdin.flush()
        early = [json.loads(proc.stdout.readline()) for _ in first]  # stdin still open
        assert [r["text"] for r in early] == first
        assert [r["prediction"] for r in early] == reference.predict(first)
        rest = files["test_frame"]["text"].tolist()
        proc.stdin.write("\n".join(rest) + "\n")
        proc.stdin.close()
        later = [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [r["text"] for r in later] == rest
    assert [r["prediction"] for r in later] == reference.predict(rest)
    got = np.array([[r["probabilities"]["neg"], r["probabilities"]["pos"]] for r in later])
    np.testing.assert_allclose(got, reference.predict_proba(rest), atol=2e-6)
    accuracy = float(np.mean(np.array([r["prediction"] for r in later]) == files["test_frame"]["label"]))

    # evaluate agrees with the predictions
    result = run_cli("evaluate", str(cli_predictor), str(files["test"]), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["n"] == 60 and report["classes"] == ["neg", "pos"]
    assert report["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert sum(map(sum, report["confusion_matrix"])) == 60


def test_evaluate_report_and_formats_in_process(cli_predictor, reference, files, capsys, tmp_path):
    assert main(["evaluate", str(cli_predictor), str(files["test"])]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "confusion matrix" in out and "metrics: accuracy" in out

    # CSV in, CSV out: every row, in order, input columns passed through, probabilities
    dest_csv = tmp_path / "pred.csv"
    args = ["predict", str(cli_predictor), str(files["test"]), "-o", str(dest_csv), "--proba", "-q"]
    assert main(args + ["--chunk-size", "7"]) == 0
    pred = pd.read_csv(dest_csv)
    test = files["test_frame"]
    assert list(pred.columns) == ["id", "text", "label", "prediction", "proba_neg", "proba_pos"]
    assert pred["id"].tolist() == test["id"].tolist() and pred["text"].tolist() == test["text"].tolist()
    assert pred["prediction"].tolist() == reference.predict(test["text"].tolist())
    expected = reference.predict_proba(test["text"].tolist())
    np.testing.assert_allclose(pred[["proba_neg", "proba_pos"]].to_numpy(), expected, atol=2e-6)

    # JSONL in (extra fields passed through, a bare string line too), JSONL out with probabilities
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": 7, "text": "the film was superb."}) + "\n\n" + json.dumps("an awful plot.") + "\n",
        encoding="utf-8",
    )
    dest = tmp_path / "out.jsonl"
    assert main(["predict", str(cli_predictor), str(src), "-o", str(dest), "--proba", "-q"]) == 0
    rows = [json.loads(line) for line in dest.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in rows] == [7, None]
    assert [r["prediction"] for r in rows] == reference.predict(["the film was superb.", "an awful plot."])
    assert set(rows[0]["probabilities"]) == {"neg", "pos"}

    # plain lines in, one label per line out (.txt)
    lines = tmp_path / "in.txt"
    lines.write_text("a wonderful cast\n\na terrible ending\n", encoding="utf-8")
    labels = tmp_path / "labels.txt"
    assert main(["predict", str(cli_predictor), str(lines), "-o", str(labels), "-q"]) == 0
    got = labels.read_text(encoding="utf-8").splitlines()
    assert got == reference.predict(["a wonderful cast", "", "a terrible ending"])

    # TSV out keeps the input columns
    tsv = tmp_path / "out.tsv"
    assert main(["predict", str(cli_predictor), str(files["test"]), "-o", str(tsv), "-q"]) == 0
    with open(tsv, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle, delimiter="\t"))
    assert header == ["id", "text", "label", "prediction"]


def test_predict_and_evaluate_read_long_texts_in_windows(cli_predictor, reference, tmp_path, capsys):
    """Texts longer than maxlen (32) are read in sliding windows, as Predictor.predict reads them;
    --no-windows truncates them."""
    from easytx.testing import long_keyword_dataset

    texts, labels = long_keyword_dataset(6, filler_words=50, seed=2)
    src = tmp_path / "long.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(src, index=False)
    read, cut = reference.predict_proba(texts), reference.predict_proba(texts, windows=False)
    # the two options differ on these texts, and
    # the CLI gives each option's numbers to the last digits
    assert (np.abs(read - cut).max(axis=1) > 2e-6).all()
    for option, expected in (([], read), (["--no-windows"], cut)):
        dest = tmp_path / "pred.csv"
        assert main(["predict", str(cli_predictor), str(src), "-o", str(dest), "--proba", "-q", *option]) == 0
        pred = pd.read_csv(dest)
        np.testing.assert_allclose(pred[["proba_neg", "proba_pos"]].to_numpy(), expected, rtol=0, atol=5e-7)
        assert pred["prediction"].tolist() == [("neg", "pos")[int(row[1] > row[0])] for row in expected]
        assert main(["evaluate", str(cli_predictor), str(src), "--json", "-q", *option]) == 0
        accuracy = json.loads(capsys.readouterr().out)["metrics"]["accuracy"]
        assert accuracy == pytest.approx(np.mean(np.array(labels) == np.array(pred["prediction"])))


@pytest.mark.slow  # lr_find sweeps 100 batches before training
def test_train_with_lr_auto_in_process(files, tiny_bert, tmp_path, capsys):
    out = tmp_path / "auto"
    code = main(
        ["train", str(files["train"]), "--model", str(tiny_bert), "-o", str(out), "--lr", "auto"]
        + ["--epochs", "1", "--batch-size", "8", "--maxlen", "32", "-q"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    lr_line = next(line for line in printed.splitlines() if line.startswith("learning rate"))
    assert float(lr_line.rsplit(" ", 1)[1]) > 0
    assert json.loads((out / "easytx.json").read_text())["preprocessing"]["maxlen"] == 32


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["train", "{root}/missing.csv", "--model", "m", "-o", "{root}/p"], ["No such file", "missing.csv"]),
        (
            ["train", "{train}", "--model", "m", "-o", "{root}/p", "--text-column", "txt"],
            ["Column 'txt' not found", "Did you mean 'text'?"],
        ),
        (["train", "{train}", "--model", "m", "-o", "{train}"], ["is a file"]),
        (["info", "{root}"], ["not an easytx predictor"]),
        (["predict", "{root}/nope", "{test}"], ["No predictor folder"]),
        (["predict", "{predictor}", "{root}/none.csv"], ["No such file"]),
        (["predict", "{predictor}", "{test}", "--text-column", "body"], ["Column 'body' not found"]),
        (["predict", "{predictor}", "{test}", "-o", "{test}"], ["is the input file"]),
        (["predict", "{predictor}", "{test}", "-o", "{root}/x.txt", "--proba"], ["--proba needs"]),
        (["evaluate", "{predictor}", "{test}", "--label-column", "lab"], ["Column 'lab' not found"]),
        (["export", "{predictor}", "{root}/exp", "--format", "saved_model"], None),
    ],
)
def test_user_errors_are_one_line(argv, fragments, files, cli_predictor, capsys):
    if fragments is None:  # the export target exists and is not empty
        (files["root"] / "exp").mkdir(exist_ok=True)
        (files["root"] / "exp" / "keep.txt").write_text("x")
        fragments = ["already exists and is not empty"]
    names = dict(root=files["root"], train=files["train"], test=files["test"], predictor=cli_predictor)
    code = main([a.format(**names) for a in argv])
    captured = capsys.readouterr()
    assert code == 1
    assert_one_line_error(captured.err, *fragments)


def test_bad_option_values_are_usage_errors(capsys):
    for argv in (
        ["train", "d.csv", "--model", "m", "-o", "p", "--lr", "-1"],
        ["train", "d.csv", "--model", "m", "-o", "p", "--maxlen", "zero"],
        ["train", "d.csv", "--model", "m", "-o", "p", "--val-pct", "1.5"],
        ["serve", "p", "--port", "70000"],
        ["predict"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "Traceback" not in capsys.readouterr().err


def test_serve_without_fastapi_names_the_pip_command(cli_predictor, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    assert main(["serve", str(cli_predictor)]) == 1
    assert_one_line_error(capsys.readouterr().err, "pip install 'easytx-nlp[serve]'", "fastapi")
