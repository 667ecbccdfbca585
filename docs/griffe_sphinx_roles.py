"""A griffe extension for the docs build: turn Sphinx roles in docstrings into Markdown code.

The docstrings use numpydoc with Sphinx roles (:class:`~easytx.Learner`, :meth:`fit`), which
mkdocstrings would print literally. This rewrites each role to inline code, keeping only the last
component when the target starts with ``~`` (as Sphinx shows it). reST double backticks need no
rewriting: Markdown reads them as code spans.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _replace(match: re.Match) -> str:
    short, target = match.group(1), match.group(2).strip()
    if short:
        target = target.split(".")[-1]
    if match.group(0).startswith((":meth:", ":func:", ":py:meth:", ":py:func:")) and not target.endswith(")"):
        target += "()"
    return f"`{target}`"


class SphinxRoles(Extension):
    """Rewrite Sphinx cross-reference roles as inline code in every docstring."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_replace, obj.docstring.value)
