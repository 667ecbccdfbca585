"""The saved-predictor folder format: atomic writes, checksums, schema versions. No pickle, ever.

::

    my_predictor/
      easytx.json   schema_version, versions, task, labels, maxlen, preprocessing options,
                    metrics at save time, sha256 of every other file
      model/        save_pretrained output: config.json + TensorFlow-layout model.safetensors
      tokenizer/    save_pretrained output (tokenizer.json, vocabulary, special tokens)

This module imports no TensorFlow: it writes and checks folders; :mod:`easytx.backend` reads the
model inside them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ArtifactError

logger = logging.getLogger(__name__)

__all__ = ["SCHEMA_VERSION", "MANIFEST", "write_folder", "read_manifest", "sha256_file"]

SCHEMA_VERSION = 1
MANIFEST = "easytx.json"
#: file suffixes refused inside a predictor folder: they can execute code when loaded
_FORBIDDEN_SUFFIXES = {
    ".pkl",
    ".pickle",
    ".bin",
    ".pt",
    ".pth",
    ".joblib",
    ".dill",
    ".npy",
    ".py",
    ".pyc",
    ".so",
    ".keras",
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def write_folder(folder: str | os.PathLike, write_parts: Callable[[Path], None], manifest: dict) -> Path:
    """Write a predictor folder atomically.

    ``write_parts(tmp)`` writes ``model/`` and ``tokenizer/`` into a temporary sibling folder; the
    checksums and ``easytx.json`` are added, the files flushed to disk, and the folder renamed into
    place. An existing predictor at ``folder`` is replaced only after the new one is complete, so
    a crash leaves either the old or the new predictor, never half of one.
    """
    folder = Path(folder).expanduser().absolute()
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=parent))
    except OSError as exc:
        raise ArtifactError(f"Cannot write a predictor into {parent}: {exc.strerror or exc}.") from None
    try:
        write_parts(tmp)
        checksums = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in _files(tmp)}
        data = {"schema_version": SCHEMA_VERSION, **manifest, "files": checksums}
        (tmp / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        _fsync_tree(tmp)
        if folder.exists():
            if not (folder / MANIFEST).is_file() and any(folder.iterdir()):
                raise ArtifactError(
                    f"{folder} exists and is not an easytx predictor; refusing to replace it. "
                    "Choose another path or remove the folder."
                )
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=parent))
            old.rmdir()
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(
            f"Saving the predictor to {folder} failed: {exc.strerror or exc}. Nothing was left "
            "half-written; check free disk space and permissions."
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("Saved predictor to %s", folder)
    return folder


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """Read and verify a predictor folder; return its ``easytx.json`` contents.

    Checks: the folder and manifest exist, the schema is one this easytx reads, no file can run
    code when loaded (pickles, Python files), no symbolic link points outside the folder, and
    every file's sha256 matches the manifest.

    Raises
    ------
    ArtifactError
        Naming the file and what is wrong with it.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ArtifactError(f"No predictor folder at {folder}.")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        hint = ""
        if (folder / "tf_model.preproc").exists():
            hint = (
                " It looks like a ktrain predictor: easytx never unpickles its "
                "tf_model.preproc (a pickle can run arbitrary code). Re-train with easytx, "
                "or rebuild a predictor from its model weights and class names."
            )
        raise ArtifactError(f"{folder} is not an easytx predictor (no {MANIFEST}).{hint}")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{manifest_path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("schema_version"), int):
        raise ArtifactError(f"{manifest_path} has no integer schema_version.")
    if data["schema_version"] > SCHEMA_VERSION:
        raise ArtifactError(
            f"{folder} was saved with predictor schema {data['schema_version']} by easytx "
            f"{data.get('versions', {}).get('easytx', '?')}; this easytx reads schema "
            f"{SCHEMA_VERSION} and older. Upgrade easytx (pip install -U easytx)."
        )
    root = folder.resolve()
    for path in folder.rglob("*"):
        if path.is_symlink():
            target = path.resolve()
            if root not in target.parents and target != root:
                raise ArtifactError(f"{path} is a symbolic link out of the predictor folder.")
        if path.is_file() and path.suffix.lower() in _FORBIDDEN_SUFFIXES:
            raise ArtifactError(
                f"{path} is a {path.suffix} file, which can run code when loaded; easytx "
                "predictors never contain one. Refusing to load this folder."
            )
    expected = data.get("files")
    if not isinstance(expected, dict) or not expected:
        raise ArtifactError(f"{manifest_path} lists no files and checksums.")
    for relative, digest in expected.items():
        path = folder / relative
        if not path.is_file():
            raise ArtifactError(f"{path} is missing from the predictor folder.")
        if sha256_file(path) != digest:
            raise ArtifactError(
                f"{path} does not match its checksum in {MANIFEST}: the file was changed or "
                "damaged after saving."
            )
    extra = [
        p.relative_to(folder).as_posix()
        for p in _files(folder)
        if p.relative_to(folder).as_posix() not in expected
    ]
    if extra:
        raise ArtifactError(f"{folder} holds files not listed in {MANIFEST}: {extra[:5]}.")
    return data
