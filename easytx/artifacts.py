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

import errno
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ArtifactError

logger = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_VERSION",
    "MANIFEST",
    "write_folder",
    "read_manifest",
    "resolve_folder",
    "sha256_file",
    "check_no_code",
    "check_h5_weights_only",
]

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
    ".ckpt",
    ".preproc",  # ktrain's pickled preprocessor
    ".h5",  # a Keras .h5 can hold a whole model, Lambda layers (Python bytecode) included
    ".hdf5",
}
#: keys of a Hugging Face JSON file that make transformers import Python code from the folder or hub
_CODE_KEYS = ("auto_map", "custom_pipelines", "trust_remote_code")
#: files whose content is never sniffed for pickles (their loaders cannot run code)
_SAFE_CONTAINERS = (".safetensors",)


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
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames) to disk where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- atomic replace
def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; ``False`` where the OS or file system cannot.

    Linux ``renameat2(RENAME_EXCHANGE)`` (glibc >= 2.28) or macOS ``renamex_np(RENAME_SWAP)``: at no
    instant is either path missing, so a reader always finds a complete predictor.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to ask
        return False
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        func = libc.renameat2
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        at_fdcwd, rename_exchange = -100, 2
        result = func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):  # pragma: no cover - macOS
        func = libc.renamex_np
        func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        result = func(os.fsencode(a), os.fsencode(b), 0x2)
    else:  # pragma: no cover - other platforms use the two-rename fallback
        return False
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _move_aside(folder: Path, old: Path) -> None:
    """First half of the two-rename fallback (a crash right after it is recovered on load)."""
    folder.rename(old)


def _sibling(folder: Path, kind: str) -> Path:
    """A new hidden sibling path ``.NAME.KIND-PID-XXXX`` (the pid lets later saves tidy up)."""
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.{kind}-{os.getpid()}-", dir=folder.parent))


