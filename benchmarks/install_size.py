"""Installed size of easytx's full install vs the app install (ONNX engines only), measured here.

Walks the dependency closure of each install through the installed packages' metadata (no
network): the full install is ``easytx-nlp``'s requirements (setup.cfg's install_requires); the
app install is ``packaging/easytx-nlp-runtime``'s (numpy, tokenizers, onnxruntime). Sizes are
the files each distribution's RECORD lists, as installed in this environment (``__pycache__``
included where Python wrote it), plus easytx's own source.

    python benchmarks/install_size.py
"""

from __future__ import annotations

import configparser
import importlib.metadata as md
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ["numpy>=1.26", "tokenizers>=0.19", "onnxruntime>=1.20,<2"]


def full_requirements() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]


def closure(requirements: list[str]) -> dict[str, int]:
    """``{distribution: installed bytes}`` for the requirements and everything they require."""
    seen: dict[str, int] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            print(f"  (not installed here: {req.name})", file=sys.stderr)
            seen[name] = 0
            continue
        seen[name] = sum(f.size or 0 for f in dist.files or [] if f.size)
        todo += [Requirement(r) for r in dist.requires or []]
    return seen


def report(label: str, sizes: dict[str, int]) -> int:
    total = sum(sizes.values())
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
    print(f"{label}: {total / 1e6:,.0f} MB in {len(sizes)} distributions")
    print("  largest: " + ", ".join(f"{n} {s / 1e6:,.0f} MB" for n, s in top))
    return total


def main() -> int:
    own = sum(p.stat().st_size for p in (ROOT / "easytx").rglob("*.py"))
    full = report("full install (easytx-nlp)", closure(full_requirements()))
    app = report("app install (easytx-nlp-runtime)", closure(RUNTIME))
    print(f"easytx's own source: {own / 1e6:.1f} MB (in both)")
    print(f"app / full: {(app + own) / (full + own):.3f} ({(full - app) / 1e6:,.0f} MB less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
