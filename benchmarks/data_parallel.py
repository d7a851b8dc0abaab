"""Whole-step data parallelism against per-layer splits: training images per second of one preset, the two
ways interleaved in one process (a busy spell on a shared machine then hits both).

    PYTHONPATH=. python benchmarks/data_parallel.py [--preset cnn-seed] [--threads 2] [--batch-size 64]
        [--seconds 1.0] [--repeats 8] [--data DIR]

"whole step": the training step splits the batch once and runs each part's forward, loss and backward on
its own thread (Network.loss_and_grads); "per layer": each conv/pool layer splits its own batch and the layers in
between run on one thread (``Network.data_parallel = False``). Both run ``Trainer.train_step`` with the
preset's optimizer on MNIST training images (random ones when MNIST is not found).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)
from mnist_desktop.engine import Network, TrainConfig, Trainer, get_preset, threads  # noqa: E402
from train_speed import load_training_images  # noqa: E402


def alternating_rates(trainers, batches, seconds: float, repeats: int) -> list[list[float]]:
    """Training images/s of each trainer's ``train_step`` over ``batches`` (cycled), ``repeats`` runs of
    ``seconds`` each, the trainers taking turns (who goes first alternates), so a busy spell of the machine
    hits them all: one list of rates per trainer."""
    rates = [[] for _ in trainers]
    order = list(range(len(trainers)))
    for rep in range(repeats):
        for k in (order if rep % 2 == 0 else order[::-1]):
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                trainers[k].train_step(*batches[n % len(batches)])
                n += 1
            rates[k].append(n * len(batches[0][1]) / (time.perf_counter() - t0))
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cnn-seed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--data")
    args = p.parse_args(argv)
    threads.set_threads(args.threads)
    x, y, source = load_training_images(args.data, 6400, 0)
    x, y = np.ascontiguousarray(x, np.float32), np.asarray(y, np.int64)
    bs = args.batch_size
    batches = [(x[i:i + bs], y[i:i + bs]) for i in range(0, len(x) - bs + 1, bs)]
    preset = get_preset(args.preset)
    t = preset.training
    trainers = {}
    for name, whole in (("whole step", True), ("per layer", False)):
        net = Network.from_architecture(preset.architecture, rng=np.random.default_rng(0))
        net.data_parallel = whole
        trainer = Trainer(net, (x, y), None, TrainConfig(batch_size=bs, optimizer=t.get("optimizer", "adam"),
                                                         lr=t.get("lr", 1e-3)))
        for xb, yb in batches[:10]:  # warm-up
            trainer.train_step(xb, yb)
        trainers[name] = trainer
    load0 = os.getloadavg()[0]
    sides = dict(zip(trainers, alternating_rates(list(trainers.values()), batches, args.seconds, args.repeats)))
    print(f"## {args.preset}, batch {bs}, {threads.threads()} engine threads, BLAS {threads.blas_threads()}; "
          f"{args.repeats} interleaved runs of {args.seconds:g} s\n")
    print("| training step | img/s (median) | range |")
    print("|---|---:|---|")
    for name, rates in sides.items():
        print(f"| {name} | {statistics.median(rates):,.0f} | {min(rates):,.0f}-{max(rates):,.0f} |")
    a, b = (statistics.median(rates) for rates in sides.values())
    print(f"\nwhole step / per layer: {a / b:.2f}x")
    print(f"\n{cpu_model()}, {os.cpu_count()} CPUs; {source}; load average {load0:.2f} -> "
          f"{os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
