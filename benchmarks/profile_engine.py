"""Where a training step's time goes: per-layer forward/backward times of one preset, and a cProfile of
the whole step (the profile the conv/pool work started from is in benchmarks/README.md).

    PYTHONPATH=. python benchmarks/profile_engine.py [--preset cnn-seed] [--batch-size 64] [--steps 200]
        [--threads N] [--cprofile]

Times are medians over ``--steps`` steps of random MNIST-shaped data (the layer costs do not depend on the
pixel values), the layers run one by one in the order Network.forward runs them (with more than one
engine thread each layer splits its own batch here; a real training step of a network without batch
norm splits the whole step instead, see Network._split_forward, so the total differs). ``--threads`` sets the engine's threads (default: what the engine picks).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from mnist_desktop.engine import Network, get_preset, make_optimizer  # noqa: E402
from mnist_desktop.engine.losses import LOSSES as LOSSES_BY_NAME  # noqa: E402
from mnist_desktop.engine import threads as engine_threads  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cnn-seed")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--cprofile", action="store_true", help="also print the 25 costliest functions")
    args = p.parse_args(argv)
    if args.threads:
        engine_threads.set_threads(args.threads)
    preset = get_preset(args.preset)
    rng = np.random.default_rng(0)
    net = Network.from_architecture(preset.architecture, rng=rng)
    opt = make_optimizer("adam", net.param_slots(), 1e-3)
    x = rng.random((args.batch_size, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    loss_fn = LOSSES_BY_NAME[net.loss]
    fwd = [[] for _ in net.layers]
    bwd = [[] for _ in net.layers]
    other = []

    order = net._order()  # the order Network.forward runs the layers in (a ReLU after its max-pool)

    def step(record: bool) -> None:
        h = net._as_input(x)
        for i in order:
            t0 = time.perf_counter()
            h = net.layers[i].forward(h, True)
            if record:
                fwd[i].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _, d = loss_fn(h, y)
        if record:
            other.append(time.perf_counter() - t0)
        first = next(p for p, i in enumerate(order) if net.layers[i].params)
        for p in range(len(order) - 1, first - 1, -1):
            i = order[p]
            t0 = time.perf_counter()
            d = net.layers[i].backward(d, need_dx=p > first)
            if record:
                bwd[i].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        opt.step()
        if record:
            other[-1] += time.perf_counter() - t0

    for _ in range(20):
        step(False)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step(True)
    total = (time.perf_counter() - t0) / args.steps
    cpu = (time.process_time() - c0) / args.steps
    print(f"## {args.preset}, batch {args.batch_size}: {total * 1e3:.2f} ms per step "
          f"({args.batch_size / total:,.0f} img/s; CPU time {cpu * 1e3:.2f} ms per step, all threads), "
          f"engine threads {engine_threads.threads()}, "
          f"BLAS threads {engine_threads.blas_threads()}\n")
    print("| layer | forward ms | backward ms |")
    print("|---|---:|---:|")
    for i, layer in enumerate(net.layers):
        f = statistics.median(fwd[i]) * 1e3
        b = statistics.median(bwd[i]) * 1e3 if bwd[i] else 0.0
        print(f"| {i} {layer!r} | {f:.3f} | {b:.3f} |")
    print(f"| loss + optimizer step | {statistics.median(other) * 1e3:.3f} | |")
    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.steps):
            step(False)
        prof.disable()
        print()
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    cpu = cpu_model()
    print(f"\n{cpu}, {os.cpu_count()} CPUs; numpy {np.__version__}; load average {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
