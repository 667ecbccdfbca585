"""Small sample data shipped with easytx for the quick start (see README.md in this folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["sample_path", "load_sample"]

_FOLDER = Path(__file__).resolve().parent


def sample_path() -> Path:
    """Path of ``sms_spam_sample.csv`` (600 SMS messages labelled ham/spam, CC BY 4.0)."""
    return _FOLDER / "sms_spam_sample.csv"


def load_sample() -> Any:
    """The SMS spam sample as a pandas DataFrame with columns ``text`` and ``label``."""
    from ..data import read_table

    return read_table(sample_path())
