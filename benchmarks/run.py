"""easytx vs ktrain, side by side, in one command.

    python benchmarks/run.py --mode short     # ~10 min on 2 cores: 1,000 train rows x 1 epoch
    python benchmarks/run.py --mode full      # all 6,920 train rows, all 1,821 test sentences
    python benchmarks/run.py --mode short --large   # also benchmarks/large_data.py

What it does:

1. creates ``benchmarks/.venv-ktrain`` if missing (``setup_ktrain_env.sh``; idempotent) and the
   TensorFlow copy of all-MiniLM-L6-v2 that ktrain can load (``convert_minilm_tf.py``);
2. runs ``ktrain_side.py`` (ktrain venv, ``TF_USE_LEGACY_KERAS=1``) and ``easytx_side.py``
   (this python, this checkout's easytx) one after the other, each in its own process, with the
   same seed, data, maxlen, batch size and ``fit_onecycle(lr, epochs)``;
3. prints a table (fine-tuning wall time and examples/s, dev accuracy, batch prediction texts/s,
   single-text p50/p95, load + first prediction, useful-FLOP efficiency against the fp32 matmul
   ceiling each process measured, padding fraction, peak RSS, load average) with easytx/ktrain
   ratios and the targets of issue 4, and writes it as Markdown and JSON under
   ``benchmarks/results/``. Every figure comes from this run.

Timings are only comparable on a quiet machine: the load average is recorded before and after
each side; a run whose load exceeded the core count is flagged in the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402

KTRAIN_PY = HERE / ".venv-ktrain" / "bin" / "python"
MODEL_TF = HERE / ".cache" / "minilm-tf"

MODES = {
    # short: a fixed subset so that both sides finish in ~10 minutes on 2 busy cores
    "short": {"train_rows": 1000, "test_rows": 500, "epochs": 1, "latency_calls": 30},
    "full": {"train_rows": 0, "test_rows": 0, "epochs": 1, "latency_calls": 100},
}

TARGETS = {
    "fit_speedup": 2.5,  # ktrain fit wall time / easytx fit wall time
    "dev_accuracy_gap": -0.01,  # easytx - ktrain, at least
    "batch_predict_speedup": 3.0,
    "single_p50_ms": 20.0,
    "useful_flop_efficiency": 0.60,
    "padding_fraction": 0.15,
}


def log(message: str) -> None:
    print(f"[run.py {time.strftime('%H:%M:%S')}] {message}", flush=True)


def step(name: str, cmd: list[str], *, env: dict | None = None, log_file: Path, timeout: float) -> float:
    """Run ``cmd``, its output appended to ``log_file``; return the wall time; stop on failure."""
    log(f"{name}: {' '.join(str(c) for c in cmd)}")
    start = time.perf_counter()
    with open(log_file, "a", encoding="utf-8") as fh:
        fh.write(f"\n===== {name}: {cmd}\n")
        fh.flush()
        try:
            proc = subprocess.run(
                [str(c) for c in cmd],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SystemExit(f"{name} ran past {timeout:.0f}s; see {log_file}") from None
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(
            f"{name} failed (exit {proc.returncode}); last output:\n{tail}\nfull log: {log_file}"
        )
    log(f"{name}: done in {seconds:.1f}s")
    return seconds


def side_env(*, ktrain: bool) -> dict:
    env = dict(os.environ)
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    if ktrain:
        env.pop("PYTHONPATH", None)
    else:  # this checkout's easytx, whatever is pip-installed
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def side_args(args: argparse.Namespace, cfg: dict) -> list[str]:
    return [
        "--train-rows",
        str(cfg["train_rows"]),
        "--test-rows",
        str(cfg["test_rows"]),
        "--epochs",
        str(args.epochs or cfg["epochs"]),
        "--maxlen",
        str(args.maxlen),
        "--batch-size",
        str(args.batch_size),
        "--predict-batch-size",
        str(args.predict_batch_size),
        "--lr",
        str(args.lr),
        "--seed",
        str(args.seed),
        "--latency-calls",
        str(cfg["latency_calls"]),
        "--matmul-n",
        str(args.matmul_n),
    ]


# ------------------------------------------------------------------------------------ the table
def _get(d: dict | None, *keys, default=None):
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _fmt(value, spec: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return format(value, spec)


def summarise(e: dict | None, k: dict | None) -> dict:
    """The headline figures of both sides, their ratios and the targets met."""

    def both(*keys):
        return _get(e, *keys), _get(k, *keys)

    def ratio(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    rows = []

    def row(name, keys, spec, better, *, ratio_of=None, target=None, met=None, note=""):
        ev, kv = both(*keys) if keys else (None, None)
        if ratio_of is not None:
            ev, kv = ratio_of
        r = None
        if better == "lower":
            r = ratio(kv, ev)  # how many times faster/smaller easytx is
        elif better == "higher":
            r = ratio(ev, kv)
        rows.append(
            {
                "metric": name,
                "easytx": ev,
                "ktrain": kv,
                "ratio": r,
                "spec": spec,
                "better": better,
                "target": target,
                "met": met,
                "note": note,
            }
        )
        return ev, kv, r

    fe, fk = both("timings_s", "fit_s")
    _, _, fit_speedup = row("fine-tune wall time (s)", ("timings_s", "fit_s"), ".1f", "lower")
    rows[-1]["target"] = f"ktrain/easytx >= {TARGETS['fit_speedup']}"
    rows[-1]["met"] = fit_speedup is not None and fit_speedup >= TARGETS["fit_speedup"]
    row("fine-tune CPU seconds (less sensitive to other load)", ("cpu_s", "fit_s"), ".1f", "lower")
    row("fine-tune examples/s", ("train", "examples_per_s"), ".1f", "higher")
    de, dk = both("dev_accuracy")
    gap = de - dk if de is not None and dk is not None else None
    row("dev accuracy", ("dev_accuracy",), ".4f", "none")
    rows[-1]["ratio"] = gap
    rows[-1]["ratio_label"] = "difference"
    rows[-1]["target"] = f"easytx - ktrain >= {TARGETS['dev_accuracy_gap']}"
    rows[-1]["met"] = gap is not None and gap >= TARGETS["dev_accuracy_gap"]
    _, _, bp = row("batch predict texts/s", ("batch_predict", "texts_per_s"), ".1f", "higher")
    rows[-1]["target"] = f"easytx/ktrain >= {TARGETS['batch_predict_speedup']}"
    rows[-1]["met"] = bp is not None and bp >= TARGETS["batch_predict_speedup"]
    rows[-1]["note"] = f"{_get(e, 'batch_predict', 'texts') or _get(k, 'batch_predict', 'texts')} test texts"
    row("test accuracy (batch predict)", ("batch_predict", "test_accuracy"), ".4f", "none")
    p50e, _, _ = row("single-text predict p50 (ms)", ("single_predict", "p50_ms"), ".1f", "lower")
    rows[-1]["target"] = f"easytx <= {TARGETS['single_p50_ms']} ms"
    rows[-1]["met"] = p50e is not None and p50e <= TARGETS["single_p50_ms"]
    row("single-text predict p95 (ms)", ("single_predict", "p95_ms"), ".1f", "lower")
    row("save (s)", ("save_load", "save_s"), ".2f", "lower")
    le = _get(e, "save_load", "in_process", "load_s"), _get(e, "save_load", "in_process", "first_predict_s")
    lk = _get(k, "save_load", "in_process", "load_s"), _get(k, "save_load", "in_process", "first_predict_s")
    sum_e = le[0] + le[1] if None not in le else None
    sum_k = lk[0] + lk[1] if None not in lk else None
    row("load_predictor + first predict, warm process (s)", None, ".2f", "lower", ratio_of=(sum_e, sum_k))

    def cold(d):
        c = _get(d, "save_load", "cold_process")
        return c["import_s"] + c["load_s"] + c["first_predict_s"] if c else None

    row(
        "import + load_predictor + first predict, fresh process (s)",
        None,
        ".2f",
        "lower",
        ratio_of=(cold(e), cold(k)),
    )
    ue, _, _ = row(
        "useful-FLOP efficiency (of measured matmul)", ("train", "useful_flop_efficiency"), ".1%", "higher"
    )
    rows[-1]["target"] = f"easytx >= {TARGETS['useful_flop_efficiency']:.0%}"
    rows[-1]["met"] = ue is not None and ue >= TARGETS["useful_flop_efficiency"]
    row("useful GFLOP/s while training", ("train", "useful_gflops"), ".1f", "higher")
    row("fp32 matmul ceiling GFLOP/s (same process)", ("machine", "matmul_fp32_gflops"), ".1f", "none")
    pe, _, _ = row(
        "padding fraction of computed tokens (training)", ("train", "padding_fraction"), ".1%", "lower"
    )
    rows[-1]["ratio"] = None
    rows[-1]["target"] = f"easytx <= {TARGETS['padding_fraction']:.0%}"
    rows[-1]["met"] = pe is not None and pe <= TARGETS["padding_fraction"]
    row("peak RSS (MiB)", ("peak_rss_mb",), ".0f", "lower")
    row("preprocess train + dev (s)", ("timings_s", "preprocess_total_s"), ".2f", "lower")
    row("total side wall time (s)", ("total_wall_s",), ".1f", "lower")
    for name, d in (("easytx", e), ("ktrain", k)):
        start, end = _get(d, "loadavg", "start"), _get(d, "loadavg", "end")
        rows.append(
            {
                "metric": f"load average 1/5/15 min, {name} side (start -> end)",
                "easytx": None,
                "ktrain": None,
                "ratio": None,
                "spec": "",
                "better": "none",
                "target": None,
                "met": None,
                "note": f"{start} -> {end}" if start else "n/a",
            }
        )
    return {"rows": rows, "fit_speedup": fit_speedup, "batch_predict_speedup": bp, "dev_accuracy_gap": gap}


def markdown(summary: dict, meta: dict) -> str:
    lines = [
        f"# easytx vs ktrain — {meta['mode']} mode, {meta['started']}",
        "",
        f"Machine: {meta['cpu_model']}, {meta['cpu_count']} cores. Data: SST-2 sentences "
        f"({meta['train_rows']} train rows x {meta['epochs']} epoch(s), dev {meta['dev_rows']}, "
        f"{meta['test_rows']} test texts), all-MiniLM-L6-v2, maxlen {meta['maxlen']}, batch "
        f"{meta['batch_size']}, fit_onecycle({meta['lr']}, {meta['epochs']}), seed {meta['seed']}.",
        "",
        "| metric | easytx | ktrain | easytx vs ktrain | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in summary["rows"]:
        if r["spec"] == "" and r["note"]:
            lines.append(f"| {r['metric']} | {r['note']} | | | | |")
            continue
        ratio = r["ratio"]
        if r.get("ratio_label") == "difference":
            ratio_s = "n/a" if ratio is None else f"{ratio:+.4f}"
        else:
            ratio_s = "" if ratio is None else f"{ratio:.2f}x"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(
            f"| {r['metric']}{note} | {_fmt(r['easytx'], r['spec'])} | {_fmt(r['ktrain'], r['spec'])} "
            f"| {ratio_s} | {r['target'] or ''} | {met} |"
        )
    lines += [
        "",
        'Ratios read "easytx is N x better": time ratios are ktrain/easytx, throughput ratios '
        "easytx/ktrain. Useful-FLOP efficiency = non-padding training tokens/s x 3 x forward "
        "FLOPs per token (at the mean text length) / fp32 matmul GFLOP/s measured in the same "
        "process after a warm-up. ktrain pads training batches to maxlen; easytx pads each batch "
        "to its longest text and groups similar lengths.",
    ]
    if meta.get("busy"):
        lines += [
            "",
            f"**Warning: the load average exceeded the core count during this run "
            f"({meta['busy']}); timings are not comparable.**",
        ]
    if meta["mode"] == "short":
        lines += [
            "",
            "Short mode: a fixed training subset and the first test sentences only; run "
            "`--mode full` for the reference figures.",
        ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--mode", choices=sorted(MODES), default="short")
    p.add_argument(
        "--only", choices=["easytx", "ktrain"], help="run one side (the table shows n/a for the other)"
    )
    p.add_argument("--epochs", type=int, default=0, help="override the mode's epochs")
    p.add_argument("--train-rows", type=int, default=None, help="override the mode's training rows (0 = all)")
    p.add_argument("--test-rows", type=int, default=None, help="override the mode's test rows (0 = all)")
    p.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="take the side(s) not run now (see --only) from this earlier run folder's JSON",
    )
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--predict-batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--matmul-n", type=int, default=2048)
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per side")
    p.add_argument(
        "--easytx-extra", default="", help="extra arguments for easytx_side.py (e.g. '--jit-compile')"
    )
    p.add_argument("--large", action="store_true", help="also run large_data.py (see its --help)")
    p.add_argument("--large-args", default="", help="arguments for large_data.py")
    args = p.parse_args(argv)
    cfg = dict(MODES[args.mode])
    if args.train_rows is not None:
        cfg["train_rows"] = args.train_rows
    if args.test_rows is not None:
        cfg["test_rows"] = args.test_rows
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = args.out_dir / f"{args.mode}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = run_dir / "run.log"
    log(f"results and logs: {run_dir}")
    started = time.perf_counter()
    load_start = machine.load_average()

    run_ktrain = args.only != "easytx" and not (args.reuse and (args.reuse / "ktrain.json").is_file())
    run_easytx = args.only != "ktrain" and not (args.reuse and (args.reuse / "easytx.json").is_file())
    if args.only == "easytx":
        run_easytx = True
    if args.only == "ktrain":
        run_ktrain = True
    if run_ktrain:
        step("ktrain venv", ["bash", HERE / "setup_ktrain_env.sh"], log_file=log_file, timeout=3600)
        step(
            "TF copy of MiniLM",
            [KTRAIN_PY, HERE / "convert_minilm_tf.py", "--out", MODEL_TF],
            env=side_env(ktrain=True),
            log_file=log_file,
            timeout=1800,
        )
    results: dict = {}
    common = side_args(args, cfg)
    if args.reuse:
        for name in ("ktrain", "easytx"):
            earlier = args.reuse / f"{name}.json"
            if earlier.is_file() and not (run_ktrain if name == "ktrain" else run_easytx):
                results[name] = json.loads(earlier.read_text())
                results[name]["reused_from"] = str(earlier)
                log(f"{name} side: reusing {earlier}")
    if run_ktrain:
        out = run_dir / "ktrain.json"
        step(
            "ktrain side",
            [KTRAIN_PY, HERE / "ktrain_side.py", "--model-dir", MODEL_TF, "--out", out, *common],
            env=side_env(ktrain=True),
            log_file=log_file,
            timeout=args.timeout,
        )
        results["ktrain"] = json.loads(out.read_text())
    if run_easytx:
        out = run_dir / "easytx.json"
        step(
            "easytx side",
            [sys.executable, HERE / "easytx_side.py", "--out", out, *common, *args.easytx_extra.split()],
            env=side_env(ktrain=False),
            log_file=log_file,
            timeout=args.timeout,
        )
        results["easytx"] = json.loads(out.read_text())

    summary = summarise(results.get("easytx"), results.get("ktrain"))
    any_side = results.get("easytx") or results.get("ktrain")
    cores = os.cpu_count() or 1
    busy = [
        f"{name}: {d['loadavg']['start'][0]} -> {d['loadavg']['end'][0]}"
        for name, d in results.items()
        if max(d["loadavg"]["start"][0], d["loadavg"]["end"][0]) > cores
    ]
    meta = {
        "mode": args.mode,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": machine.cpu_model(),
        "cpu_count": cores,
        "platform": platform.platform(),
        "train_rows": any_side["train"]["rows"],
        "epochs": any_side["train"]["epochs"],
        "dev_rows": 872,
        "test_rows": any_side["batch_predict"]["texts"],
        "maxlen": args.maxlen,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "loadavg_run_start": load_start,
        "busy": "; ".join(busy),
    }
    from sst2 import read_split

    meta["dev_rows"] = len(read_split("dev")[0])
    if args.large:
        large_out = run_dir / "large_data.json"
        step(
            "large data",
            [sys.executable, HERE / "large_data.py", "--out", large_out, *args.large_args.split()],
            env=side_env(ktrain=False),
            log_file=log_file,
            timeout=args.timeout * 4,
        )
        results["large_data"] = json.loads(large_out.read_text())
    meta["loadavg_run_end"] = machine.load_average()
    meta["total_wall_s"] = time.perf_counter() - started
    table = markdown(summary, meta)
    if "large_data" in results:
        table += "\n" + results["large_data"].get("markdown", "") + "\n"
    (run_dir / "results.md").write_text(table, encoding="utf-8")
    payload = {"meta": meta, "targets": TARGETS, "summary": summary, "sides": results}
    (run_dir / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    for suffix in ("md", "json"):
        latest = args.out_dir / f"latest-{args.mode}.{suffix}"
        latest.write_text((run_dir / f"results.{suffix}").read_text(encoding="utf-8"), encoding="utf-8")
    print()
    print(table)
    log(f"wrote {run_dir / 'results.md'} and results.json (total {meta['total_wall_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
