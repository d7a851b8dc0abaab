"""Does batching pay? Milliseconds per image of ``predict_proba`` for one image and for 1,000 images in
chunks of different sizes (``auto``: the chunk ``Network.inference_chunk()`` picks from the layer sizes),
with the peak memory NumPy allocated for the 1,000 (tracemalloc), and the time of ``Network.copy()``.

    PYTHONPATH=. python benchmarks/inference_batching.py [--threads N] [--repeats 5]

Networks: the shipped models (as the app loads them), cnn-seed and the wide 'same' 3x3 CNN of
train_speed.py (random weights: the cost does not depend on them). Median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from mnist_desktop.engine import Network, get_preset, threads  # noqa: E402
from mnist_desktop.engine.serialize import load  # noqa: E402
from mnist_desktop.shipped import shipped_models  # noqa: E402
from train_speed import wide_cnn  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

CHUNKS = [1, 8, 32, 128, 1000]


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0, help="engine threads (default: the engine's)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    if args.threads:
        threads.set_threads(args.threads)
    nets = [(f"shipped {path.stem}", load(path)[0]) for path in shipped_models()]
    nets += [("cnn-seed", Network.from_architecture(get_preset("cnn-seed").architecture, rng=np.random.default_rng(0))),
             ("cnn-same3-bn", Network.from_architecture(wide_cnn(3), rng=np.random.default_rng(0)))]
    x = np.random.default_rng(0).random((1000, 784), dtype=np.float32)
    print(f"## ms per image of predict_proba; engine threads {threads.threads()}, BLAS threads {threads.blas_threads()}\n")
    print("| network | 1 image | " + " | ".join(f"1,000 in {c}s" for c in CHUNKS) +
          " | 1,000 auto (chunk) | peak MB auto / 1000 | copy() ms |")
    print("|---|---:|" + "---:|" * len(CHUNKS) + "---:|---:|---:|")
    for name, net in nets:
        net.predict_proba(x[:64])
        one = timed(lambda: net.predict_proba(x[0]), max(50, args.repeats * 20)) * 1e3
        per = [timed(lambda: net.predict_proba(x, c), args.repeats) for c in CHUNKS]
        auto = timed(lambda: net.predict_proba(x), args.repeats)
        mem_auto, mem_all = peak_mb(lambda: net.predict_proba(x)), peak_mb(lambda: net.predict_proba(x, 1000))
        copy_ms = timed(net.copy, 20) * 1e3
        print(f"| {name} | {one:.3f} | " + " | ".join(f"{t:.3f}" for t in per) +
              f" | {auto:.3f} ({net.inference_chunk()}) | {mem_auto:.0f} / {mem_all:.0f} | {copy_ms:.2f} |")
    cpu = cpu_model()
    print(f"\n(1,000-image columns: total seconds x 1000 / 1000 = ms per image.) {cpu}, {os.cpu_count()} CPUs; "
          f"numpy {np.__version__}; load average {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
