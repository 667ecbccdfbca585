"""Which ``lr_find`` rule lands within 3x of the rate that trains best? (tracker issue 16)

Reads the JSON files that ``benchmarks/lr_find.py --json`` writes (every sweep in full: the
learning rates and the smoothed losses, and the accuracy of each rate of the grid), applies
candidate suggestion rules to each recorded sweep, and prints, per data set and sweep, each
rule's suggestion divided by the grid's best learning rate, and whether the rule stays within 3x
(a ratio between 1/3 and 3) on every sweep. No training: rules can be tried on old sweeps.

    python benchmarks/lr_rules_eval.py                       # benchmarks/lr_find_sweeps/*.json
    python benchmarks/lr_rules_eval.py a.json b.json --tolerance 3

Every rule reads the trusted part of the sweep (``easytx.lr_rules.trusted_span``: without the
first tenth and the last 5 points) and is clipped to the swept range, as ``lr_find`` does.
Candidates that are not in ``easytx.lr_rules`` live here:

* ``valley@1/3``, ``valley@1/2``, ``valley@2/3``: a position along the longest valley (2/3 is
  fastai's and ``LRSuggestions.valley``);
* ``drop@1/2``, ``drop@2/3``, ``drop@3/4``: the first rate where the smoothed loss has fallen that
  fraction of the way from its level at the start of the trusted span to its minimum;
* ``steepest``, ``min_loss``, ``min_loss/3``, ``min_loss/5``, ``min_loss/10`` (``min_div10``).

Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from easytx import lr_rules  # noqa: E402

DEFAULT_DIR = HERE / "lr_find_sweeps"


def drop(lrs: Sequence[float], losses: Sequence[float], fraction: float = 2 / 3) -> float:
    """The first rate, before the minimum, where the loss has made ``fraction`` of its drop.

    The drop is measured from the first loss of the sweep to its lowest loss.

    >>> drop([1e-5, 1e-4, 1e-3, 1e-2], [1.0, 0.9, 0.5, 0.4])
    0.001
    """
    low = min(range(len(losses)), key=losses.__getitem__)
    target = losses[0] - fraction * (losses[0] - losses[low])
    return float(next(lr for lr, loss in zip(lrs[: low + 1], losses[: low + 1]) if loss <= target))


def rules() -> dict[str, Callable[[Sequence[float], Sequence[float]], float]]:
    """The candidate rules by name; each takes the trusted part of a sweep."""
    found: dict[str, Callable] = {}
    for label, position in (("1/3", 1 / 3), ("1/2", 1 / 2), ("2/3", 2 / 3)):
        found[f"valley@{label}"] = lambda x, y, p=position: lr_rules.valley(x, y, position=p)
    for label, fraction in (("1/2", 1 / 2), ("2/3", 2 / 3), ("3/4", 3 / 4)):
        found[f"drop@{label}"] = lambda x, y, f=fraction: drop(x, y, f)
    found["steepest"] = lr_rules.steepest
    found["min_loss"] = lr_rules.min_loss
    for div in (3, 5, 10):
        found[f"min_loss/{div}"] = lambda x, y, d=div: lr_rules.min_loss(x, y) / d
    return found


def apply(rule: Callable, lrs: Sequence[float], losses: Sequence[float]) -> float:
    """``rule`` on the trusted span of a whole sweep, clipped to the swept range."""
    start, stop = lr_rules.trusted_span(len(lrs))
    return lr_rules.clip_to_sweep(rule(lrs[start:stop], losses[start:stop]), lrs)


def load(path: Path) -> dict:
    """One ``lr_find.py --json`` file, with its sweeps as a list (older files hold one ``sweep``)."""
    run = json.loads(path.read_text())
    if "sweeps" not in run:
        run["sweeps"] = [{"seed": run["seeds"][0], **run["sweep"]}]
    run.setdefault("data", "sst2")
    return run


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="*", help=f"JSON files (default: {DEFAULT_DIR}/*.json)")
    parser.add_argument("--tolerance", type=float, default=3.0, help="the target ratio (default 3)")
    args = parser.parse_args(argv)
    files = args.files or sorted(DEFAULT_DIR.glob("*.json"))
    if not files:
        parser.error(
            f"No JSON files given and none in {DEFAULT_DIR}. Run benchmarks/lr_find.py --json first."
        )
    runs = [load(f) for f in files]

    print("## Accuracy per learning rate (mean of the grid seeds)\n")
    for run in runs:
        acc = {float(k): sum(v) / len(v) for k, v in run["dev_accuracy"].items()}
        cells = ", ".join(
            f"{lr:.3g}: {a:.3f}" + (" (best)" if lr == run["best_grid_lr"] else "")
            for lr, a in sorted(acc.items())
        )
        print(f"- {run['data']} (maxlen {run.get('maxlen', '?')}, seeds {run['seeds']}): {cells}")

    candidates = rules()
    columns = [(run, sweep) for run in runs for sweep in run["sweeps"]]
    print("\n## Suggestion / best grid learning rate\n")
    header = " | ".join(f"{run['data']} sweep {sweep['seed']}" for run, sweep in columns)
    print(f"| rule | {header} | worst | within {args.tolerance:g}x everywhere |")
    print("|---|" + "---|" * (len(columns) + 2))
    for name, rule in candidates.items():
        ratios = [apply(rule, sweep["lrs"], sweep["losses"]) / run["best_grid_lr"] for run, sweep in columns]
        worst = max(ratios, key=lambda r: abs(math.log(r)))
        ok = all(1 / args.tolerance <= r <= args.tolerance for r in ratios)
        cells = " | ".join(f"{r:.2f}" for r in ratios)
        print(f"| {name} | {cells} | {worst:.2f} | {'yes' if ok else 'no'} |")

    print("\n## Suggestions (learning rates)\n")
    print(f"| rule | {header} |")
    print("|---|" + "---|" * len(columns))
    print("| best grid lr | " + " | ".join(f"{run['best_grid_lr']:.1e}" for run, _ in columns) + " |")
    for name, rule in candidates.items():
        cells = " | ".join(f"{apply(rule, sweep['lrs'], sweep['losses']):.1e}" for _, sweep in columns)
        print(f"| {name} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