def _stale_siblings(folder: Path) -> list[Path]:
    """Hidden temporary siblings left by saves whose process is gone."""
    out = []
    for kind in ("tmp", "old"):
        for path in folder.parent.glob(f".{folder.name}.{kind}-*"):
            pid = path.name[len(f".{folder.name}.{kind}-") :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                out.append(path)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def _write_manifest(tmp: Path, data: dict) -> None:
    (tmp / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")


def write_folder(folder: str | os.PathLike, write_parts: Callable[[Path], None], manifest: dict) -> Path:
    """Write a predictor folder atomically.

    ``write_parts(tmp)`` writes ``model/`` and ``tokenizer/`` into a temporary sibling folder; the
    checksums and ``easytx.json`` (written last) are added, the files flushed to disk, and the
    folder moved into place. An existing predictor at ``folder`` is replaced by an atomic exchange
    of the two folders (Linux, macOS), so at every instant ``folder`` holds either the complete old
    or the complete new predictor. Where the exchange is not available, the old folder is renamed
    aside first; a crash between the two renames leaves no folder at ``folder``, and
    :func:`read_manifest` then loads the aside copy (see :func:`resolve_folder`).

    Raises
    ------
    ArtifactError
        The folder could not be written (permission denied, disk full, ...): nothing is left
        half-written and an existing predictor at ``folder`` is unchanged.
    """
    folder = Path(folder).expanduser().absolute()
    parent = folder.parent
    if folder.exists() and not folder.is_dir():
        raise ArtifactError(f"{folder} is a file, not a folder; choose another path for the predictor.")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = _sibling(folder, "tmp")
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write a predictor into {parent}: {exc.strerror or exc}. Check the folder's "
            "permissions and free disk space, or choose another path."
        ) from None
    try:
        write_parts(tmp)
        checksums = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in _files(tmp)}
        # a fresh save_id makes every save's manifest unique, so readers can tell saves apart
        data = {"schema_version": SCHEMA_VERSION, **manifest, "save_id": uuid.uuid4().hex, "files": checksums}
        _write_manifest(tmp, data)
        _fsync_tree(tmp)
        if folder.exists():
            if not (folder / MANIFEST).is_file() and any(folder.iterdir()):
                raise ArtifactError(
                    f"{folder} exists and is not an easytx predictor; refusing to replace it. "
                    "Choose another path or remove the folder."
                )
            if _exchange(tmp, folder):
                _fsync_dir(parent)
                shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old predictor
            else:
                old = _sibling(folder, "old")
                old.rmdir()
                _move_aside(folder, old)
                tmp.rename(folder)
                _fsync_dir(parent)
                shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
            _fsync_dir(parent)
    except ArtifactError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArtifactError(
            f"Saving the predictor to {folder} failed: {exc.strerror or exc}. Nothing was left "
            "half-written and any predictor already there is unchanged; check free disk space "
            "and permissions."
        ) from exc
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArtifactError(
            f"Saving the predictor to {folder} failed: {type(exc).__name__}: {exc}. Nothing was "
            "left half-written and any predictor already there is unchanged."
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in _stale_siblings(folder):
        shutil.rmtree(stale, ignore_errors=True)
    logger.info("Saved predictor to %s", folder)
    return folder


def resolve_folder(folder: str | os.PathLike, *, wait: float = 0.5) -> list[Path]:
    """Folders to try for ``folder``: itself, or the copies a crashed save left aside.

    Only the two-rename fallback of :func:`write_folder` has a moment without ``folder``; if
    ``folder`` is missing, this waits up to ``wait`` seconds for a concurrent save to finish, then
    returns the complete hidden siblings that save left (newest first). Each is verified by
    :func:`read_manifest` before use.
    """
    folder = Path(folder).expanduser()
    deadline = time.monotonic() + wait
    while True:
        if folder.exists():
            return [folder]
        siblings = [p for kind in ("tmp", "old") for p in folder.parent.glob(f".{folder.name}.{kind}-*")]
        complete = [p for p in siblings if (p / MANIFEST).is_file()]
        # no sibling at all: no save is under way (a wrong path, or nothing saved yet); siblings
        # but none complete: a save is between its renames or tidying up, so wait for it
        if not siblings or time.monotonic() >= deadline:
            return sorted(complete, key=_mtime, reverse=True) or [folder]
        time.sleep(0.02)


def _mtime(path: Path) -> float:
    try:
        return (path / MANIFEST).stat().st_mtime
    except OSError:
        return 0.0


# --------------------------------------------------------------------------- content checks
def _looks_like_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def check_no_code(path: Path) -> None:
    """Refuse a file that could make a loader run code; raise :class:`ArtifactError` naming it.

    Refused: pickles and other executable formats by suffix (``.pkl``, ``.bin``, ``.pt``, ``.h5``,
    ``.py``, ...), pickles and zip archives (PyTorch, ``.keras``) whatever their name, and JSON
    files that ask transformers to import code (``auto_map``, ``custom_pipelines``).
    """
    suffix = path.suffix.lower()
    if suffix in _FORBIDDEN_SUFFIXES:
        raise ArtifactError(
            f"{path} is a {suffix} file, which can run code when loaded; easytx predictors never "
            "contain one. Refusing to load this folder."
        )
    if suffix in _SAFE_CONTAINERS:
        return
    with open(path, "rb") as handle:
        head = handle.read(4)
    if _looks_like_pickle(head) or head == b"PK\x03\x04":
        kind = "a pickle" if _looks_like_pickle(head) else "a zip archive (PyTorch/Keras model format)"
        raise ArtifactError(
            f"{path} is {kind} despite its name; loading it could run code. Refusing to load this folder."
        )
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{path} is not valid JSON: {exc}.") from None
        keys = [k for k in _CODE_KEYS if isinstance(data, dict) and k in data]
        if keys:
            raise ArtifactError(
                f"{path} sets {keys[0]!r}, which asks transformers to import Python code from the "
                "folder or the hub. easytx never runs such code; refusing to load this folder."
            )


def check_h5_weights_only(path: Path) -> None:
    """Refuse an ``.h5`` file that holds a whole Keras model (config + possibly Lambda bytecode).

    Two weights-only layouts are accepted: tf-keras / Hugging Face ``tf_model.h5`` files (a
    ``layer_names`` attribute at the root) and Keras 3 ``.weights.h5`` files (``save_weights``: a
    root ``vars`` group and no attributes, written by the ``keras3`` backend's checkpoints). A file
    with a ``model_config`` attribute or a ``model_weights`` group was written by ``model.save()``,
    and loading it as a model would deserialize its layers, Lambda functions included. Reads the
    file's structure only, with h5py.
    """
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            attrs = set(handle.attrs)
            keys = set(handle.keys())
            keras3_layout = isinstance(handle.get("vars"), h5py.Group)
    except OSError as exc:
        raise ArtifactError(f"{path} is not a readable HDF5 weights file: {exc}.") from None
    if "model_config" in attrs or "model_weights" in keys:
        raise ArtifactError(
            f"{path} holds a whole Keras model (its layers' configuration and possibly Python code), "
            "not weights only. easytx reads only weights files and will not deserialize it."
        )
    if "layer_names" not in attrs and not (keras3_layout and not attrs):
        raise ArtifactError(
            f"{path} holds no Keras weights: neither a tf-keras weights file (a 'layer_names' "
            "attribute) nor a Keras 3 .weights.h5 file (a root 'vars' group)."
        )


def _check_relative(relative: Any, manifest_path: Path) -> str:
    parts = PurePosixPath(relative).parts if isinstance(relative, str) else ()
    if not parts or parts[0] == "/" or ".." in parts or "\\" in relative or ":" in parts[0]:
        raise ArtifactError(
            f"{manifest_path} lists the path {relative!r}, which points outside the predictor folder."
        )
    return relative


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """Read and verify a predictor folder; return its ``easytx.json`` contents.

    Checks: the folder and manifest exist, the schema is one this easytx reads, no file can run
    code when loaded (pickles, Python files, whole-model ``.h5`` files, JSON asking for remote
    code), no symbolic link points outside the folder, no listed path leaves the folder, and
    every file's sha256 matches the manifest. Only files are read; nothing is executed.

    If a save replaces the folder while it is being verified, the verification starts again on
    the new contents. If the folder is missing because a save crashed half-way (see
    :func:`write_folder`), the complete copy that save left aside is verified and used, with a
    warning (:func:`verify_folder` also says which folder was read).

    Raises
    ------
    ArtifactError
        Naming the file and what is wrong with it.
    """
    return verify_folder(folder)[0]


def verify_folder(folder: str | os.PathLike) -> tuple[dict[str, Any], Path, str | None]:
    """:func:`read_manifest`, also returning the folder actually read and its
    :func:`folder_identity` at the time (to notice a save that replaces it later)."""
    wanted = Path(folder).expanduser()
    for _ in range(5):
        errors: list[ArtifactError] = []
        changed = False
        for candidate in resolve_folder(wanted):
            before = folder_identity(candidate)
            try:
                data = _verify(candidate)
            except ArtifactError as exc:
                if folder_identity(candidate) != before:
                    changed = True  # a save replaced the folder meanwhile: verify the new one
                    break
                errors.append(exc)
                continue
            if folder_identity(candidate) != before:
                changed = True
                break
            if candidate != wanted:
                logger.warning(
                    "%s is missing: the last save there was interrupted. Loaded the complete "
                    "predictor it left at %s; save again (or rename that folder) to put it back.",
                    wanted,
                    candidate,
                )
            return data, candidate, before
        if not changed:
            raise errors[0]
        time.sleep(0.02)
    raise ArtifactError(f"{wanted} kept changing while it was read (saves in quick succession); try again.")


def folder_identity(folder: Path) -> str | None:
    """Changes whenever a save puts a new folder at ``folder``: its inode and its manifest's hash."""
    try:
        info = os.stat(folder)
        digest = hashlib.sha256((Path(folder) / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return None
    return f"{info.st_dev}:{info.st_ino}:{digest}"


def _verify(folder: Path) -> dict[str, Any]:
    """All checks of :func:`read_manifest` on one folder; file-system errors become ArtifactError."""
    try:
        return _verify_files(folder)
    except ArtifactError:
        raise
    except OSError as exc:  # e.g. a file vanished because a save replaced the folder meanwhile
        raise ArtifactError(f"{folder} could not be read: {exc.strerror or exc} ({exc.filename}).") from None


def _verify_files(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ArtifactError(f"No predictor folder at {folder}.")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        hint = ""
        if (folder / "tf_model.preproc").exists():
            hint = (
                " It looks like a ktrain predictor: easytx never unpickles its tf_model.preproc "
                "(unpickling a file can run arbitrary code). Convert it once with "
                f"easytx.convert_ktrain_predictor({str(folder)!r}, 'converted', class_names=[...]), "
                "which reads only its config.json, tokenizer files and tf_model.h5 weights, then "
                "load the converted folder."
            )
        raise ArtifactError(f"{folder} is not an easytx predictor (no {MANIFEST}).{hint}")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{manifest_path} is not valid JSON: {exc}.") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise ArtifactError(f"{manifest_path} has no integer schema_version.")
    if version > SCHEMA_VERSION:
        versions = data.get("versions") if isinstance(data.get("versions"), dict) else {}
        raise ArtifactError(
            f"{folder} was saved with predictor schema {version} by easytx "
            f"{versions.get('easytx', '?')}; this easytx reads schema "
            f"{SCHEMA_VERSION} and older. Upgrade easytx (pip install -U easytx)."
        )
    root = folder.resolve()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            target = path.resolve()
            if root not in target.parents and target != root:
                raise ArtifactError(f"{path} is a symbolic link out of the predictor folder.")
        if path.is_file() and path.name != MANIFEST:
            check_no_code(path)
    expected = data.get("files")
    if not isinstance(expected, dict) or not expected:
        raise ArtifactError(f"{manifest_path} lists no files and checksums.")
    for relative, digest in expected.items():
        path = folder / _check_relative(relative, manifest_path)
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
