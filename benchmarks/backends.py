"""The two model backends side by side: easytx's Keras 3 encoders against transformers' TF classes.

    python benchmarks/backends.py                      # SST-2, 1,000 train rows x 1 epoch, 2 rounds
    python benchmarks/backends.py --train-rows 0 --rounds 1    # all 6,920 training sentences

Runs ``easytx_side.py`` (the same measurement code as ``run.py``'s easytx side: fine-tuning wall
time, dev accuracy, batch and single-text prediction, save/load, useful-FLOP efficiency, padding,
peak RSS) once per backend per round, each in its own process with ``EASYTX_BACKEND`` set (so the
fresh-process load it measures uses the same backend), alternating the backends so that load on a
shared machine falls on both alike. Prints a table with the median of the rounds for each backend
and the ratio keras3 / transformers, and writes it with the raw figures under
``benchmarks/results/backends-<time>/``. Nothing in the table is typed in by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402

BACKENDS = ("keras3", "transformers")

#: (label, path into easytx_side's JSON, higher is better?)
ROWS = [
    ("fine-tune wall time (s)", ("timings_s", "fit_s"), False),
    ("fine-tune examples/s", ("train", "examples_per_s"), True),
    ("dev accuracy", ("dev_accuracy",), True),
    ("batch predict texts/s", ("batch_predict", "texts_per_s"), True),
    ("test accuracy", ("batch_predict", "test_accuracy"), True),
    ("single-text p50 (ms)", ("single_predict", "p50_ms"), False),
    ("single-text p95 (ms)", ("single_predict", "p95_ms"), False),
    ("load + first predict, fresh process (s)", ("save_load", "cold_process", "process_wall_s"), False),
    ("useful-FLOP efficiency", ("train", "useful_flop_efficiency"), True),
    ("padding fraction", ("train", "padding_fraction"), False),
    ("peak RSS (MiB)", ("peak_rss_mb",), False),
]


def _get(data: dict, path: tuple) -> float | None:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return float(data) if isinstance(data, (int, float)) else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="runs per backend (alternating)")
    p.add_argument("--train-rows", type=int, default=1000, help="0 = all 6,920")
    p.add_argument("--test-rows", type=int, default=500, help="0 = all 1,821")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--latency-calls", type=int, default=30)
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    p.add_argument("--timeout", type=float, default=3600)
    args = p.parse_args(argv)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = args.out_dir / f"backends-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    runs: dict = {name: [] for name in BACKENDS}
    started = time.perf_counter()
    load_start = machine.load_average()
    for round_ in range(args.rounds):
        order = BACKENDS if round_ % 2 == 0 else BACKENDS[::-1]
        for name in order:
            out = run_dir / f"{name}-{round_ + 1}.json"
            cmd = [
                sys.executable,
                str(HERE / "easytx_side.py"),
                "--out",
                str(out),
                "--train-rows",
                str(args.train_rows),
                "--test-rows",
                str(args.test_rows),
                "--epochs",
                str(args.epochs),
                "--lr",
                str(args.lr),
                "--seed",
                str(args.seed),
                "--latency-calls",
                str(args.latency_calls),
            ]
            env = {**os.environ, "EASYTX_BACKEND": name, "HF_HUB_OFFLINE": "1"}
            print(f"[backends] round {round_ + 1}: {name} ...", flush=True)
            with open(run_dir / "run.log", "a", encoding="utf-8") as log:
                subprocess.run(cmd, env=env, check=True, timeout=args.timeout, stdout=log, stderr=log)
            data = json.loads(out.read_text(encoding="utf-8"))
            if data.get("backend") != name:
                raise SystemExit(f"{out}: expected the {name} backend, the side ran {data.get('backend')}")
            runs[name].append(data)
    lines = [
        f"# Backends: keras3 vs transformers ({args.rounds} round(s), median)",
        "",
        f"SST-2, {runs['keras3'][0]['train']['rows']} training rows x {args.epochs} epoch(s), maxlen 128, "
        f"batch 32, lr {args.lr}, seed {args.seed}; all-MiniLM-L6-v2. Load average at start "
        f"{load_start[0]:.2f}, at end {machine.load_average()[0]:.2f} ({os.cpu_count()} cores); total "
        f"{time.perf_counter() - started:.0f} s.",
        "",
        "| | keras3 | transformers | keras3 / transformers | better |",
        "|---|---:|---:|---:|---|",
    ]
    summary = {}
    for label, path, higher in ROWS:
        values = {name: [_get(r, path) for r in runs[name]] for name in BACKENDS}
        values = {name: [v for v in found if v is not None] for name, found in values.items()}
        med = {name: statistics.median(v) if v else None for name, v in values.items()}
        ratio = med["keras3"] / med["transformers"] if med["keras3"] and med["transformers"] else None
        better = ""
        if ratio is not None and ratio != 1:
            better = "keras3" if (ratio > 1) == higher else "transformers"
        summary[label] = {"values": values, "median": med, "ratio": ratio}
        lines.append(
            f"| {label} | {_fmt(med['keras3'])} | {_fmt(med['transformers'])} | "
            f"{'n/a' if ratio is None else f'{ratio:.3f}'} | {better} |"
        )
    table = "\n".join(lines) + "\n"
    (run_dir / "results.md").write_text(table, encoding="utf-8")
    (run_dir / "results.json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=2) + "\n")
    print(table)
    print(f"[backends] wrote {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
