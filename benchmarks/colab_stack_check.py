"""Compare two `pip freeze` listings of the Colab-like stack: did installing easytx change it?

Usage (run it with the venv's interpreter, so that `pip check` inspects that venv):

    python benchmarks/colab_stack_check.py BEFORE_FREEZE AFTER_FREEZE \
        [--pip-check-before FILE] [--stack benchmarks/colab-stack.txt]

Prints, for each core package (tensorflow, keras, transformers, huggingface-hub, tokenizers, numpy,
protobuf, h5py, and sentence-transformers when present), the version before and after and
CHANGED/same; then every other added, removed or changed package; then the output of
`python -m pip check` for the current interpreter.

--pip-check-before: the `pip check` output captured before the install; lines already there
(e.g. "sentence-transformers ... requires torch, which is not installed" on a stack where
sentence-transformers is installed without torch) are shown as pre-existing and do not fail.
--stack: the pinned stack file; reports whether BEFORE matched it (a warning only).

Exit status: 1 when a core package changed or `pip check` reports a line that was not there
before; 0 otherwise. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

CORE = [
    "tensorflow",
    "keras",
    "transformers",
    "huggingface-hub",
    "tokenizers",
    "numpy",
    "protobuf",
    "h5py",
]
OPTIONAL_CORE = ["sentence-transformers"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_freeze(path: str) -> dict[str, str]:
    """name -> version (or the full requirement line for direct references)."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith("-"):
                continue
            if " @ " in line:
                name, ref = line.split(" @ ", 1)
                out[canonical(name)] = "@ " + ref.strip()
            elif "==" in line:
                name, version = line.split("==", 1)
                out[canonical(name)] = version.strip()
            else:
                out[canonical(line)] = "?"
    return out


def pip_check() -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln.rstrip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return proc.returncode, lines


def is_conflict_line(line: str) -> bool:
    return "No broken requirements found" not in line and not line.startswith("WARNING:")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--pip-check-before", help="pip check output captured before the install")
    ap.add_argument("--stack", help="pinned stack file (name==version lines) BEFORE should match")
    args = ap.parse_args(argv)

    before = parse_freeze(args.before)
    after = parse_freeze(args.after)
    failed = False

    if args.stack:
        stack = parse_freeze(args.stack)
        off = {n: (v, before.get(n, "-")) for n, v in stack.items() if before.get(n) != v}
        if off:
            print(f"WARNING: BEFORE does not match {args.stack} (name: pinned -> found):")
            for n, (want, got) in sorted(off.items()):
                print(f"  {n}: {want} -> {got}")
        else:
            print(f"BEFORE matches {args.stack} ({len(stack)} pins)")
        print()

    core = CORE + [n for n in OPTIONAL_CORE if n in before or n in after]
    print("== core packages")
    print(f"{'package':24} {'before':>14} {'after':>14}  status")
    for name in core:
        b, a = before.get(name, "-"), after.get(name, "-")
        status = "same" if a == b else "CHANGED"
        failed |= status == "CHANGED"
        print(f"{name:24} {b:>14} {a:>14}  {status}")

    print()
    print("== other package changes")
    others = sorted((set(before) | set(after)) - set(core))
    n_other = 0
    for name in others:
        b, a = before.get(name), after.get(name)
        if a == b:
            continue
        n_other += 1
        if b is None:
            print(f"  added    {name}=={a}" if not a.startswith("@") else f"  added    {name} {a}")
        elif a is None:
            print(f"  removed  {name}=={b}")
        else:
            print(f"  changed  {name}: {b} -> {a}")
    if not n_other:
        print("  (none)")

    print()
    print("== pip check")
    rc, lines = pip_check()
    pre: set[str] = set()
    if args.pip_check_before:
        with open(args.pip_check_before, encoding="utf-8") as f:
            pre = {ln.rstrip() for ln in f if ln.strip()}
    new_conflicts = 0
    for line in lines:
        if not is_conflict_line(line):
            print(f"  {line}")
        elif line in pre:
            print(f"  (pre-existing) {line}")
        else:
            new_conflicts += 1
            print(f"  NEW  {line}")
    print(f"  pip check exit code {rc}; {new_conflicts} new conflict line(s)")
    failed |= new_conflicts > 0

    print()
    print("RESULT:", "FAIL (the install changed the Colab stack or broke it)" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
