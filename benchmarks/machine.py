"""Machine-limit measurements shared by both sides of the benchmark.

``measure_matmul_gflops`` times fp32 matrix multiplication with TensorFlow, the
engine that fine-tuning uses, so the benchmark can state what fraction of the
machine's dense-math ceiling each library reaches. ``peak_rss_mb`` reports the
process's peak resident memory (VmHWM; ``ru_maxrss`` is also available but on
Linux it inherits a larger peak from the parent across fork+exec).

Works with the system python (TF 2.21) and inside benchmarks/.venv-ktrain
(TF 2.20). TensorFlow is imported lazily, after ``TF_USE_LEGACY_KERAS=1`` is
set, so importing this module is cheap and does not pick the Keras flavour for
the caller if the caller imports TensorFlow first.

Usage::

    python benchmarks/machine.py [--n 2048] [--repeats 20] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def matmul_flops(n: int) -> float:
    """Floating-point operations of one n x n by n x n matmul (multiply + add)."""
    return 2.0 * n**3


def time_matmuls(n: int = 2048, repeats: int = 20, warmup: int = 3, seed: int = 0) -> list[float]:
    """Seconds taken by each of ``repeats`` fp32 ``tf.linalg.matmul`` calls.

    ``warmup`` untimed calls come first (thread pools, oneDNN primitive
    caches). Each timed call is forced to completion by reading one element.
    """
    import tensorflow as tf

    if repeats < 1 or warmup < 0 or n < 1:
        raise ValueError("need n >= 1, repeats >= 1, warmup >= 0")
    gen = tf.random.Generator.from_seed(seed)
    a = gen.normal((n, n), dtype=tf.float32)
    b = gen.normal((n, n), dtype=tf.float32)
    for _ in range(warmup):
        tf.linalg.matmul(a, b)[0, 0].numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b)[0, 0].numpy()
        times.append(time.perf_counter() - start)
    return times


def measure_matmul_gflops(n: int = 2048, repeats: int = 20, warmup: int = 3) -> float:
    """Sustained fp32 matmul throughput in GFLOP/s (median over repeats)."""
    seconds = statistics.median(time_matmuls(n=n, repeats=repeats, warmup=warmup))
    return matmul_flops(n) / seconds / 1e9


def encoder_forward_flops_per_token(hidden: int, layers: int, intermediate: int, seq_len: int) -> float:
    """Approximate forward FLOPs per token of a BERT-style encoder.

    Counts the dense matmuls (Q, K, V, output projections: 4*h*h; FFN:
    2*h*i) and the attention products (QK^T and AV: 2*L*h), two FLOPs per
    multiply-add. Embeddings, layer norms, softmax and the head are ignored,
    so this slightly under-counts. Training costs about 3x the forward pass.
    """
    macs = 4 * hidden * hidden + 2 * hidden * intermediate + 2 * seq_len * hidden
    return 2.0 * layers * macs


def ru_maxrss_mb() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (the value is KiB on Linux).

    Caveat (Linux): the kernel carries the peak over an ``execve``, so a child
    started by a big parent (subprocess) reports the parent's peak if larger.
    """
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    divisor = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    return rss / divisor


def vm_hwm_mb() -> float | None:
    """Peak RSS of this process's own address space (``VmHWM``), or None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB -> MiB
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    Uses ``VmHWM`` from /proc where available (exact for this process even
    when it was spawned by a large parent), else ``ru_maxrss``.
    """
    hwm = vm_hwm_mb()
    return hwm if hwm is not None else ru_maxrss_mb()


def load_average() -> list[float]:
    """1/5/15-minute load averages; above ``cpu_count`` means CPU contention."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_seconds() -> float:
    """User + system CPU time consumed so far by this process (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """Static facts about the machine and the TensorFlow build."""
    import tensorflow as tf

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def main(argv=None) -> int:
    """Print the matmul figure (and machine facts) as one JSON object."""
    parser = argparse.ArgumentParser(description="fp32 matmul throughput with TensorFlow")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    info = machine_info()  # imports TensorFlow outside the timed part
    load_before = load_average()
    start = time.perf_counter()
    gflops = measure_matmul_gflops(n=args.n, repeats=args.repeats, warmup=args.warmup)
    result = {
        "matmul_fp32_gflops": round(gflops, 2),
        "n": args.n,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "measure_seconds": round(time.perf_counter() - start, 2),
        **info,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "ru_maxrss_mb": round(ru_maxrss_mb(), 1),
        "loadavg_before": load_before,
        "loadavg_after": load_average(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
