"""The exception hierarchy of easytx.

Every error easytx raises on purpose derives from :class:`EasytxError`. Errors about the caller's
input also derive from the matching built-in (``ValueError``/``TypeError``) so that existing
``except ValueError`` code keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "EasytxError",
    "DataError",
    "DataTypeError",
    "ConfigError",
    "NotFittedError",
    "ArtifactError",
    "ModelNotFoundError",
    "MissingDependencyError",
    "QueueFullError",
    "closest_match_hint",
]


class EasytxError(Exception):
    """Base class of every error raised by easytx."""


class DataError(EasytxError, ValueError):
    """Texts, labels or files that cannot be used as given."""


class DataTypeError(EasytxError, TypeError):
    """An argument of the wrong type (e.g. a bare string where a list of texts is expected)."""


class ConfigError(EasytxError, ValueError):
    """An option outside its allowed range (``batch_size=0``, ``maxlen=-3``, ...)."""


class NotFittedError(EasytxError, RuntimeError):
    """A method that needs learned state was called before that state exists."""


class ArtifactError(EasytxError, OSError):
    """A saved predictor folder that is missing, damaged, tampered with or of an unknown schema."""


class ModelNotFoundError(EasytxError, OSError):
    """A model name or folder that cannot be resolved to a loadable checkpoint."""


class QueueFullError(EasytxError, RuntimeError):
    """The server's queue holds more texts than ``max_queue`` allows (HTTP 503); retry later."""


def closest_match_hint(name: str, candidates: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest candidate, or ``""`` if none is close.

    Examples
    --------
    >>> closest_match_hint("txet", ["text", "label"])
    " Did you mean 'text'?"
    """
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return f" Did you mean '{matches[0]}'?" if matches else ""


class MissingDependencyError(EasytxError, ImportError):
    """An optional dependency (an extra) is not installed; the message says how to install it."""
